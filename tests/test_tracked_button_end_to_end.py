"""A tracked URL button end to end: a draft naming the destination, dispatch through real RQ
workers to the Meta stand-in (which checks each send against the template's components), one
token per message in the sends, the redirect, unique clicks per message, 404 for the rest."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Click
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer

TRACKED_TEMPLATE = {
    "name": "tracked_sale",
    "language": "en",
    "status": "APPROVED",
    "category": "MARKETING",
    "components": [
        {"type": "BODY", "text": "The winter sale is on."},
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "URL",
                    "text": "Shop the sale",
                    "url": "https://app.example/r/{{1}}",
                    "example": ["x"],
                }
            ],
        },
    ],
}
DESTINATION = "https://shop.example/collections/winter"


def _sent_tokens(meta, expected: int, run_jobs) -> list[str]:
    """Run the workers until the stand-in accepted every send; answer each send's button suffix."""
    deadline = time.monotonic() + 60
    while True:
        run_jobs()
        fates = meta.truth()["messages"].values()
        if len(fates) >= expected:
            return [f["components"]["button[0]"]["parameters"][0]["text"] for f in fates]
        assert time.monotonic() < deadline, meta.stats()
        time.sleep(0.2)


def test_a_tracked_button_counts_unique_clicks_through_the_stand_in(client, make, meta, run_jobs):
    """Every send carries its own token; opening a link redirects with the campaign's UTM
    parameters; opening one link twice counts one click; unknown tokens answer 404."""
    shop = whatsapp_shop(make)
    for n in range(4):
        make.customer(shop, phone=f"+3460000{n:04d}", phone_e164=f"+3460000{n:04d}")
    templates = meta.http.get(f"{meta.url}/sim/config").json()["templates"]
    meta.configure(templates=[*templates, TRACKED_TEMPLATE])
    created = client.post(
        "/api/campaigns",
        json={
            "name": "Winter sale",
            "template": {"name": "tracked_sale", "language": "en"},
            "components": [
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"track": DESTINATION}]}
            ],
        },
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202
    tokens = _sent_tokens(meta, 4, run_jobs)
    assert len(set(tokens)) == 4  # one token per message

    first = client.get(f"/r/{tokens[0]}")
    assert first.status_code == 302
    location = urlsplit(first.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == DESTINATION
    assert parse_qs(location.query)["utm_campaign"] == ["Winter sale"]
    assert client.get(f"/r/{tokens[0]}").status_code == 302  # the same customer again
    assert client.get(f"/r/{tokens[1]}").status_code == 302
    assert client.get(f"/r/{tokens[1][:-2]}xx").status_code == 404

    campaign = client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json
    assert campaign["metrics"]["clicked"] == 2
    assert campaign["click_tracking"] == "tracked"
    with Session(make.engine) as session:
        assert session.scalar(select(func.count()).select_from(Click)) == 3  # every open kept
