"""Meta's account-level webhook fields, routed by the account (``entry[].id``), posted signed to
`/webhooks/meta` and drained: a paused template halts the campaigns sending it, a restricted
account halts them all, limits and quality are stored, and every event is applied once, in
Meta's order, to the shops of that account only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Campaign, Message, MetaTemplateState, ShopAlert, WhatsAppConnection
from core.rules.account_events import messaging_limit
from tests import meta

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

WABA, OTHER_WABA = "61550001", "61550002"
T0 = 1_790_000_000


def _body(field: str, value: dict, seconds: int = T0, waba: str = WABA) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba, "time": seconds, "changes": [{"field": field, "value": value}]}],
    }


def _template_event(event: str, seconds: int = T0, name: str = "weekly_offer", **extra) -> dict:
    value = {
        "event": event,
        "message_template_id": 1689556908129832,
        "message_template_name": name,
        "message_template_language": "en",
        "reason": extra.pop("reason", "NONE"),
        "message_template_category": "MARKETING",
        **extra,
    }
    return _body("message_template_status_update", value, seconds)


def _deliver(client, *bodies: dict) -> None:
    for body in bodies:
        assert meta.post(client, body).status_code == 200
    meta.drain()


def _sending(make, shop, name: str, template: str = "weekly_offer", queued: int = 3) -> Campaign:
    campaign = make.campaign(shop, name, template_name=template)
    make.message(campaign, make.customer(shop), wamid=f"wamid.{name}-0", status="accepted")
    for _ in range(queued):
        make.message(campaign, make.customer(shop), status="queued")
    make.recount(campaign)
    return campaign


def _connect(make, shop, **fields) -> None:
    fields.setdefault("display_phone_number", "+1 555-000-1111")
    make._save(
        WhatsAppConnection(
            shop_id=shop.id,
            waba_id=shop.meta_waba_id,
            phone_number_id=shop.meta_phone_number_id,
            messages_per_second=80,
            **fields,
        )
    )


def _get(make, model, *key):
    with Session(make.engine) as session:
        return session.get(model, key)


def _alerts(make, shop) -> list[tuple[int | None, str]]:
    with Session(make.engine) as session:
        rows = session.scalars(select(ShopAlert).where(ShopAlert.shop_id == shop.id).order_by(ShopAlert.id))
        return [(a.campaign_id, a.code) for a in rows]


def _queued(make, campaign) -> int:
    with Session(make.engine) as session:
        return len(
            session.scalars(
                select(Message).where(Message.campaign_id == campaign.id, Message.status == "queued")
            ).all()
        )


def test_a_paused_template_halts_only_the_campaigns_sending_it_once(client, make):
    """PAUSED halts the shop's sending campaign of that template (132015), with one alert for it
    and one for the template; another template's campaign, a draft, and another account's shop
    with a campaign of the same template name go on. A redelivery changes nothing."""
    shop = make.shop(meta_waba_id=WABA)
    paused = _sending(make, shop, "Autumn")
    other_template = _sending(make, shop, "Welcome", template="welcome")
    draft = make.campaign(shop, "Later", template_name="weekly_offer", status="DRAFT")
    neighbour = make.shop("neighbour.myshopify.com", meta_waba_id=OTHER_WABA)
    theirs = _sending(make, neighbour, "Theirs")

    body = _template_event("PAUSED", other_info={"title": "FIRST_PAUSE", "description": "Paused for 3 hours"})
    _deliver(client, body, body)

    halted = _get(make, Campaign, shop.id, paused.id)
    assert (halted.halted_code, _queued(make, paused)) == ("132015", 0)
    assert "weekly_offer" in halted.halted_reason and "FIRST_PAUSE" in halted.halted_reason
    for untouched in (other_template, draft, theirs):
        assert _get(make, Campaign, untouched.shop_id, untouched.id).halted_code is None
    assert _queued(make, other_template) == 3 and _queued(make, theirs) == 3
    assert _alerts(make, shop) == [(paused.id, "132015"), (None, "TEMPLATE_STOPPED")]
    assert _alerts(make, neighbour) == []
    state = _get(make, MetaTemplateState, shop.id, "weekly_offer", "en")
    assert (state.status, state.reason) == ("PAUSED", "FIRST_PAUSE")
    assert meta.drift(make.engine, halted) == []


def test_template_events_apply_in_metas_order_and_say_when_a_campaign_can_resume(client, make):
    """An APPROVED older than the pause changes nothing; a newer one says which stopped
    campaigns can resume. FLAGGED warns without stopping anything."""
    shop = make.shop(meta_waba_id=WABA)
    campaign = _sending(make, shop, "Autumn")
    _deliver(client, _template_event("FLAGGED", T0 - 20))
    assert _get(make, Campaign, shop.id, campaign.id).halted_code is None
    _deliver(client, _template_event("PAUSED", T0), _template_event("APPROVED", T0 - 10))
    assert _get(make, MetaTemplateState, shop.id, "weekly_offer", "en").status == "PAUSED"
    _deliver(client, _template_event("APPROVED", T0 + 3 * 3600))
    assert _get(make, MetaTemplateState, shop.id, "weekly_offer", "en").status == "APPROVED"
    codes = [code for _, code in _alerts(make, shop)]
    assert codes == ["TEMPLATE_FLAGGED", "132015", "TEMPLATE_STOPPED", "TEMPLATE_BACK"]
    with Session(make.engine) as session:
        back = session.scalars(select(ShopAlert).where(ShopAlert.code == "TEMPLATE_BACK")).one()
    assert "Autumn" in back.details


def test_a_restricted_account_halts_every_sending_campaign_and_a_violation_only_warns(client, make):
    shop = make.shop(meta_waba_id=WABA)
    _connect(make, shop)
    first, second = _sending(make, shop, "One"), _sending(make, shop, "Two", template="welcome")
    violation = {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "ADULT"}}
    _deliver(client, _body("account_update", violation, T0))
    assert [code for _, code in _alerts(make, shop)] == ["ACCOUNT_NOTICE"]
    assert _get(make, Campaign, shop.id, first.id).halted_code is None
    restriction = {
        "event": "ACCOUNT_RESTRICTION",
        "restriction_info": [
            {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": T0 + 86400}
        ],
    }
    _deliver(client, _body("account_update", restriction, T0 + 60))
    assert {_get(make, Campaign, shop.id, c.id).halted_code for c in (first, second)} == {"368"}
    assert _queued(make, first) == _queued(make, second) == 0
    connection = _get(make, WhatsAppConnection, shop.id)
    assert connection.account_event == "ACCOUNT_RESTRICTION"
    assert connection.account_restrictions[0]["restriction_type"] == "RESTRICTED_BIZ_INITIATED_MESSAGING"
    assert [code for _, code in _alerts(make, shop)] == ["ACCOUNT_NOTICE", "368", "368", "ACCOUNT_RESTRICTED"]


def test_limits_and_number_quality_are_stored_and_a_lowered_limit_warns(client, make):
    shop = make.shop(meta_waba_id=WABA)
    _connect(make, shop)
    capability = {"max_daily_conversation_per_phone": 2000, "max_daily_conversations_per_business": 10000}
    _deliver(client, _body("business_capability_update", capability, T0))
    assert _get(make, WhatsAppConnection, shop.id).messaging_limit == 10_000
    assert _alerts(make, shop) == []
    downgrade = {
        "display_phone_number": "15550001111",
        "event": "DOWNGRADE",
        "old_limit": "TIER_10K",
        "current_limit": "TIER_2K",
        "max_daily_conversations_per_business": "2000",
    }
    stale = {**downgrade, "event": "UPGRADE", "max_daily_conversations_per_business": "100000"}
    _deliver(client, _body("phone_number_quality_update", downgrade, T0 + 60))
    _deliver(client, _body("phone_number_quality_update", stale, T0 + 30))
    connection = _get(make, WhatsAppConnection, shop.id)
    assert (connection.messaging_limit, connection.quality_event) == (2_000, "DOWNGRADE")
    assert connection.health_at == datetime.fromtimestamp(T0 + 60, UTC)
    assert [code for _, code in _alerts(make, shop)] == ["NUMBER_QUALITY"]


def test_an_account_error_halts_the_sending_campaigns_with_their_alerts_only(client, make):
    """131042 in ``value.errors`` (the account's payment method) stops the shop's sending
    campaign: one alert, the campaign's; with nothing sending, one shop alert."""
    shop = make.shop(meta_waba_id=WABA)
    campaign = _sending(make, shop, "Autumn")
    error = {"code": 131042, "title": "Business eligibility payment issue", "error_data": {"details": "x"}}
    _deliver(client, meta.envelope([meta.change(shop.meta_phone_number_id, errors=[error])]))
    assert _get(make, Campaign, shop.id, campaign.id).halted_code == "131042"
    assert _alerts(make, shop) == [(campaign.id, "131042")]
    later = {**error, "error_data": {"details": "still"}}  # the very same body is stored once
    _deliver(client, meta.envelope([meta.change(shop.meta_phone_number_id, errors=[later])]))
    assert _alerts(make, shop) == [(campaign.id, "131042"), (None, "131042")]


def test_an_account_no_shop_holds_is_kept_and_ignored(client, make):
    shop = make.shop(meta_waba_id=WABA)
    campaign = _sending(make, shop, "Autumn")
    restriction = {
        "event": "ACCOUNT_RESTRICTION",
        "restriction_info": [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING"}],
    }
    _deliver(client, _body("account_update", restriction, waba=OTHER_WABA), _template_event("PAUSED") | {})
    rows = meta.inbox_rows(make.engine)
    assert sorted(row.outcome for row in rows) == ["applied", "unknown_account"]
    assert _get(make, Campaign, shop.id, campaign.id).halted_code == "132015"


def test_meta_limit_spellings():
    assert [
        messaging_limit(v) for v in (2000, "2000", "TIER_2K", -1, "TIER_UNLIMITED", "TIER_NOT_SET", 0, True)
    ] == [
        2000,
        2000,
        2000,
        -1,
        -1,
        None,
        None,
        None,
    ]
