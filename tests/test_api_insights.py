"""The campaign detail's live-polling support, its audience gap, timings and the shop's trends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.models import Message
from tests.scenarios import T0, mixed_campaign
from tests.tokens import bearer


@pytest.fixture
def scenario(make):
    return mixed_campaign(make, make.shop("demo.myshopify.com", timezone="Europe/Madrid"), status="PENDING")


def test_polling_gets_304_until_something_changes(client, make, scenario):
    """The detail carries an ETag; If-None-Match answers an empty 304 until a count moves."""
    path = f"/api/campaigns/{scenario.campaign.id}"
    first = client.get(path, headers=bearer())
    etag = first.headers["ETag"]
    again = client.get(path, headers=bearer() | {"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Message)
            .where(Message.id == scenario.messages["inflight"].id)
            .values(status="delivered", delivered_at=T0 + timedelta(minutes=2))
        )
    make.recount(scenario.campaign)
    changed = client.get(path, headers=bearer() | {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["metrics"]["delivered"] == 6


def test_detail_explains_the_audience_gap_and_counts_calling_code_customers(client, scenario):
    """14 estimated, 9 sent: 2 never queued, 3 failed before reaching Meta; 2 customers lack a code."""
    body = client.get(f"/api/campaigns/{scenario.campaign.id}", headers=bearer()).get_json()
    assert body["metrics"] == {
        "messages": 12,
        "sent": 9,
        "delivered": 5,
        "read": 3,
        "failed": 6,
        "clicked": 0,
        "orders": 0,
    }
    assert body["audience_gap"] == {
        "estimated": 14,
        "gap": 5,
        "not_created": 2,
        "held_out": 0,
        "consent_changed": 0,
        "failed_at_submission": 3,
        "waiting": 0,
    }
    assert body["missing_calling_code"] == {"customers": 2, "fixed": 0}
    codes = {e["code"]: (e["count"], e["at_submission"]) for e in body["errors"]}
    assert codes["131026"] == (2, 0) and codes["CUSTOMER_IS_MISSING_CALLING_CODE"] == (2, 2)


def test_timings_give_median_p90_and_histogram_from_sent_time(client, scenario):
    """Deliveries 20, 21, 22, 40, 40 s after sending; reads 30-32 min after; bands count them."""
    body = client.get(f"/api/campaigns/{scenario.campaign.id}/timings", headers=bearer()).get_json()
    deliver, read = body["deliver"], body["read"]
    assert deliver["count"] == 5 and deliver["median_s"] == 22.0 and deliver["p90_s"] == 40.0
    assert {b["label"]: b["count"] for b in deliver["histogram"]}["10 s – 1 min"] == 5
    assert read["count"] == 3 and read["median_s"] == 1860.0
    assert {b["label"]: b["count"] for b in read["histogram"]}["15 min – 1 h"] == 3
    assert sum(b["count"] for b in read["histogram"]) == 3


def test_trends_pool_rates_by_send_day_and_type_and_give_type_medians(client, make):
    """Two settled promotional campaigns on one day pool their counts; the median is per campaign."""
    shop = make.shop("demo.myshopify.com", timezone="Europe/Madrid")
    for name, delivered in (("A", 8), ("B", 2)):
        campaign = make.campaign(shop, name, status="SENT", launched_at=T0, dispatch_started_at=T0)
        for n in range(10):
            done = n < delivered
            make.message(
                campaign,
                make.customer(shop),
                wamid=f"w{name}{n}",
                status="delivered" if done else "sent",
                sent_at=T0,
                delivered_at=T0 if done else None,
            )
        make.recount(campaign)
    make.campaign(shop, "Still sending", status="PENDING", launched_at=T0)  # not in trends
    query = {"from": "2026-10-01", "to": "2026-11-30"}
    body = client.get("/api/trends", query_string=query, headers=bearer()).get_json()
    assert body["series"]["bucket"] == "day"
    assert body["series"]["points"] == [
        {
            "date": "2026-11-01",
            "type": "PROMOTIONAL",
            "campaigns": 2,
            "sent": 20,
            "delivered": 10,
            "read": 0,
            "delivery_rate": 0.5,
            "read_rate": 0.0,
        }
    ]
    assert body["by_type"]["PROMOTIONAL"]["pooled"]["delivery_rate"] == 0.5
    assert body["type_medians"]["PROMOTIONAL"]["delivery_rate"] == 0.5
    assert body["type_medians"]["CATALOG"] == {
        "campaigns": 0,
        **dict.fromkeys(["delivery_rate", "read_rate", "click_through_rate", "failure_rate"]),
    }
    assert body["previous_period"] == {"from": "2026-08-01", "to": "2026-09-30"}


@pytest.mark.parametrize("query", ["from=2026-13-01", "from=2026-11-02&to=2026-11-01", "from=2020-01-01"])
def test_bad_trend_periods_are_400(client, make, query):
    """Malformed, reversed or overlong periods are refused with a message."""
    make.shop("demo.myshopify.com")
    response = client.get(
        f"/api/trends?{query}&to=2026-11-01" if "to=" not in query else f"/api/trends?{query}",
        headers=bearer(),
    )
    assert response.status_code == 400 and response.get_json()["message"]
