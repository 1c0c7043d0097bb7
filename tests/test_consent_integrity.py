"""WhatsApp consent stays true across its three sources (Shopify, a stop inside WhatsApp, a
resume): a stop reaches every customer record with the number, consent keeps where it came from,
a resume never overrides Shopify's own unsubscribe, a write-back Shopify refuses stays visible
and is tried again, an undated import never undoes a stop, the consent webhook's time is read
under both of Shopify's names, and a consent webhook we cannot read raises a shop alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.models import Customer, InboxEvent, ShopAlert
from jobs.customer_import import sync_customers, write_back_consents
from jobs.shopify import drain_shopify_inbox
from tests import meta, shopify_webhooks
from tests.shopify_stand_in import installed_shop
from tests.shopify_webhooks import WHATSAPP_CONSENT, whatsapp_consent_body
from tests.tokens import bearer

SHOP = "demo.myshopify.com"
PHONE_ID = "1234567890"  # the Meta phone number id the shop's webhooks arrive for
NUMBER = "+34612345678"
JAN, FEB, MAR = "2026-01-15T10:00:00Z", "2026-02-15T10:00:00Z", "2026-03-15T10:00:00Z"
MAR_SECONDS = int(datetime(2026, 3, 15, 10, tzinfo=UTC).timestamp())


def _preference(
    value: str, seconds: int, *, wa_id: str | None = NUMBER[1:], user_id: str | None = None
) -> dict:
    item = {"detail": "", "category": "marketing_messages", "value": value, "timestamp": seconds}
    item |= {"wa_id": wa_id} if wa_id else {}
    item |= {"user_id": user_id} if user_id else {}
    return meta.envelope([meta.change(PHONE_ID, field="user_preferences", user_preferences=[item])])


def _meta(client, body: dict) -> None:
    assert meta.post(client, body).status_code == 200
    meta.drain()


def _shopify(client, topic: str, body: dict) -> str:
    assert shopify_webhooks.post(client, topic, body).status_code == 200
    drain_shopify_inbox()
    return _outcomes()[-1]


def _outcomes() -> list[str]:
    from core.db import session_scope

    with session_scope() as session:
        return list(
            session.scalars(
                select(InboxEvent.outcome).where(InboxEvent.source == "shopify").order_by(InboxEvent.id)
            )
        )


def _customers(make, shop) -> dict[int, Customer]:
    with Session(make.engine) as session:
        rows = session.scalars(select(Customer).where(Customer.shop_id == shop.id)).all()
        return {c.shopify_customer_id: c for c in rows}


def _block(client, shopify_id: int) -> dict:
    response = client.get(f"/api/customers/{shopify_id}/whatsapp", headers=bearer(SHOP))
    assert response.status_code == 200
    return response.get_json()["customer"]["consent"]


def _alerts(make, shop) -> list[ShopAlert]:
    with Session(make.engine) as session:
        return list(
            session.scalars(select(ShopAlert).where(ShopAlert.shop_id == shop.id).order_by(ShopAlert.id))
        )


@pytest.fixture
def shop(make):
    return make.shop(SHOP, meta_phone_number_id=PHONE_ID)


def test_a_stop_reaches_every_customer_with_the_number_however_meta_reports_it(client, make, shop):
    """A 131050 failure of a message to Ana, and a stop naming only the business-scoped user id
    of a message to Bo, unsubscribe every customer record of the shop with that number (Ana's
    and Bo's duplicates too), each marked for writing back; another shop's twin is untouched."""
    ana, ana_twin = (
        make.customer(shop, shopify_customer_id=i, phone=NUMBER, phone_e164=NUMBER) for i in (1, 2)
    )
    bo_number = "+34612000009"
    bo, bo_twin = (
        make.customer(shop, shopify_customer_id=i, phone=bo_number, phone_e164=bo_number) for i in (3, 4)
    )
    elsewhere = make.shop("other.myshopify.com", meta_phone_number_id="999")
    stranger = make.customer(elsewhere, shopify_customer_id=1, phone=NUMBER, phone_e164=NUMBER)
    campaign = make.campaign(shop, "Spring")
    make.message(campaign, ana, wamid="wamid.ana", status="accepted", phone=NUMBER)
    make.message(
        campaign, bo, wamid="wamid.bo", status="delivered", phone=bo_number, recipient_user_id="US.bo"
    )
    make.recount(campaign)
    _meta(client, meta.statuses_body(PHONE_ID, meta.failed("wamid.ana", MAR_SECONDS, 131050)))
    _meta(client, _preference("stop", MAR_SECONDS, wa_id=None, user_id="US.bo"))
    ours = _customers(make, shop)
    assert {
        i: (c.consent, c.consent_source, c.consent_writeback_at is not None) for i, c in ours.items()
    } == {
        i: ("UNSUBSCRIBED", "whatsapp_stop", True)
        for i in (
            ana.shopify_customer_id,
            ana_twin.shopify_customer_id,
            bo.shopify_customer_id,
            bo_twin.shopify_customer_id,
        )
    }
    assert _customers(make, elsewhere)[stranger.shopify_customer_id].consent == "SUBSCRIBED"


def test_consent_keeps_where_it_came_from(client, make, shop):
    """Shopify's consent reads as from Shopify, a stop inside WhatsApp as a WhatsApp stop, and a
    resume after it as a resume, in the customer-page block's data."""
    make.customer(shop, shopify_customer_id=1, phone=NUMBER, phone_e164=NUMBER, consent="UNKNOWN")
    assert _shopify(client, WHATSAPP_CONSENT, whatsapp_consent_body(1, "subscribed", FEB)) == "applied"
    assert _block(client, 1)["source"] == "shopify"
    _meta(client, _preference("stop", MAR_SECONDS))
    assert (_block(client, 1)["state"], _block(client, 1)["source"]) == ("UNSUBSCRIBED", "whatsapp_stop")
    _meta(client, _preference("resume", MAR_SECONDS + 60))
    assert (_block(client, 1)["state"], _block(client, 1)["source"]) == ("SUBSCRIBED", "whatsapp_resume")


def test_a_resume_never_resubscribes_a_customer_who_unsubscribed_in_shopify(client, make, shop):
    """Shopify says Ana unsubscribed (February); a later resume inside WhatsApp leaves her
    unsubscribed, as Shopify has her; a customer who stopped inside WhatsApp still comes back."""
    make.customer(shop, shopify_customer_id=1, phone=NUMBER, phone_e164=NUMBER, consent="SUBSCRIBED")
    _shopify(client, WHATSAPP_CONSENT, whatsapp_consent_body(1, "unsubscribed", FEB))
    _meta(client, _preference("resume", MAR_SECONDS))
    assert (_block(client, 1)["state"], _block(client, 1)["source"]) == ("UNSUBSCRIBED", "shopify")


def test_the_consent_webhooks_time_is_read_under_both_of_shopifys_names(client, make, shop):
    """A body dating its consent as ``consent_updated_at`` (the name Shopify's other consent
    topics use) is dated by it: its time is kept, and an older one after it is stale."""
    make.customer(shop, shopify_customer_id=1, phone=NUMBER, phone_e164=NUMBER, consent="UNKNOWN")

    def dated_the_other_way(state: str, at: str) -> dict:
        body = whatsapp_consent_body(1, state, None)
        body["whats_app_marketing_consent"] |= {"consent_updated_at": at}
        del body["whats_app_marketing_consent"]["updated_at"]
        return body

    assert _shopify(client, WHATSAPP_CONSENT, dated_the_other_way("subscribed", FEB)) == "applied"
    assert _block(client, 1) == {
        "state": "SUBSCRIBED",
        "updated_at": "2026-02-15T10:00:00+00:00",
        "source": "shopify",
        "write_back": None,
    }
    assert _shopify(client, WHATSAPP_CONSENT, dated_the_other_way("unsubscribed", JAN)) == "stale"
    assert _block(client, 1)["state"] == "SUBSCRIBED"


@pytest.mark.parametrize(
    ("topic", "body", "why"),
    [
        (WHATSAPP_CONSENT, {"customer_id": 1, "phone_number": NUMBER}, "no whats_app_marketing_consent"),
        (WHATSAPP_CONSENT, whatsapp_consent_body(1, "opted_in", FEB), "state 'opted_in'"),
        (
            WHATSAPP_CONSENT,
            whatsapp_consent_body(1, "subscribed", FEB) | {"customer_id": None},
            "customer id",
        ),
        (
            shopify_webhooks.SMS_CONSENT,
            {"id": 1, "phone": NUMBER, "sms_marketing_consent": None},
            "no sms_marketing_consent",
        ),
    ],
)
def test_a_consent_webhook_we_cannot_read_raises_a_shop_alert(client, make, shop, topic, body, why):
    """A consent body without its consent, with a state Shopify does not have, or without the
    customer is not silently ignored: the event says so and the shop gets an alert naming it."""
    make.customer(shop, shopify_customer_id=1, phone=NUMBER, phone_e164=NUMBER, consent="SUBSCRIBED")
    assert _shopify(client, topic, body) == "unreadable"
    (alert,) = _alerts(make, shop)
    assert alert.code == "CONSENT_WEBHOOK_UNREADABLE" and alert.resolved_at is None
    assert topic in alert.details and why in alert.details
    assert _customers(make, shop)[1].consent == "SUBSCRIBED"


def test_an_import_without_a_consent_date_never_undoes_a_stop(client, make, shopify):
    """Shopify holds Ana's WhatsApp consent as never given, with no date; after she stopped
    inside WhatsApp, the next import leaves her unsubscribed (not "not subscribed", which her
    SMS consent would turn into a recipient for a shop counting SMS consent)."""
    shopify.put_customers(
        SHOP,
        [
            {
                "shopify_id": 1,
                "first_name": "Ana",
                "phone": NUMBER,
                "country_code": "ES",
                "consent": "NOT_SUBSCRIBED",
                "sms_consent": "SUBSCRIBED",
            }
        ],
    )
    shop = installed_shop(make, shopify, SHOP, meta_phone_number_id=PHONE_ID)
    assert sync_customers(shop.id)["status"] == "done"
    assert _customers(make, shop)[1].consent == "NOT_SUBSCRIBED"
    _meta(client, _preference("stop", MAR_SECONDS))
    assert sync_customers(shop.id)["status"] == "done"
    ana = _customers(make, shop)[1]
    assert (ana.consent, ana.consent_source, ana.sms_consent) == (
        "UNSUBSCRIBED",
        "whatsapp_stop",
        "SUBSCRIBED",
    )


def test_a_write_back_shopify_refuses_stays_visible_and_is_tried_again(client, make, shopify):
    """Shopify refuses Ana's stop (it holds no phone for her): the stop stays pending, the
    block shows Shopify's words and the shop gets one alert; once the merchant adds her phone
    in Shopify, the next try after the wait writes it, and the alert is resolved."""
    shopify.put_customers(
        SHOP, [{"shopify_id": 1, "first_name": "Ana", "phone": None, "consent": "SUBSCRIBED"}]
    )
    shop = installed_shop(make, shopify, SHOP, meta_phone_number_id=PHONE_ID)
    make.customer(shop, shopify_customer_id=1, phone=NUMBER, phone_e164=NUMBER, consent="SUBSCRIBED")
    _meta(client, _preference("stop", MAR_SECONDS))
    assert write_back_consents() == {"shops": 1, "written": 0, "refused": 1}
    write_back = _block(client, 1)["write_back"]
    assert write_back["refused"] == "Customer must have a phone number"
    assert write_back["stopped_at"] == datetime.fromtimestamp(MAR_SECONDS, UTC).isoformat()
    assert write_back["retry_at"] is not None
    (alert,) = _alerts(make, shop)
    assert (alert.code, alert.resolved_at) == ("CONSENT_WRITEBACK_REFUSED", None)
    assert "Customer must have a phone number" in alert.details
    assert write_back_consents() == {"shops": 0, "written": 0, "refused": 0}  # waits before trying again

    shopify.change_customer(SHOP, shopify_id=1, phone=NUMBER)
    with Session(make.engine) as session, session.begin():  # the wait is over
        session.execute(
            update(Customer)
            .where(Customer.shop_id == shop.id)
            .values(consent_writeback_retry_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert write_back_consents() == {"shops": 1, "written": 1, "refused": 0}
    assert shopify.customer(SHOP, 1)["whatsapp"]["state"] == "UNSUBSCRIBED"
    assert _block(client, 1)["write_back"] is None
    (alert,) = _alerts(make, shop)
    assert alert.resolved_at is not None
