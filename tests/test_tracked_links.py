"""Tracked URL buttons: per-message tokens, the redirect, unique clicks, unknown tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.campaigns.tracking import tracked_suffix
from core.counts.recount import recount
from core.models import Campaign, Click
from tests.tokens import bearer
from web import create_app


def tracked_button(destination: str, index: str = "0") -> list[dict]:
    """A campaign's components with a tracked URL button, as drafts store them."""
    return [
        {
            "type": "button",
            "sub_type": "url",
            "index": index,
            "parameters": [{"type": "text", "track": destination}],
        }
    ]


def _link(make, name: str = "Winter sale", destination: str = "https://shop.example/winter?ref=wa"):
    shop = make.shop()
    campaign = make.campaign(shop, name=name, template_components=tracked_button(destination))
    message = make.message(campaign, make.customer(shop), wamid="wamid.T1", status="read")
    make.recount(campaign)
    return shop, campaign, message, tracked_suffix(shop.id, message.id, "0", destination)


def _clicked(make, campaign) -> int:
    with Session(make.engine) as session:
        return session.scalar(select(Campaign.clicked_count).where(Campaign.id == campaign.id))


def test_opening_a_tracked_link_redirects_with_utm_and_counts_one_click(client, make):
    """The redirect goes to the destination with UTM parameters naming the campaign, keeps the
    merchant's own query, and counts the message once however often it is opened."""
    _shop, campaign, _message, token = _link(make)
    first = client.get(f"/r/{token}")
    assert first.status_code == 302
    location = urlsplit(first.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "shop.example", "/winter")
    assert parse_qs(location.query) == {
        "ref": ["wa"],
        "utm_source": ["whatsapp"],
        "utm_medium": ["message"],
        "utm_campaign": ["Winter sale"],
    }
    assert first.headers["Cache-Control"] == "no-store"
    assert client.get(f"/r/{token}").status_code == 302
    assert _clicked(make, campaign) == 1
    with Session(make.engine) as session, session.begin():
        opens = session.scalar(select(func.count()).select_from(Click).where(Click.kind == "url_button"))
        assert opens == 2  # every open kept for the timeline
        assert recount(session, campaign.shop_id, [campaign.id]) == []  # the counter is exact


def test_each_message_gets_its_own_token_and_a_resend_keeps_it(make):
    """Two messages get different unguessable tokens; a retried send of the same message
    carries the same token."""
    shop, campaign, message, token = _link(make)
    other = make.message(campaign, make.customer(shop), wamid="wamid.T2")
    assert tracked_suffix(shop.id, message.id, "0", "https://shop.example/winter") == token
    assert tracked_suffix(shop.id, other.id, "0", "https://shop.example/winter") != token
    assert len(token.rsplit(".", 1)[1]) == 22  # 128 bits of HMAC


def test_unknown_and_malformed_tokens_answer_404(client, make):
    """A forged mac, another message's or shop's ids under this mac, a button without a
    destination, a deleted message and garbage all answer 404 and count nothing."""
    shop, campaign, message, token = _link(make)
    shop_hex, message_hex, index, mac = token.split(".")
    forged = [
        f"{shop_hex}.{message_hex}.{index}.{mac[::-1]}",
        f"{shop_hex}.{int(message_hex, 16) + 1:x}.{index}.{mac}",
        f"{int(shop_hex, 16) + 1:x}.{message_hex}.{index}.{mac}",
        tracked_suffix(shop.id, message.id, "1", "https://elsewhere.example"),  # no such tracked button
        tracked_suffix(shop.id, 10**9, "0", "https://shop.example"),  # no such message
        "nothing",
        "1.1.0.short",
    ]
    for bad in forged:
        assert client.get(f"/r/{bad}").status_code == 404, bad
    assert _clicked(make, campaign) == 0


def test_the_redirect_works_without_redis(service_urls, make):
    """With Redis unreachable the redirect still answers (it touches only the database)."""
    _shop, campaign, _message, token = _link(make)
    app = create_app({"APP_ENV": "test", "TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert app.test_client().get(f"/r/{token}").status_code == 302
    assert _clicked(make, campaign) == 1


def _settled_read_campaign(make, shop, name: str, **fields):
    campaign = make.campaign(shop, name=name, status="SENT", **fields)
    for n in range(25):
        now = datetime.now(UTC)
        make.message(
            campaign,
            make.customer(shop),
            wamid=f"wamid.{name}.{n}",
            status="read",
            delivered_at=now,
            read_at=now,
        )
    make.recount(campaign)
    return campaign


def test_no_false_click_signal_without_a_trackable_button(client, make):
    """A settled campaign with many reads and no clicks raises the click signal only when its
    draft has a tracked button; without one, click-through is "not tracked" (null)."""
    shop = make.shop()
    plain = _settled_read_campaign(make, shop, "plain")
    tracked = _settled_read_campaign(
        make,
        shop,
        "tracked",
        template_components=tracked_button("https://x.example"),
    )
    answers = {c.name: client.get(f"/api/campaigns/{c.id}", headers=bearer()).json for c in (plain, tracked)}
    assert answers["plain"]["click_tracking"] == "not_tracked"
    assert answers["plain"]["rates"]["click_through_rate"] is None
    assert "LOW_CLICK_THROUGH_RATE" not in {s["code"] for s in answers["plain"]["signals"]}
    assert answers["tracked"]["click_tracking"] == "tracked"
    assert answers["tracked"]["rates"]["click_through_rate"] == 0.0
    assert "LOW_CLICK_THROUGH_RATE" in {s["code"] for s in answers["tracked"]["signals"]}
