"""The Settings page and the campaigns banner as HTML documents: the nav entry, the WhatsApp
section when connected (Meta's facts) and when not (a call to action), Embedded Signup only
when configured."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import WhatsAppConnection
from tests.browser import admin_query
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID
from tests.test_pages import _text
from tests.tokens import session_token

SHOP = "demo.myshopify.com"


def _get(client, path):
    return client.get(path + "?" + admin_query(SHOP, session_token(SHOP)))


def _connected_shop(make):
    shop = make.shop(
        SHOP,
        meta_phone_number_id=PHONE_NUMBER_ID,
        meta_waba_id=WABA_ID,
        meta_access_token_ciphertext=encrypt_token(TOKEN),
        messages_per_second=80,
    )
    with Session(make.engine) as session, session.begin():
        session.add(
            WhatsAppConnection(
                shop_id=shop.id,
                waba_id=WABA_ID,
                phone_number_id=PHONE_NUMBER_ID,
                display_phone_number="+1 555-000-1234",
                verified_name="Demo Shop",
                quality_rating="YELLOW",
                messaging_limit_tier="TIER_10K",
                throughput_level="STANDARD",
                name_status="APPROVED",
                number_status="CONNECTED",
                messages_per_second=80,
                webhooks_subscribed=True,
                last_webhook_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
            )
        )
    return shop


def test_an_unconnected_shop_sees_a_call_to_action_on_both_pages(client, make):
    """Not connected: the campaigns page has a banner to Settings, and Settings has the form."""
    make.shop(SHOP, meta_phone_number_id=None)
    home = _get(client, "/")
    assert "Connect your WhatsApp Business number to send campaigns" in _text(home)
    assert 'href="/settings?' in home.get_data(as_text=True)
    page = _get(client, "/settings")
    assert page.status_code == 200
    text = _text(page)
    assert "No WhatsApp Business number is connected" in text
    assert "Connect WhatsApp" in text and "Connect with Facebook" not in text
    assert 'name="access_token" type="password"' in page.get_data(as_text=True)


def test_a_connected_shop_sees_what_meta_said_about_its_number(client, make):
    """Connected: number, verified name and its review, quality, messaging limit, throughput,
    webhooks, last webhook."""
    _connected_shop(make)
    assert "Connect your WhatsApp Business number" not in _text(_get(client, "/"))
    text = _text(_get(client, "/settings"))
    for expected in (
        "+1 555-000-1234",
        "Demo Shop",
        "Approved by Meta",
        "Connected: it can send",
        "Medium (yellow)",
        "10,000 customers a day",
        "Standard: we send at most 80 messages a second",
        "Subscribed on the account",
        "Nov 20, 2026",
        "Disconnect",
    ):
        assert expected in text, expected


def test_embedded_signup_is_offered_when_meta_app_and_configuration_are_set(service_urls, make):
    """With META_APP_ID and META_CONFIG_ID the page offers Connect with Facebook, carrying both."""
    from web import create_app

    app = create_app({"APP_ENV": "test", "TESTING": True, "META_APP_ID": "777", "META_CONFIG_ID": "888"})
    make.shop(SHOP, meta_phone_number_id=None)
    html = _get(app.test_client(), "/settings").get_data(as_text=True)
    assert "Connect with Facebook" in html
    assert 'data-meta-app-id="777"' in html and 'data-meta-config-id="888"' in html


def test_settings_shows_what_metas_account_webhooks_said(client, make):
    """After Meta's webhooks: the portfolio's limit, the number's quality event, the account's
    restriction, each template's status with its reason, and the coexistence rate."""
    from tests import meta as meta_bodies

    shop = _connected_shop(make)
    with Session(make.engine) as session, session.begin():
        connection = session.get(WhatsAppConnection, shop.id)
        connection.on_business_app = True
        connection.messages_per_second = 20
    entry = {"id": WABA_ID, "time": 1_790_000_000}
    for field, value in (
        ("business_capability_update", {"max_daily_conversations_per_business": 100000}),
        ("phone_number_quality_update", {"display_phone_number": "15550001234", "event": "FLAGGED"}),
        (
            "message_template_status_update",
            {
                "event": "PAUSED",
                "message_template_name": "weekly_offer",
                "message_template_language": "en",
                "message_template_id": 77,
                "reason": "NONE",
                "other_info": {"title": "SECOND_PAUSE", "description": "Paused for 6 hours"},
            },
        ),
    ):
        body = {
            "object": "whatsapp_business_account",
            "entry": [entry | {"changes": [{"field": field, "value": value}]}],
        }
        assert meta_bodies.post(client, body).status_code == 200
    meta_bodies.drain()
    text = _text(_get(client, "/settings"))
    for expected in (
        "100,000 customers per rolling 24 hours",
        "Flagged: quality is low",
        "Also used in the WhatsApp Business app: Meta fixes it at 20 messages a second",
        "weekly_offer (en) PAUSED · SECOND_PAUSE",
    ):
        assert expected in text, expected


def test_the_disconnect_confirmation_counts_what_it_stops(client, make):
    """Disconnect's confirmation names the campaigns sending now and those scheduled (issue 26);
    a campaign whose dispatch finished is not stopped by it."""
    shop = _connected_shop(make)
    make.campaign(shop, "Sending", status="PENDING")
    make.campaign(shop, "Sent out", status="PENDING", dispatch_finished_at=datetime.now(UTC))
    make.campaign(shop, "Later", status="SCHEDULED", scheduled_at=datetime(2030, 1, 1, tzinfo=UTC))
    make.campaign(shop, "Also later", status="SCHEDULED", scheduled_at=datetime(2030, 1, 2, tzinfo=UTC))
    text = _text(_get(client, "/settings"))
    assert "1 campaign sending now stops at once" in text
    assert "2 scheduled campaigns will not launch until a number is connected again" in text


def test_a_campaign_to_send_shows_its_numbers_health_and_warns_when_it_is_low(client, make):
    """A draft names the number it sends from, its quality and Meta's daily limit; a red
    quality (or a flag) warns before it blocks sends; a sent campaign shows none of it."""
    shop = _connected_shop(make)
    draft = make.campaign(shop, "Next", status="DRAFT")
    text = _text(_get(client, f"/campaigns/{draft.id}"))
    assert (
        "Sent from +1 555-000-1234 · quality Medium (yellow) · up to 10,000 customers a day"
        " · at most 80 messages a second" in text
    )
    assert "display name:" not in text  # approved: nothing to say
    with Session(make.engine) as session, session.begin():
        session.get(WhatsAppConnection, shop.id).name_status = "DECLINED"
    assert "display name: Declined by Meta: change it in WhatsApp Manager" in _text(
        _get(client, f"/campaigns/{draft.id}")
    )
    assert "rates this number's quality low" not in text
    with Session(make.engine) as session, session.begin():
        session.get(WhatsAppConnection, shop.id).quality_rating = "RED"
    assert "Meta rates this number's quality low" in _text(_get(client, f"/campaigns/{draft.id}"))
    assert "Meta reports the sending number as" not in _text(_get(client, f"/campaigns/{draft.id}"))
    with Session(make.engine) as session, session.begin():
        session.get(WhatsAppConnection, shop.id).number_status = "RESTRICTED"
    assert "Meta reports the sending number as restricted by Meta: it cannot start conversations" in _text(
        _get(client, f"/campaigns/{draft.id}")
    )
    sent = make.campaign(shop, "Done", status="SENT")
    assert "Sent from" not in _text(_get(client, f"/campaigns/{sent.id}"))


def test_a_number_connected_without_a_check_does_not_claim_no_webhook_arrived(client, make):
    """The demo's number (seeded, never checked with Meta) has no record of webhooks: the page
    says they are not recorded yet, not "None yet" while webhooks arrive."""
    make.shop(
        SHOP,
        meta_phone_number_id=PHONE_NUMBER_ID,
        meta_waba_id=WABA_ID,
        meta_access_token_ciphertext=encrypt_token(TOKEN),
    )
    text = _text(_get(client, "/settings"))
    assert (
        "Last webhook received Not recorded: webhooks are noted once the number is checked with Meta" in text
    )
    assert "None yet" not in text
