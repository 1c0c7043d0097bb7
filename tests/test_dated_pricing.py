"""Cost priced by the card in force when each message was sent (core/outcomes/pricing.py): a
campaign straddling a price change, delivered through Meta's webhooks and the drain; the
currency Meta bills the account in picking the card, and one the app has no card for said on
the page; utility volume tiers crossing a threshold within a month and starting again the next;
the merchant's override winning and labelled; and the daily figures the reconciliation reads."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from core.models import WhatsAppConnection
from core.outcomes.billed_days import billed_by_day
from core.outcomes.pricing import band_cost, pricing_for
from tests import meta as webhooks
from tests.browser import admin_query
from tests.meta_openapi import validate_meta_schema
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID, whatsapp_shop
from tests.tokens import bearer, session_token

SHOP = "demo.myshopify.com"
PRICED = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"}


def _page(client, path: str) -> str:
    html = client.get(f"{path}?" + admin_query(SHOP, session_token(SHOP))).get_data(as_text=True)
    return re.sub(r"\s+", " ", html)


def _campaign(client, campaign_id: int) -> dict:
    return client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json


def _delivered(make, shop, campaign, phone: str, sent: datetime, category: str = "marketing") -> None:
    """A message sent at ``sent`` and delivered, billed as ``category``."""
    make.message(
        campaign,
        make.customer(shop),
        wamid=f"w.{phone}.{sent.timestamp()}",
        status="delivered",
        phone=phone,
        sent_at=sent,
        delivered_at=sent + timedelta(seconds=5),
        pricing_category=category,
        pricing_billable=True,
        pricing_type="regular",
    )


def test_a_campaign_straddling_a_price_change_is_priced_by_the_card_of_each_send(client, make, rate_cards):
    """Two messages sent on the old card's last day (one delivered after midnight) and one on
    the new card's first day, delivered through Meta's webhooks and the drain: each is priced by
    the card in force when it was sent, the page names both cards, the kept counts equal the
    recount, and the day's figures are what the reconciliation reads."""
    rate_cards(("2026-03-01", "USD", {"Spain": "0.0600"}), ("2026-04-01", "USD", {"Spain": "0.0800"}))
    shop = whatsapp_shop(make)
    campaign = make.campaign(shop, "Spring", status="SENT", template_category="MARKETING")
    for n in range(3):
        make.message(
            campaign, make.customer(shop), wamid=f"w.{n}", status="accepted", phone=f"+3461234567{n}"
        )
    make.recount(campaign)
    last_minute = int(datetime(2026, 3, 31, 23, 59, 50, tzinfo=UTC).timestamp())
    statuses = [
        webhooks.status("w.0", "sent", last_minute, pricing=PRICED),
        webhooks.status("w.0", "delivered", last_minute + 20, pricing=PRICED),  # on April 1st
        webhooks.status("w.1", "delivered", last_minute + 3, pricing=PRICED),
        webhooks.status("w.1", "sent", last_minute + 1, pricing=PRICED),  # came after its delivery
        webhooks.status("w.2", "sent", last_minute + 30, pricing=PRICED),
        webhooks.status("w.2", "delivered", last_minute + 31, pricing=PRICED),
    ]
    assert (
        webhooks.post(client, webhooks.statuses_body(shop.meta_phone_number_id, *statuses)).status_code == 200
    )
    webhooks.drain()

    answer = _campaign(client, campaign.id)
    assert answer["billed_messages"] == 3
    assert answer["cost"] == {"amount": "0.2000", "currency": "USD"}  # 2 × 0.06 + 1 × 0.08
    assert answer["rate_card"]["cards"] == ["2026-03-01", "2026-04-01"]
    assert answer["rate_card"]["override"] is False
    assert webhooks.drift(make.engine, campaign) == []
    assert "the cards effective 2026-03-01 and 2026-04-01" in _page(client, f"/campaigns/{campaign.id}")
    with Session(make.engine) as session:
        days = billed_by_day(session, shop.id, date(2026, 3, 1), date(2026, 4, 30))
    assert days == {
        (date(2026, 3, 31), "ES", "marketing"): (2, Decimal("0.1200")),
        (date(2026, 4, 1), "ES", "marketing"): (1, Decimal("0.0800")),
    }


def test_the_currency_meta_bills_the_account_in_picks_the_card(client, meta, make, rate_cards):
    """Connecting reads the account's currency from Meta (EUR here) and prices by the EUR card;
    when Meta bills in a currency the app has no card for, cost is not shown and the page says
    why rather than price in another currency."""
    rate_cards(("2026-01-01", "USD", {"Spain": "0.0600"}), ("2026-01-01", "EUR", {"Spain": "0.0550"}))
    accounts = meta.configure()["accounts"]
    accounts[PHONE_NUMBER_ID]["currency"] = "EUR"
    meta.configure(accounts=accounts)
    shop = make.shop(SHOP, meta_phone_number_id=None)
    connect = {"waba_id": WABA_ID, "phone_number_id": PHONE_NUMBER_ID, "access_token": TOKEN}
    assert client.put("/api/whatsapp", json=connect, headers=bearer()).status_code == 200
    with Session(make.engine) as session:
        assert session.get(WhatsAppConnection, shop.id).currency == "EUR"
    campaign = make.campaign(shop, "Rebajas", status="SENT")
    for n in range(2):
        _delivered(make, shop, campaign, f"+3461234560{n}", datetime.now(UTC) - timedelta(hours=1))
    make.recount(campaign)
    answer = _campaign(client, campaign.id)
    assert answer["cost"] == {"amount": "0.1100", "currency": "EUR"}
    assert answer["rate_card"]["account_currency"] == "EUR"

    accounts[PHONE_NUMBER_ID]["currency"] = "JPY"
    meta.configure(accounts=accounts)
    assert client.post("/api/whatsapp/refresh", headers=bearer()).status_code == 200
    answer = _campaign(client, campaign.id)
    assert answer["cost"] is None and answer["unpriced_messages"] == 2
    assert "in JPY and the app has no JPY rate card" in answer["rate_card"]["notes"][0]
    page = _page(client, f"/campaigns/{campaign.id}")
    assert "Meta bills this WhatsApp account in JPY and the app has no JPY rate card" in page
    assert "in JPY and the app has no JPY rate card" in _page(client, "/settings")


def test_the_stand_in_answers_the_accounts_currency_as_meta_does(meta):
    """GET /{waba-id}?fields=currency answers the account's currency, USD unless configured,
    in the shape of Meta's OpenAPI WhatsAppBusinessAccount."""
    url, auth = f"{meta.url}/v25.0/{WABA_ID}", {"Authorization": f"Bearer {TOKEN}"}
    answer = meta.http.get(url, params={"fields": "currency"}, headers=auth).json()
    assert answer == {"id": WABA_ID, "currency": "USD"}
    whole = meta.http.get(url, params={"fields": "id,name,currency,timezone_id"}, headers=auth).json()
    validate_meta_schema(whole, "WhatsAppBusinessAccount")
    assert set(meta.http.get(url, headers=auth).json()) == {"id", "name"}


def test_utility_tiers_cross_a_threshold_within_a_month_and_start_again_the_next(client, make, rate_cards):
    """Spain's utility bands: the month's first three messages at 0.0200, from the fourth
    0.0100. Two on May 2nd (one campaign), three on May 3rd (another: one at the first band, two
    at the second), one on June 1st: the month starts again at the first band."""
    bands = {"utility": {"Spain": [{"from": 1, "rate": "0.0200"}, {"from": 4, "rate": "0.0100"}]}}
    rate_cards(("2026-01-01", "USD", {"Spain": "0.0200"}, bands))
    shop = make.shop(SHOP)
    costs = []
    for name, day, count in (
        ("Receipts", date(2026, 5, 2), 2),
        ("Shipping", date(2026, 5, 3), 3),
        ("June", date(2026, 6, 1), 1),
    ):
        campaign = make.campaign(shop, name, status="SENT", template_category="UTILITY")
        for n in range(count):
            sent = datetime(day.year, day.month, day.day, 10, tzinfo=UTC) + timedelta(minutes=n)
            _delivered(make, shop, campaign, f"+346123450{n}{day.day}", sent, category="utility")
        make.recount(campaign)
        costs.append(campaign.id)
    assert [_campaign(client, c)["cost"]["amount"] for c in costs] == ["0.0400", "0.0400", "0.0200"]


def test_a_day_shared_by_two_campaigns_splits_the_band_it_crosses():
    """Four messages of a day after two of the month, with bands changing at the fourth: one at
    the first band and three at the second."""
    bands = ((1, Decimal("0.02")), (4, Decimal("0.01")))
    assert band_cost(bands, 2, 4) == Decimal("0.05")
    assert band_cost(bands, 0, 3) == Decimal("0.06")
    assert band_cost(bands, 10, 1) == Decimal("0.01")


def test_an_override_wins_on_every_day_and_is_labelled_as_one(client, make):
    """The merchant's own rates price every message whatever the day, and the page and the API
    say the cost comes from the override."""
    shop = make.shop(SHOP, rate_card={"currency": "EUR", "rates": {"*": {"marketing": "0.0500"}}})
    campaign = make.campaign(shop, "Own rates", status="SENT")
    _delivered(make, shop, campaign, "+34612345678", datetime(2025, 8, 1, tzinfo=UTC))
    _delivered(make, shop, campaign, "+34612345679", datetime.now(UTC) - timedelta(hours=1))
    make.recount(campaign)
    answer = _campaign(client, campaign.id)
    assert answer["cost"] == {"amount": "0.1000", "currency": "EUR"}
    assert answer["rate_card"]["override"] is True and answer["rate_card"]["effective"] == "merchant"
    assert "Rates: your own override, set in Settings." in _page(client, f"/campaigns/{campaign.id}")


def test_a_card_is_in_force_from_its_date_and_the_first_before_it(rate_cards):
    """The newest card effective by the day prices it; days before the first card take the
    first; an unknown account currency is priced in USD and says so."""
    rate_cards(("2026-03-01", "USD", {"Spain": "0.06"}), ("2026-04-01", "USD", {"Spain": "0.08"}))
    pricing = pricing_for(None, None)
    assert pricing.currency == "USD" and pricing.waba_currency is None
    assert pricing.card_on(date(2026, 3, 31)).effective == "2026-03-01"
    assert pricing.card_on(date(2026, 4, 1)).effective == "2026-04-01"
    assert pricing.card_on(date(2025, 1, 1)).effective == "2026-03-01"
    assert pricing_for(None, "JPY").cards == ()
