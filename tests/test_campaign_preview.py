"""The campaign page shows the message as the customer sees it, and a marketing draft says how
many recipients have United States numbers, which WhatsApp does not reach with marketing."""

from __future__ import annotations

import re

from tests.meta_stand_in import whatsapp_shop
from tests.test_components_dispatch import IMAGE_LINK, LOOKBOOK, _draft
from tests.test_pages import _get, _text
from tests.tokens import bearer


def test_the_page_shows_header_image_personal_body_and_buttons(client, make, meta):
    """Image header by link, the body with the first recipient's name and the code, the
    footer, and both buttons with the URL's suffix filled in."""
    shop = whatsapp_shop(make)
    make.customer(shop, first_name="Ana", phone="+34612000001", phone_e164="+34612000001")
    created = _draft(client, "spring_lookbook", LOOKBOOK)
    assert created.status_code == 201, created.json
    html = _get(client, f"/campaigns/{created.json['id']}").get_data(as_text=True)
    section = re.search(r"<section class=\"message-preview\".*?</section>", html, re.S).group(0)
    assert f'src="{IMAGE_LINK}"' in section
    text = _text(section)
    assert "Hi Ana, the spring collection is here. Use SPRING10 for 10% off." in text
    assert "See the looks → https://shop.example.com/looks/spring" in text and "Not interested" in text
    assert "Reply STOP to opt out" in text


def test_a_marketing_draft_counts_its_us_recipients(client, make, meta):
    """Two US numbers (a Canadian +1 number is not one) are named on the page and in the
    estimate, with the reason; a utility draft with the same audience has no such warning."""
    shop = whatsapp_shop(make)
    for n, phone in enumerate(["+12125550101", "+13105550102", "+14165550103", "+34612000009"]):
        make.customer(shop, first_name=f"C{n}", phone=phone, phone_e164=phone)
    marketing = _draft(client, "weekly_offer", [], name="Offer").json["id"]
    utility = _draft(client, "order_update", [], name="Delays").json["id"]
    page = _text(_get(client, f"/campaigns/{marketing}"))
    assert "2 recipients have United States (+1) numbers" in page and "131049" in page
    estimate = client.post(f"/api/campaigns/{marketing}/estimate", json={}, headers=bearer()).json
    assert estimate["us_recipients"] == 2 and "United States" in estimate["warnings"][0]
    assert "United States" not in _text(_get(client, f"/campaigns/{utility}"))
    assert client.post(f"/api/campaigns/{utility}/estimate", json={}, headers=bearer()).json["warnings"] == []
