"""The rate a shop sends at: Meta's cap for the number (80, 1,000 after the upgrade, 20 fixed for a
number also used in the WhatsApp Business app), lowered by the merchant's own cap, which no
check with Meta raises; and the stand-in enforces the coexistence rate as Meta does."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Shop
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID
from tests.tokens import bearer

SHOP = "demo.myshopify.com"
CONNECT = {"waba_id": WABA_ID, "phone_number_id": PHONE_NUMBER_ID, "access_token": TOKEN}


def _rate(make) -> int:
    with Session(make.engine) as session:
        return session.scalar(select(Shop.messages_per_second).where(Shop.domain == SHOP))


def _number(meta, **facts) -> None:
    accounts = meta.configure()["accounts"]
    accounts[PHONE_NUMBER_ID] |= facts
    meta.configure(accounts=accounts)


def test_a_number_shared_with_the_business_app_sends_at_20_a_second(client, meta, make, run_jobs):
    """20 whatever throughput Meta reports, after a merchant's higher cap and the 6-hourly check too."""
    from jobs.whatsapp import recheck_connections

    make.shop(SHOP, meta_phone_number_id=None)
    _number(meta, is_on_biz_app=True, throughput="HIGH")
    answer = client.put("/api/whatsapp", json=CONNECT, headers=bearer(SHOP))
    assert answer.status_code == 200, answer.json
    assert (answer.json["messages_per_second"], answer.json["on_business_app"]) == (20, True)
    assert _rate(make) == 20
    capped = client.put("/api/whatsapp/send-cap", json={"messages_per_second": 500}, headers=bearer(SHOP))
    assert (capped.json["messages_per_second"], capped.json["send_cap_per_second"]) == (20, 500)
    recheck_connections()
    run_jobs()
    assert _rate(make) == 20


def test_the_shops_own_cap_lowers_the_rate_and_no_check_with_meta_raises_it(client, meta, make, run_jobs):
    from jobs.whatsapp import recheck_connections

    make.shop(SHOP, meta_phone_number_id=None)
    assert client.put("/api/whatsapp", json=CONNECT, headers=bearer(SHOP)).json["messages_per_second"] == 80
    capped = client.put("/api/whatsapp/send-cap", json={"messages_per_second": 5}, headers=bearer(SHOP))
    assert (capped.json["messages_per_second"], capped.json["send_cap_per_second"]) == (5, 5)
    _number(meta, throughput="HIGH")
    recheck_connections()
    run_jobs()
    assert _rate(make) == 5
    cleared = client.put("/api/whatsapp/send-cap", json={"messages_per_second": None}, headers=bearer(SHOP))
    assert cleared.json["messages_per_second"] == 1000 and cleared.json["send_cap_per_second"] is None
    for bad in (0, 1001, "5", True, 2.5):
        refused = client.put(
            "/api/whatsapp/send-cap", json={"messages_per_second": bad}, headers=bearer(SHOP)
        )
        assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "messages_per_second"
    assert client.put("/api/whatsapp/send-cap", json={}, headers=bearer(SHOP)).status_code == 422
    assert _rate(make) == 1000


def test_the_stand_in_refuses_a_coexistence_number_past_20_a_second(meta):
    _number(meta, is_on_biz_app=True)
    meta.configure(cap=1000)
    body = {
        "messaging_product": "whatsapp",
        "type": "template",
        "template": {"name": "order_update", "language": {"code": "en"}},
    }

    def send(n: int):
        answer = requests.post(
            f"{meta.url}/v23.0/{PHONE_NUMBER_ID}/messages",
            json={**body, "to": f"+3461700{n:04d}"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        return answer.json().get("error", {}).get("code") if answer.status_code != 200 else 200

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(60)))
    assert set(answers) == {200, 130429}
    accepted = [send["accepted_at"] for send in meta.sends()]  # the stand-in's own clock
    assert len(accepted) == answers.count(200)
    assert max(sum(1 for other in accepted if at <= other < at + 1) for at in accepted) <= 20


def test_connect_names_the_webhook_fields_the_meta_app_lacks(meta, make, service_urls):
    """Meta says which fields our app is subscribed to (asked with the app's own token): the
    connection answer and Settings name those missing; with all of them, none."""
    from sim.meta.config import DEMO_APP_ID
    from web import create_app

    make.shop(SHOP, meta_phone_number_id=None)
    api = create_app({"APP_ENV": "test", "TESTING": True, "META_APP_ID": DEMO_APP_ID}).test_client()
    fields = meta.configure()["app_webhook_fields"]
    meta.configure(app_webhook_fields=[f for f in fields if f not in ("account_update", "user_preferences")])
    answer = api.put("/api/whatsapp", json=CONNECT, headers=bearer(SHOP))
    assert answer.status_code == 200 and answer.json["webhook_fields_missing"] == [
        "user_preferences",
        "account_update",
    ]
    meta.configure(app_webhook_fields=fields)
    again = api.post("/api/whatsapp/refresh", headers=bearer(SHOP))
    assert again.json["webhook_fields_missing"] == []
