"""The Meta stand-in's ``pricing_analytics`` field of the WABA node, as Meta's analytics page
describes it (docs/meta-billing.md): what it billed, bucketed in UTC by the granularity asked,
broken down by the dimensions asked, narrowed by the filters; Meta's error for a field it
cannot read and for a token it did not issue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID

DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
START = int(DAY.timestamp())


@pytest.fixture
def billed(meta):
    """Yesterday: 3 marketing messages to Spain, 2 utility to Germany, one free service reply
    to Spain; the day before: 1 marketing message to Spain."""

    def bill(to: str, category: str, at: int, count: int = 1, pricing_type: str = "regular") -> None:
        body = {"phone_number_id": PHONE_NUMBER_ID, "to": to, "category": category, "at": at, "count": count}
        meta.http.post(
            f"{meta.url}/sim/billing/messages", json={**body, "pricing_type": pricing_type}, timeout=10
        )

    bill("+34612345678", "marketing", START + 3600, 3)
    bill("+4915112345678", "utility", START + 7200, 2)
    bill("+34612345679", "service", START + 7300, 1, "free_customer_service")
    bill("+34612345670", "marketing", START - 3600)
    return meta


def _ask(meta, fields: str, token: str = TOKEN):
    return meta.http.get(
        f"{meta.url}/v25.0/{WABA_ID}",
        params={"fields": fields},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def _points(answer) -> list[dict]:
    body = answer.json()
    assert answer.status_code == 200, body
    assert body["id"] == WABA_ID
    return [p for block in body["pricing_analytics"]["data"] for p in block["data_points"]]


def test_daily_points_by_every_dimension(billed):
    """One point per UTC day and dimension value, Meta's words in upper case, volume and cost
    from the published card (Spain's marketing rate 0.0615, Germany's utility 0.0550), the free
    reply in volume at no cost and with no tier."""
    dims = '["COUNTRY","PRICING_CATEGORY","PRICING_TYPE","TIER"]'
    day = f".start({START}).end({START + 86400}).granularity(DAILY)"
    fields = f"currency,pricing_analytics{day}.dimensions({dims})"
    answer = _ask(billed, fields)
    assert answer.json()["currency"] == "USD"
    points = sorted(_points(answer), key=lambda p: (p["country"], p["pricing_category"]))
    assert points == [
        {
            "start": START,
            "end": START + 86400,
            "country": "DE",
            "pricing_category": "UTILITY",
            "pricing_type": "REGULAR",
            "tier": "0:MAX",
            "volume": 2,
            "cost": 0.11,
        },
        {
            "start": START,
            "end": START + 86400,
            "country": "ES",
            "pricing_category": "MARKETING",
            "pricing_type": "REGULAR",
            "tier": "0:MAX",
            "volume": 3,
            "cost": 0.1845,
        },
        {
            "start": START,
            "end": START + 86400,
            "country": "ES",
            "pricing_category": "SERVICE",
            "pricing_type": "FREE_CUSTOMER_SERVICE",
            "volume": 1,
            "cost": 0.0,
        },
    ]


def test_filters_granularity_and_metrics(billed):
    """Filters narrow what is summed; without dimensions each bucket is one total; HALF_HOUR and
    MONTHLY buckets; metric_types leaves out what was not asked."""
    two_days = f".start({START - 86400}).end({START + 86400})"
    spain = _points(_ask(billed, f'pricing_analytics{two_days}.granularity(DAILY).country_codes(["ES"])'))
    assert [(p["start"], p["volume"]) for p in spain] == [(START - 86400, 1), (START, 4)]
    marketing = _points(
        _ask(
            billed,
            f"pricing_analytics{two_days}.granularity(DAILY).pricing_categories([MARKETING]).metric_types([VOLUME])",
        )
    )
    assert marketing == [
        {"start": START - 86400, "end": START, "volume": 1},
        {"start": START, "end": START + 86400, "volume": 3},
    ]
    half_hours = _points(
        _ask(billed, f'pricing_analytics{two_days}.granularity(HALF_HOUR).pricing_types(["REGULAR"])')
    )
    assert [(p["start"], p["end"] - p["start"], p["volume"]) for p in half_hours] == [
        (START - 3600, 1800, 1),
        (START + 3600, 1800, 3),
        (START + 7200, 1800, 2),
    ]
    month = _points(
        _ask(billed, f"pricing_analytics.start({START}).end({START + 86400}).granularity(MONTHLY)")
    )
    first = DAY.replace(day=1)
    assert [(p["start"], p["volume"]) for p in month] == [(int(first.timestamp()), 6)]


def test_a_malformed_field_and_a_foreign_token_are_refused(billed):
    """A field Meta cannot read answers Graph's 100; a token Meta did not issue, 190."""
    for fields in (
        f"pricing_analytics.start({START}).granularity(DAILY)",
        f"pricing_analytics.start({START}).end({START + 60}).granularity(WEEKLY)",
        f"pricing_analytics.start({START}).end({START + 60}).granularity(DAILY).dimensions([COLOUR])",
        f"pricing_analytics.start({START}).end({START + 60}).granularity(DAILY).dimensions([COUNTRY",
    ):
        answer = _ask(billed, fields)
        assert answer.status_code == 400, fields
        assert answer.json()["error"]["code"] == 100, fields
    refused = _ask(
        billed, f"pricing_analytics.start({START}).end({START + 60}).granularity(DAILY)", "not-a-token"
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, 190)


def test_an_account_paid_by_a_credit_line_gets_volume_without_cost(billed):
    """Meta leaves cost out when a partner's credit line pays for the account."""
    accounts = billed.configure()["accounts"]
    accounts[PHONE_NUMBER_ID]["cost_hidden"] = True
    billed.configure(accounts=accounts)
    points = _points(
        _ask(billed, f"pricing_analytics.start({START}).end({START + 86400}).granularity(DAILY)")
    )
    assert points == [{"start": START, "end": START + 86400, "volume": 6}]


def test_metas_own_example_reads_as_its_days():
    """Meta's example answer (its days start at 07:00 UTC, a free point has no tier, categories
    in upper case) reads as one point per day, country, category, type and tier, in our words;
    a start given as a string and a point without cost read too."""
    from datetime import date
    from decimal import Decimal

    from core.whatsapp.pricing_analytics import _points

    analytics = {
        "data": [
            {
                "data_points": [
                    {
                        "start": 1749193200,
                        "end": 1749279600,
                        "country": "IN",
                        "pricing_type": "FREE_CUSTOMER_SERVICE",
                        "pricing_category": "SERVICE",
                        "volume": 2,
                        "cost": 0,
                    },
                    {
                        "start": 1749106800,
                        "end": 1749193200,
                        "country": "IN",
                        "tier": "0:750000",
                        "pricing_type": "REGULAR",
                        "pricing_category": "AUTHENTICATION_INTERNATIONAL",
                        "volume": 2,
                        "cost": 4.6,
                    },
                    {
                        "start": "1748761200",
                        "end": "1748847600",
                        "country": "US",
                        "tier": "0:MAX",
                        "pricing_type": "REGULAR",
                        "pricing_category": "MARKETING_LITE",
                        "volume": 1,
                    },
                ]
            }
        ]
    }
    points = [
        (p.day, p.country, p.pricing_category, p.pricing_type, p.tier, p.volume, p.cost)
        for p in _points(analytics)
    ]
    assert points == [
        (date(2025, 6, 6), "IN", "service", "free_customer_service", "", 2, Decimal(0)),
        (date(2025, 6, 5), "IN", "authentication_international", "regular", "0:750000", 2, Decimal("4.6")),
        (date(2025, 6, 1), "US", "marketing_lite", "regular", "0:MAX", 1, None),
    ]
