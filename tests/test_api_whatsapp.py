"""``/api/whatsapp`` against the real Meta stand-in: connect (checked with Meta, subscribed,
stored encrypted, send cap from the throughput), Meta's refusals as 422 naming the field with
Meta's message, another shop's number (409), Meta unreachable (503, nothing stored), GET,
DELETE, refresh, and Embedded Signup's code exchange."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto import decrypt_token
from core.models import Shop, WhatsAppConnection
from sim.meta.config import DEMO_APP_ID
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID
from tests.tokens import bearer

SHOP = "demo.myshopify.com"
CONNECT = {"waba_id": WABA_ID, "phone_number_id": PHONE_NUMBER_ID, "access_token": TOKEN}
SIGNUP_NUMBER, SIGNUP_WABA = "1234567891", "5550002"


@pytest.fixture
def api(meta, service_urls):
    """The app, with Embedded Signup configured for the stand-in's Meta app."""
    from web import create_app

    app = create_app({"APP_ENV": "test", "TESTING": True, "META_APP_ID": DEMO_APP_ID, "META_CONFIG_ID": "42"})
    return app.test_client()


@pytest.fixture
def shop(make):
    return make.shop(SHOP, meta_phone_number_id=None)


def _shop(make, domain=SHOP) -> Shop:
    with Session(make.engine) as session:
        return session.scalar(select(Shop).where(Shop.domain == domain))


def _row(make, shop_id) -> WhatsAppConnection | None:
    with Session(make.engine) as session:
        return session.get(WhatsAppConnection, shop_id)


def _put(api, body, shop=SHOP):
    return api.put("/api/whatsapp", json=body, headers=bearer(shop))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connecting_checks_with_meta_subscribes_and_stores_the_token_encrypted(api, meta, make, shop):
    """A good WABA, number and token: answered as WhatsAppConnection, webhooks subscribed on the
    account, the token stored encrypted, the send cap taken from the number's throughput."""
    response = _put(api, CONNECT)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["connected"] is True
    assert (body["waba_id"], body["phone_number_id"]) == (WABA_ID, PHONE_NUMBER_ID)
    assert body["display_phone_number"] == "+1 555-000-1234"
    assert body["verified_name"] == "Demo Shop"
    assert body["quality_rating"] == "GREEN"
    assert body["webhooks_subscribed"] is True
    assert body["messages_per_second"] == 80  # STANDARD throughput
    subscribed = meta.http.get(
        f"{meta.url}/v25.0/{WABA_ID}/subscribed_apps", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert subscribed.json()["data"] == [
        {"whatsapp_business_api_data": {"id": DEMO_APP_ID, "name": "Stand-in app", "link": ""}}
    ]
    stored = _shop(make)
    assert TOKEN.encode() not in stored.meta_access_token_ciphertext
    assert decrypt_token(stored.meta_access_token_ciphertext) == TOKEN
    assert (stored.meta_phone_number_id, stored.meta_waba_id) == (PHONE_NUMBER_ID, WABA_ID)
    assert api.get("/api/whatsapp", headers=bearer(SHOP)).json == body


def test_a_high_throughput_number_raises_the_send_cap(api, meta, make, shop):
    """A number Meta reports at HIGH throughput sends up to 1,000 messages a second."""
    accounts = meta.configure()["accounts"]
    accounts[PHONE_NUMBER_ID]["throughput"] = "HIGH"
    meta.configure(accounts=accounts)
    assert _put(api, CONNECT).json["messages_per_second"] == 1000
    assert _shop(make).messages_per_second == 1000


def test_a_token_meta_cannot_parse_is_refused_naming_the_token(api, meta, make, shop):
    """Meta's 190 answer comes back as 422 on access_token, with Meta's own message; nothing stored."""
    response = _put(api, CONNECT | {"access_token": "EAAG-not-a-token"})
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "access_token"
    assert response.json["errors"][0]["message"] == "Invalid OAuth access token - Cannot parse access token"
    assert _shop(make).meta_access_token_ciphertext is None
    assert _row(make, shop.id) is None
    assert api.get("/api/whatsapp", headers=bearer(SHOP)).json == {"connected": False}


def test_a_number_outside_the_account_is_refused(api, meta, make, shop):
    """A number the token can read but that is not in the WABA given: 422 on phone_number_id."""
    accounts = meta.configure()["accounts"]
    accounts["1234567899"] = {"token": TOKEN, "waba_id": "5559999", "display": "15550009999"}
    meta.configure(accounts=accounts)
    response = _put(api, CONNECT | {"phone_number_id": "1234567899"})
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "phone_number_id"
    assert (
        "no phone number 1234567899 in WhatsApp Business Account 5550001"
        in response.json["errors"][0]["message"]
    )
    assert _shop(make).meta_phone_number_id is None


def test_an_unknown_number_is_refused_with_metas_message(api, meta, shop):
    """A phone number id Meta does not know: 422 on phone_number_id with Meta's 'does not exist'."""
    response = _put(api, CONNECT | {"phone_number_id": "999999"})
    assert response.status_code == 422
    error = response.json["errors"][0]
    assert error["field"] == "phone_number_id"
    assert "Object with ID '999999' does not exist" in error["message"]


def test_a_token_that_cannot_read_templates_is_refused(api, meta, make, shop):
    """Meta refusing the template list (permission 200) names the token, with Meta's message."""
    accounts = meta.configure()["accounts"]
    accounts[PHONE_NUMBER_ID]["templates_readable"] = False
    meta.configure(accounts=accounts)
    response = _put(api, CONNECT)
    assert response.status_code == 422
    error = response.json["errors"][0]
    assert error["field"] == "access_token"
    assert "Requires whatsapp_business_management permission" in error["message"]
    assert _shop(make).meta_access_token_ciphertext is None


def test_bad_input_names_each_field_before_meta_is_asked(api, meta, shop):
    """Missing or malformed fields are each named; Meta is not asked."""
    response = _put(api, {"waba_id": "abc", "access_token": ""})
    assert response.status_code == 422
    assert {e["field"] for e in response.json["errors"]} == {"waba_id", "phone_number_id", "access_token"}


def test_a_number_another_shop_holds_is_a_conflict(api, meta, make, shop):
    """The number connected to another shop: 409, and this shop stays unconnected."""
    make.shop("other.myshopify.com", meta_phone_number_id=PHONE_NUMBER_ID)
    response = _put(api, CONNECT)
    assert response.status_code == 409
    assert "another shop" in response.json["message"]
    assert _shop(make).meta_phone_number_id is None


def test_which_numbers_use_the_app_is_told_only_to_a_token_meta_accepts(api, meta, make, shop):
    """Another shop holds the number: a caller whose token Meta refuses gets Meta's refusal
    (422), never the 409 that would reveal the number uses the app; a token that can read the
    number gets the 409."""
    make.shop("other.myshopify.com", meta_phone_number_id=PHONE_NUMBER_ID)
    guessed = _put(api, CONNECT | {"access_token": "EAAG-someone-elses-guess"})
    assert guessed.status_code == 422
    assert guessed.json["errors"][0]["field"] == "access_token"
    assert "another shop" not in str(guessed.json)
    signup = api.post(
        "/api/whatsapp/embedded-signup",
        json={"code": "forged", "waba_id": WABA_ID, "phone_number_id": PHONE_NUMBER_ID, "state": _state(api)},
        headers=bearer(SHOP),
    )
    assert signup.status_code == 422 and "another shop" not in str(signup.json)
    assert _put(api, CONNECT).status_code == 409
    assert _shop(make).meta_phone_number_id is None


def test_meta_unreachable_answers_503_and_stores_nothing(meta, make, shop, service_urls):
    """With Graph unreachable, the answer is 503 and nothing is stored."""
    from web import create_app

    app = create_app(
        {"APP_ENV": "test", "TESTING": True, "META_GRAPH_URL": f"http://127.0.0.1:{_closed_port()}"}
    )
    response = app.test_client().put("/api/whatsapp", json=CONNECT, headers=bearer(SHOP))
    assert response.status_code == 503
    assert "could not be reached" in response.json["message"]
    assert _shop(make).meta_access_token_ciphertext is None
    assert _row(make, shop.id) is None


def test_disconnect_forgets_the_number_and_keeps_the_history(api, meta, make, shop):
    """DELETE answers 204; the shop is no longer connected, its campaigns stay."""
    assert _put(api, CONNECT).status_code == 200
    campaign = make.campaign(_shop(make), "Spring sale", status="SENT")
    assert api.delete("/api/whatsapp", headers=bearer(SHOP)).status_code == 204
    assert api.get("/api/whatsapp", headers=bearer(SHOP)).json == {"connected": False}
    stored = _shop(make)
    assert stored.meta_phone_number_id is None and stored.meta_access_token_ciphertext is None
    assert _row(make, shop.id).disconnected_at is not None
    assert api.get(f"/api/campaigns/{campaign.id}", headers=bearer(SHOP)).status_code == 200
    # The number is free again for another shop.
    make.shop("other.myshopify.com", meta_phone_number_id=None)
    assert _put(api, CONNECT, shop="other.myshopify.com").status_code == 200


def test_refresh_checks_a_seeded_connection_with_meta(api, meta, make):
    """A shop connected by a seed document (no check yet) is checked and subscribed on refresh."""
    from core.crypto import encrypt_token

    seeded = make.shop(
        SHOP,
        meta_phone_number_id=PHONE_NUMBER_ID,
        meta_waba_id=WABA_ID,
        meta_access_token_ciphertext=encrypt_token(TOKEN),
    )
    before = api.get("/api/whatsapp", headers=bearer(SHOP)).json
    assert before["connected"] is True and before["verified_name"] is None
    assert before["webhooks_subscribed"] is False
    after = api.post("/api/whatsapp/refresh", headers=bearer(SHOP))
    assert after.status_code == 200
    assert after.json["verified_name"] == "Demo Shop" and after.json["webhooks_subscribed"] is True
    assert _row(make, seeded.id).checked_at is not None


def _state(api, shop=SHOP) -> str:
    """A state issued to the shop's session for one Embedded Signup."""
    response = api.post("/api/whatsapp/embedded-signup/state", headers=bearer(shop))
    assert response.status_code == 200, response.json
    assert response.json["expires_in"] == 600
    return response.json["state"]


def test_embedded_signup_exchanges_the_code_then_connects(api, meta, make, shop):
    """The code is exchanged at oauth/access_token for the business's token, then as PUT."""
    body = {"code": "demo-signup-code", "waba_id": SIGNUP_WABA, "phone_number_id": SIGNUP_NUMBER}
    response = api.post(
        "/api/whatsapp/embedded-signup", json=body | {"state": _state(api)}, headers=bearer(SHOP)
    )
    assert response.status_code == 200, response.json
    assert response.json["verified_name"] == "Demo Shop Outlet"
    assert response.json["webhooks_subscribed"] is True
    assert decrypt_token(_shop(make).meta_access_token_ciphertext) == "demo-signup-token"
    # Meta's codes work once.
    again = api.post(
        "/api/whatsapp/embedded-signup", json=body | {"state": _state(api)}, headers=bearer(SHOP)
    )
    assert again.status_code == 422
    assert again.json["errors"][0] == {
        "field": "code",
        "message": "This authorization code has been used.",
        "meta_code": 100,
    }


def test_embedded_signup_with_an_unknown_code_is_refused(api, meta, make, shop):
    """A code Meta does not know: 422 on code with Meta's message, nothing stored."""
    body = {"code": "forged", "waba_id": SIGNUP_WABA, "phone_number_id": SIGNUP_NUMBER, "state": _state(api)}
    response = api.post("/api/whatsapp/embedded-signup", json=body, headers=bearer(SHOP))
    assert response.status_code == 422
    assert response.json["errors"][0]["message"] == "Invalid verification code format."
    assert _shop(make).meta_access_token_ciphertext is None


def test_embedded_signup_takes_a_code_only_with_the_state_issued_to_this_shop(api, meta, make, shop):
    """The code is exchanged only with a state our server issued to this shop's session, once:
    without one, with another shop's, or with one already used, the answer is 422 on ``state``
    and Meta is not asked (the code stays good for the real signup)."""
    make.shop("other.myshopify.com", meta_phone_number_id=None)
    body = {"code": "demo-signup-code", "waba_id": SIGNUP_WABA, "phone_number_id": SIGNUP_NUMBER}
    for state in (None, "made-up", _state(api, "other.myshopify.com")):
        sent = body if state is None else body | {"state": state}
        refused = api.post("/api/whatsapp/embedded-signup", json=sent, headers=bearer(SHOP))
        assert refused.status_code == 422, refused.json
        assert refused.json["errors"][0]["field"] == "state"
    assert _shop(make).meta_access_token_ciphertext is None
    state = _state(api)
    accepted = api.post("/api/whatsapp/embedded-signup", json=body | {"state": state}, headers=bearer(SHOP))
    assert accepted.status_code == 200, accepted.json
    replayed = api.post("/api/whatsapp/embedded-signup", json=body | {"state": state}, headers=bearer(SHOP))
    assert replayed.status_code == 422 and replayed.json["errors"][0]["field"] == "state"


def test_disconnect_unsubscribes_the_app_from_the_account_then_forgets_the_token(
    api, meta, make, shop, run_jobs
):
    """DELETE releases the number at once; a job then unsubscribes our app from the WABA
    (DELETE /{waba-id}/subscribed_apps, with the shop's token) and only then forgets the token."""
    assert _put(api, CONNECT).status_code == 200
    assert api.delete("/api/whatsapp", headers=bearer(SHOP)).status_code == 204
    assert _shop(make).meta_phone_number_id is None
    run_jobs()
    record = meta.subscriptions()
    assert [(u["waba_id"], u["app_id"], u["was_subscribed"]) for u in record["unsubscriptions"]] == [
        (WABA_ID, DEMO_APP_ID, True)
    ]
    assert record["subscribed"][WABA_ID] == []
    assert _shop(make).meta_access_token_ciphertext is None
    assert _row(make, shop.id).release_token_ciphertext is None


def test_a_release_meta_cannot_hear_keeps_the_token_until_the_periodic_retry(
    api, meta, make, shop, run_jobs, monkeypatch
):
    """Meta unreachable when the job that follows a disconnect runs: the token waits, encrypted,
    for the periodic retry, which then unsubscribes our app and forgets it."""
    from jobs.whatsapp import unsubscribe_released_numbers

    assert _put(api, CONNECT).status_code == 200
    assert api.delete("/api/whatsapp", headers=bearer(SHOP)).status_code == 204
    monkeypatch.setenv("META_GRAPH_URL", f"http://127.0.0.1:{_closed_port()}")
    run_jobs()
    assert meta.subscriptions()["unsubscriptions"] == []
    assert decrypt_token(_row(make, shop.id).release_token_ciphertext) == TOKEN
    monkeypatch.setenv("META_GRAPH_URL", meta.url)
    assert unsubscribe_released_numbers() == {"shops": 1, "queued": 1}
    run_jobs()
    assert [u["was_subscribed"] for u in meta.subscriptions()["unsubscriptions"]] == [True]
    assert _row(make, shop.id).release_token_ciphertext is None
    assert unsubscribe_released_numbers() == {"shops": 0, "queued": 0}


def test_a_waba_another_shop_still_uses_keeps_our_subscription(api, meta, make, shop, run_jobs):
    """Two shops connect two numbers of one WhatsApp Business Account; one disconnects: our app
    stays subscribed to the account (the other shop's statuses need it) and the token is forgotten."""
    accounts = meta.configure()["accounts"]
    accounts["1234567899"] = {"token": TOKEN, "waba_id": WABA_ID, "display": "15550009999"}
    meta.configure(accounts=accounts)
    make.shop("other.myshopify.com", meta_phone_number_id=None)
    assert _put(api, CONNECT).status_code == 200
    assert (
        _put(api, CONNECT | {"phone_number_id": "1234567899"}, shop="other.myshopify.com").status_code == 200
    )
    assert api.delete("/api/whatsapp", headers=bearer(SHOP)).status_code == 204
    run_jobs()
    assert meta.subscriptions() == {"subscribed": {WABA_ID: [DEMO_APP_ID]}, "unsubscriptions": []}
    assert _row(make, shop.id).release_token_ciphertext is None


def test_the_api_needs_a_session_token(api, meta, shop):
    """Without a session token the WhatsApp API answers 401, as every API route."""
    assert api.put("/api/whatsapp", json=CONNECT).status_code == 401
    assert api.delete("/api/whatsapp").status_code == 401


def test_the_last_webhook_for_the_number_is_recorded(api, meta, make, shop):
    """A signed status webhook for the connected number, once drained, shows as the last webhook."""
    from tests import meta as meta_bodies

    assert _put(api, CONNECT).json["last_webhook_at"] is None
    body = meta_bodies.statuses_body(
        PHONE_NUMBER_ID, meta_bodies.status("wamid.unknown", "sent", 1_790_000_000)
    )
    assert meta_bodies.post(api, body).status_code == 200
    meta_bodies.drain()
    seen = api.get("/api/whatsapp", headers=bearer(SHOP)).json["last_webhook_at"]
    assert seen is not None
    assert _row(make, shop.id).last_webhook_at.isoformat() == seen


def test_no_database_transaction_is_held_while_meta_is_asked(api, meta, make, shop, service_urls):
    """While Meta is slow to answer (0.5 s a call), no connection of the app sits idle in a
    transaction for longer than a moment."""
    import threading
    import time

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    meta.configure(management_delay_s=0.5)
    answer = {}
    request = threading.Thread(target=lambda: answer.setdefault("response", _put(api, CONNECT)))
    database = make_url(service_urls["database_url"]).database
    held = []
    request.start()
    with make.engine.connect() as watcher:
        while request.is_alive():
            held += watcher.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid() "
                    "AND state = 'idle in transaction' AND now() - state_change > interval '300 milliseconds'"
                ),
                {"db": database},
            ).all()
            watcher.rollback()
            time.sleep(0.02)
    request.join()
    assert answer["response"].status_code == 200
    assert held == []


def test_statuses_of_a_disconnected_number_still_reach_its_campaigns(api, meta, make, shop):
    """After DELETE, a late status for a message the shop sent still updates that message."""
    from tests import meta as meta_bodies

    assert _put(api, CONNECT).status_code == 200
    connected = _shop(make)
    campaign = make.campaign(connected, "Spring sale", status="PENDING")
    make.message(campaign, make.customer(connected), wamid="wamid.late", status="accepted")
    assert api.delete("/api/whatsapp", headers=bearer(SHOP)).status_code == 204
    body = meta_bodies.statuses_body(
        PHONE_NUMBER_ID, meta_bodies.status("wamid.late", "delivered", 1_790_000_000)
    )
    assert meta_bodies.post(api, body).status_code == 200
    meta_bodies.drain()
    assert meta_bodies.message(make.engine, connected.id, "wamid.late").status == "delivered"


def test_the_periodic_check_follows_meta_and_alerts_on_refusal(api, meta, make, shop, run_jobs):
    """The periodic check takes Meta's new quality and throughput (and the send cap); a revoked
    token leaves the connection as it was and opens one alert with Meta's reason."""
    from core.models import ShopAlert
    from jobs.whatsapp import recheck_connections

    assert _put(api, CONNECT).status_code == 200
    accounts = meta.configure()["accounts"]
    accounts[PHONE_NUMBER_ID] |= {"quality_rating": "RED", "throughput": "HIGH"}
    meta.configure(accounts=accounts)
    assert recheck_connections() == {"shops": 1, "queued": 1}
    run_jobs()
    now = api.get("/api/whatsapp", headers=bearer(SHOP)).json
    assert (now["quality_rating"], now["messages_per_second"]) == ("RED", 1000)

    accounts[PHONE_NUMBER_ID]["token"] = "rotated-by-the-merchant"
    meta.configure(accounts=accounts)
    for _ in range(2):  # two refused runs: still one open alert
        recheck_connections()
        run_jobs()
    assert api.get("/api/whatsapp", headers=bearer(SHOP)).json == now
    with Session(make.engine) as session:
        alerts = session.scalars(select(ShopAlert).where(ShopAlert.shop_id == shop.id)).all()
    assert [(a.code, a.resolved_at) for a in alerts] == [("WHATSAPP_CHECK_REFUSED", None)]
    assert "Invalid OAuth access token" in alerts[0].details
