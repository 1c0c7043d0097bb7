"""What Meta billed, read by the daily job through the Graph API (the Meta stand-in), kept per
day, country, category, pricing type and tier, and compared with our own cost: agreement opens
no alert; Meta billing more (another app on the number) or dearer raises one naming what
differs, and it closes once the figures agree; re-reading a day replaces it; Meta refusing
the read keeps what was stored and raises its own alert."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import MetaBilledRow, MetaBillingRead, Shop, ShopAlert
from core.rules.alert_codes import AlertCode
from jobs.meta_billing import read_all_meta_billing
from tests.meta_stand_in import PHONE_NUMBER_ID, whatsapp_shop
from tests.tokens import bearer

# "Yesterday" as the daily job sees it: set when each test starts (not at import: a run that
# passes midnight UTC would otherwise expect the day before the job's).
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
NOON = datetime.combine(YESTERDAY, time(12), UTC)


@pytest.fixture(autouse=True)
def _yesterday():
    global YESTERDAY, NOON
    YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
    NOON = datetime.combine(YESTERDAY, time(12), UTC)


ES_MARKETING = Decimal("0.0615")  # Meta's published card, as shipped


def _delivered(make, shop, phones: list[str], at: datetime | None = None) -> None:
    """Messages of ours Meta delivered (and so billed) at ``at`` (yesterday noon by default)."""
    at = at or NOON
    campaign = make.campaign(shop, status="SENT", launched_at=at, dispatch_started_at=at)
    for n, phone in enumerate(phones):
        make.message(
            campaign,
            status="delivered",
            phone=phone,
            wamid=f"wamid.{campaign.id}.{n}",
            sent_at=at,
            delivered_at=at,
            pricing_category="marketing",
            pricing_type="regular",
            pricing_billable=True,
        )


def _meta_bills(meta, to: str, count: int, at: datetime | None = None) -> None:
    at = at or NOON
    body = {"phone_number_id": PHONE_NUMBER_ID, "to": to, "category": "marketing", "at": int(at.timestamp())}
    meta.http.post(
        f"{meta.url}/sim/billing/messages", json={**body, "count": count}, timeout=10
    ).raise_for_status()


def _read(run_jobs) -> None:
    """The daily job: one read per connected shop, run by a real worker."""
    assert read_all_meta_billing()["queued"] == 1
    run_jobs()


def _alerts(make, shop_id: int, code: str) -> list[ShopAlert]:
    with Session(make.engine) as session:
        return list(
            session.scalars(select(ShopAlert).where(ShopAlert.shop_id == shop_id, ShopAlert.code == code))
        )


def _open(alerts: list[ShopAlert]) -> list[ShopAlert]:
    return [a for a in alerts if a.resolved_at is None]


def _rows(make, shop_id: int) -> list[tuple]:
    with Session(make.engine) as session:
        rows = session.scalars(select(MetaBilledRow).where(MetaBilledRow.shop_id == shop_id))
        return sorted(
            (r.day, r.country, r.pricing_category, r.pricing_type, r.tier, r.volume, r.cost) for r in rows
        )


def test_agreement_then_another_sender_then_agreement_again(make, meta, run_jobs, client):
    """Five messages billed by both sides: no alert. Meta then bills two more the app never
    sent: the drift alert names the day, country, category and tier, both figures, and says
    another app may be sending. Once our side counts them too, the alert closes by itself."""
    shop = whatsapp_shop(make)
    spain = [f"+3461200{n:04d}" for n in range(7)]
    _delivered(make, shop, spain[:5])
    _meta_bills(meta, spain[0], 5)
    _read(run_jobs)
    assert _rows(make, shop.id) == [
        (YESTERDAY, "ES", "marketing", "regular", "0:MAX", 5, Decimal("0.307500"))
    ]
    assert _alerts(make, shop.id, AlertCode.META_BILLING_DRIFT) == []
    day = client.get("/api/trends", headers=bearer()).json["meta_billing"]["days"][-1]
    assert day["day"] == YESTERDAY.isoformat() and day["status"] == "read"
    assert day["ours"] == {"messages": 5, "cost": f"{5 * ES_MARKETING}"}
    assert day["meta"] == {"messages": 5, "cost": f"{5 * ES_MARKETING}"}
    assert (day["drift"], day["drifts"]) == ({"cost": 0.0}, False)

    _meta_bills(meta, spain[5], 2)  # another app on the same number
    _read(run_jobs)
    assert _rows(make, shop.id) == [
        (YESTERDAY, "ES", "marketing", "regular", "0:MAX", 7, Decimal("0.430500"))
    ]  # the day replaced, not added to
    [alert] = _open(_alerts(make, shop.id, AlertCode.META_BILLING_DRIFT))
    assert (
        f"{YESTERDAY.isoformat()} ES marketing (Meta's tier 0:MAX): Meta 7 messages, 0.43 USD"
        in alert.details
    )
    assert "ours 5 messages, 0.31 USD" in alert.details
    assert "another app or the WhatsApp Business app" in alert.details
    shown = client.get("/api/alerts", headers=bearer()).json["alerts"]
    assert [a["code"] for a in shown] == [AlertCode.META_BILLING_DRIFT]

    _delivered(make, shop, spain[5:])  # the app hears of the two deliveries after all
    _read(run_jobs)
    assert _open(_alerts(make, shop.id, AlertCode.META_BILLING_DRIFT)) == []
    assert len(_alerts(make, shop.id, AlertCode.META_BILLING_DRIFT)) == 1


def test_meta_billing_dearer_is_drift_of_cost(make, meta, run_jobs):
    """Same count, but Meta charges Spain 0.0100 more per message than the published card (a
    price the app does not know): the cost drifts by 16%, the alert gives both amounts."""
    shop = whatsapp_shop(make)
    _delivered(make, shop, ["+34612000001"] * 4)
    meta.http.put(
        f"{meta.url}/sim/billing", json={"surcharges": {"ES": "0.0100"}}, timeout=10
    ).raise_for_status()
    _meta_bills(meta, "+34612000001", 4)
    _read(run_jobs)
    [alert] = _open(_alerts(make, shop.id, AlertCode.META_BILLING_DRIFT))
    assert "Meta 4 messages, 0.29 USD; ours 4 messages, 0.25 USD" in alert.details
    assert "another app" not in alert.details


def test_a_day_meta_has_not_reported_is_pending_not_drift(make, meta, run_jobs, client):
    """We billed yesterday but Meta reports nothing yet (read within a day of the day's end):
    the day is pending, no alert. Messages of three days ago Meta still reports nothing for
    are drift."""
    shop = whatsapp_shop(make)
    _delivered(make, shop, ["+34612000001"] * 2)
    _read(run_jobs)
    day = client.get("/api/trends", headers=bearer()).json["meta_billing"]["days"][-1]
    assert (day["status"], day["meta"]) == ("pending", {"messages": 0, "cost": "0.0000"})
    assert _alerts(make, shop.id, AlertCode.META_BILLING_DRIFT) == []
    _delivered(make, shop, ["+34612000002"], at=NOON - timedelta(days=2))
    _read(run_jobs)
    [alert] = _open(_alerts(make, shop.id, AlertCode.META_BILLING_DRIFT))
    assert alert.details.startswith(
        f"{(YESTERDAY - timedelta(days=2)).isoformat()} ES marketing (Meta's tier none)"
    )
    assert YESTERDAY.isoformat() not in alert.details


def test_meta_refusing_keeps_what_was_stored(make, meta, run_jobs):
    """An expired token: Meta answers 190; the rows read before stay, one alert says Meta did
    not answer; a later read Meta answers resolves it."""
    shop = whatsapp_shop(make)
    _delivered(make, shop, ["+34612000001"])
    _meta_bills(meta, "+34612000001", 1)
    _read(run_jobs)
    stored = _rows(make, shop.id)
    assert len(stored) == 1
    with Session(make.engine) as session, session.begin():
        token = session.scalar(select(Shop.meta_access_token_ciphertext).where(Shop.id == shop.id))
        session.execute(
            update(Shop)
            .where(Shop.id == shop.id)
            .values(meta_access_token_ciphertext=encrypt_token("expired"))
        )
    _meta_bills(meta, "+34612000001", 3)
    _read(run_jobs)
    assert _rows(make, shop.id) == stored
    [alert] = _open(_alerts(make, shop.id, AlertCode.META_BILLING_UNREAD))
    assert "code 190" in alert.details
    with Session(make.engine) as session, session.begin():
        session.execute(update(Shop).where(Shop.id == shop.id).values(meta_access_token_ciphertext=token))
    _read(run_jobs)
    assert _open(_alerts(make, shop.id, AlertCode.META_BILLING_UNREAD)) == []
    assert _rows(make, shop.id)[0][5] == 4
    with Session(make.engine) as session:
        read_days = set(
            session.scalars(select(MetaBillingRead.day).where(MetaBillingRead.shop_id == shop.id))
        )
    assert read_days == {YESTERDAY - timedelta(days=n) for n in range(4)}


def test_an_account_billed_in_another_currency_or_on_a_credit_line_compares_counts(make, meta, run_jobs):
    """Meta bills the account in EUR while our rates are USD: the costs are not compared, the
    message counts are, and the alert says why only counts were compared. On a partner's credit
    line Meta gives no cost at all: the counts still agree, and nothing is raised."""
    shop = whatsapp_shop(make)
    _delivered(make, shop, ["+34612000001"] * 3)
    accounts = meta.configure()["accounts"]
    accounts[PHONE_NUMBER_ID]["currency"] = "EUR"
    meta.configure(accounts=accounts)
    meta.http.put(
        f"{meta.url}/sim/billing", json={"surcharges": {"ES": "0.5"}}, timeout=10
    ).raise_for_status()
    _meta_bills(meta, "+34612000001", 3)
    _read(run_jobs)
    assert _alerts(make, shop.id, AlertCode.META_BILLING_DRIFT) == []
    _meta_bills(meta, "+34612000001", 1)
    _read(run_jobs)
    [alert] = _open(_alerts(make, shop.id, AlertCode.META_BILLING_DRIFT))
    assert "Meta 4 messages, 2.25 EUR; ours 3 messages, 0.18 USD" in alert.details
    assert (
        "Meta bills this account in EUR, our rates are in USD: only message counts are compared."
        in alert.details
    )

    accounts[PHONE_NUMBER_ID].update(currency="USD", cost_hidden=True)
    meta.configure(accounts=accounts)
    _delivered(make, shop, ["+34612000001"])
    _read(run_jobs)
    assert _open(_alerts(make, shop.id, AlertCode.META_BILLING_DRIFT)) == []
    assert {row[6] for row in _rows(make, shop.id)} == {None}


def test_two_percent_is_the_line():
    """Within 2% of Meta's figure is agreement; beyond it, drift; against a zero, any difference."""
    from core.reconcile.drift import KeyFigures

    def figures(ours: int, meta: int) -> KeyFigures:
        return KeyFigures(YESTERDAY, "ES", "marketing", ours, Decimal(ours), meta, Decimal(meta))

    assert not figures(98, 100).volume_drifts() and not figures(102, 100).volume_drifts()
    assert figures(97, 100).volume_drifts() and figures(103, 100).volume_drifts()
    assert figures(1, 0).volume_drifts() and not figures(0, 0).volume_drifts()
    assert figures(103, 100).cost_drifts(comparable=True) and not figures(103, 100).cost_drifts(
        comparable=False
    )
