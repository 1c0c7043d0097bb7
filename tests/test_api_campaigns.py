"""GET /api/campaigns and /api/campaigns/<id>: contract shapes and exact metrics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.tokens import bearer

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def shop(make):
    return make.shop("demo.myshopify.com")


def _funnel_campaign(make, shop):
    """Ten messages: 2 read, 3 delivered, 1 sent, 2 failed at Meta, 1 expired, 1 failed before send."""
    campaign = make.campaign(shop, "Funnel", estimated_audience=12)
    states = ["read"] * 2 + ["delivered"] * 3 + ["sent"] + ["failed"] * 2 + ["expired"]
    for n, status in enumerate(states):
        fields = {"wamid": f"wamid.{n}", "status": status, "sent_at": T}
        if status in ("delivered", "read"):
            fields["delivered_at"] = T
        if status == "read":
            fields["read_at"] = T
        if status == "failed":
            fields["error_code"] = "131026"
        if status == "expired":
            fields["error_code"] = "MESSAGE_EXPIRED"
        make.message(campaign, make.customer(shop), **fields)
    make.message(
        campaign, make.customer(shop), status="failed", error_code="CUSTOMER_IS_MISSING_CALLING_CODE"
    )
    make.recount(campaign)
    return campaign


@pytest.mark.smoke
def test_campaign_metrics_rates_and_errors_follow_the_definitions(client, make, shop):
    """Sent = has a wamid; delivered counts reads; failed counts expiries; rates divide as defined."""
    campaign = _funnel_campaign(make, shop)
    body = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).get_json()
    assert body["id"] == campaign.id and body["name"] == "Funnel"
    assert body["type"] == "PROMOTIONAL" and body["status"] == "PENDING" and body["estimated_audience"] == 12
    assert body["metrics"] == {
        "messages": 10,
        "sent": 9,
        "delivered": 5,
        "read": 2,
        "failed": 4,
        "clicked": 0,
        "orders": 0,
    }
    assert body["rates"] == {
        "delivery_rate": round(5 / 9, 4),
        "read_rate": 0.4,
        "click_through_rate": None,  # no tracked button and no quick-reply click: not tracked
        "failure_rate": 0.4,
    }
    assert body["click_tracking"] == "not_tracked"
    errors = {e["code"]: (e["category"], e["count"]) for e in body["errors"]}
    assert errors == {
        "131026": ("data_quality", 2),
        "MESSAGE_EXPIRED": ("delivery", 1),
        "CUSTOMER_IS_MISSING_CALLING_CODE": ("data_quality", 1),
    }
    assert all(e["remedy"] for e in body["errors"])
    assert {s["code"] for s in body["signals"]} == {"PHONE_DATA_FAILURES"}


def test_rates_are_null_when_nothing_is_there_to_divide(client, make, shop):
    """A campaign with no messages has null rates, not zeros or errors."""
    campaign = make.campaign(shop, "Empty", status="DRAFT")
    body = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).get_json()
    assert set(body["rates"].values()) == {None}
    assert body["errors"] == [] and body["signals"] == []


def test_settled_campaign_with_poor_delivery_raises_the_signal(client, make, shop):
    """Rate signals appear once the campaign has settled and the sample is large enough."""
    campaign = make.campaign(shop, "Poor", status="PARTIALLY_SENT")
    for n in range(30):
        delivered = n < 12
        make.message(
            campaign,
            make.customer(shop),
            wamid=f"w{n}",
            status="delivered" if delivered else "failed",
            sent_at=T,
            delivered_at=T if delivered else None,
            error_code=None if delivered else "131049",
        )
    make.recount(campaign)
    body = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).get_json()
    low = [s for s in body["signals"] if s["code"] == "LOW_DELIVERY_RATE"]
    assert low and low[0]["value"] == 0.4 and low[0]["threshold"] == 0.8 and low[0]["message"]


def test_the_list_pages_by_key_without_gaps_or_repeats(client, make, shop):
    """Following next_cursor walks every campaign exactly once, newest first."""
    made = [make.campaign(shop, f"C{n:02d}") for n in range(7)]
    seen, cursor = [], None
    while True:
        query = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/campaigns", query_string=query, headers=bearer()).get_json()
        seen += [c["id"] for c in body["campaigns"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [c.id for c in sorted(made, key=lambda c: c.created_at, reverse=True)]


def test_the_list_filters_by_status_and_type(client, make, shop):
    """Filters narrow the list; an unknown value is a clear 400."""
    make.campaign(shop, "Live", status="PENDING", type="PROMOTIONAL")
    make.campaign(shop, "Done", status="SENT", type="INFORMATIONAL")

    def names(q):
        return [
            c["name"]
            for c in client.get(
                "/api/campaigns",
                query_string=q,
                headers=bearer(),
            ).get_json()["campaigns"]
        ]

    assert names({"status": "SENT"}) == ["Done"]
    assert names({"type": "PROMOTIONAL"}) == ["Live"]
    response = client.get("/api/campaigns?status=LOST", headers=bearer())
    assert response.status_code == 400 and "status must be one of" in response.get_json()["message"]


@pytest.mark.parametrize("query", ["limit=0", "limit=500", "limit=x", "cursor=%%%", "cursor=WzFd"])
def test_bad_paging_parameters_are_400(client, shop, query):
    """Out-of-range limits and forged cursors are refused with a message, never a 500."""
    response = client.get(f"/api/campaigns?{query}", headers=bearer())
    assert response.status_code == 400
    assert response.get_json()["message"]
