"""Credit packs bought through Shopify's Billing API, against the Shopify stand-in (a real HTTP
server) and a real RQ worker: a purchase approved on the stand-in's page is credited exactly
once, whether Shopify's webhook comes three times or the merchant's return reads it first; a
declined or expired one credits nothing; another shop's purchase is never credited here; every
call sees only the session token's shop."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import CreditMovement, CreditPurchase, InboxEvent, Shop
from core.outcomes.credits import GRANT, move_credits
from core.outcomes.purchases import apply_status
from jobs.billing import check_credit_purchase
from tests.shopify_stand_in import installed_shop
from tests.shopify_webhooks import post
from tests.tokens import bearer

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

SHOP, OTHER = "demo.myshopify.com", "other-shop.myshopify.com"
TOPIC = "app_purchases_one_time/update"


@pytest.fixture
def shop(make, shopify):
    return installed_shop(make, shopify, SHOP, credits=0)


def _buy(client, pack="credits_1000", shop=SHOP) -> str:
    response = client.post("/api/credits/purchase", json={"pack": pack}, headers=bearer(shop))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["confirmation_url"]


def _decide(confirmation_url: str, choice: str) -> requests.Response:
    """What the merchant's browser does on Shopify's page: the form's POST, then the redirect."""
    return requests.post(f"{confirmation_url}/{choice}", allow_redirects=False, timeout=10)


def _webhook_of(shopify, confirmation_url: str) -> tuple[str, dict]:
    """The signed body Shopify sends for the purchase as it is now (the stand-in's own)."""
    number = confirmation_url.rsplit("/", 1)[-1]
    found = shopify.http.get(f"{shopify.url}/sim/billing/{number}", timeout=10).json()
    return found["shop"], found["body"]


def _credits(client, shop=SHOP) -> dict:
    response = client.get("/api/credits", headers=bearer(shop))
    assert response.status_code == 200
    return response.get_json()


def _grants(make, shop_id: int) -> list[CreditMovement]:
    with Session(make.engine) as session:
        return list(
            session.scalars(
                select(CreditMovement).where(CreditMovement.shop_id == shop_id, CreditMovement.kind == GRANT)
            )
        )


def _purchase(make, shop_id: int) -> CreditPurchase:
    with Session(make.engine) as session:
        return session.scalars(select(CreditPurchase).where(CreditPurchase.shop_id == shop_id)).one()


def test_credits_answer_balance_reserved_packs_and_movements(client, make):
    """GET /api/credits keeps balance and movements and adds reserved and the packs on sale."""
    shop = make.shop(SHOP, credits=0)
    sending = make.campaign(shop, "Spring sale", status="PENDING")
    with Session(make.engine) as session:
        move_credits(session, shop.id, GRANT, 100, note="top-up")
        move_credits(session, shop.id, "reserve", -6, sending.id)
        session.commit()
    answer = _credits(client)
    assert answer["balance"] == 94 and answer["reserved"] == 6
    assert answer["packs"][0] == {
        "id": "credits_1000",
        "credits": 1000,
        "price": {"amount": "10.00", "currency": "USD"},
    }
    reserve, grant = answer["movements"]
    assert reserve["kind"] == "reserve" and reserve["campaign"] == {"id": sending.id, "name": "Spring sale"}
    assert reserve["campaign_id"] == sending.id and reserve["purchase"] is None
    assert grant["kind"] == "grant" and grant["amount"] == 100 and grant["campaign"] is None


def test_an_unknown_pack_is_refused_before_shopify_is_asked(client, shop, shopify):
    response = client.post("/api/credits/purchase", json={"pack": "credits_999999"}, headers=bearer())
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "pack"
    assert shopify.stats().get("purchases_created", 0) == 0


def test_approved_purchase_is_credited_once_though_the_webhook_comes_three_times(
    client, make, run_jobs, shop, shopify
):
    """Buy, approve on the stand-in's page (it redirects back with charge_id), then Shopify's
    webhook three times (three deliveries): one grant of 1,000 credits, naming the purchase."""
    confirmation_url = _buy(client)
    assert _purchase(make, shop.id).status == "PENDING" and _purchase(make, shop.id).test is True
    page = requests.get(confirmation_url, timeout=10)
    assert "1,000 WhatsApp campaign credits" in page.text and "test charge" in page.text

    back = _decide(confirmation_url, "approve")
    assert back.status_code == 303
    assert back.headers["Location"].startswith(
        "https://admin.shopify.com/store/demo/apps/dev-shopify-api-key/settings?credit_purchase=returned&charge_id="
    )
    header_shop, body = _webhook_of(shopify, confirmation_url)
    assert header_shop == SHOP and body["app_purchase_one_time"]["status"] == "ACTIVE"
    assert set(body["app_purchase_one_time"]) == {
        "admin_graphql_api_id",
        "name",
        "status",
        "admin_graphql_api_shop_id",
        "created_at",
        "updated_at",
    }
    # Three distinct deliveries (Shopify serialises an event again on a later update): each is
    # its own inbox event, applied and read back; identical bytes would be one event already.
    for second in range(3):
        delivery = {
            "app_purchase_one_time": {
                **body["app_purchase_one_time"],
                "updated_at": f"2026-12-07T10:00:0{second}Z",
            }
        }
        assert post(client, TOPIC, delivery).status_code == 200
        run_jobs()
    with Session(make.engine) as session:
        assert session.scalars(select(InboxEvent.outcome)).all() == ["applied"] * 3

    grants = _grants(make, shop.id)
    assert [(g.amount, g.purchase_id) for g in grants] == [(1000, _purchase(make, shop.id).id)]
    assert _purchase(make, shop.id).status == "ACTIVE" and _purchase(make, shop.id).credited_at is not None
    answer = _credits(client)
    assert answer["balance"] == 1000
    purchase = answer["movements"][0]["purchase"]
    assert purchase["id"] == body["app_purchase_one_time"]["admin_graphql_api_id"]
    assert (purchase["pack"], purchase["credits"], purchase["status"]) == ("credits_1000", 1000, "ACTIVE")


def test_the_return_from_shopifys_page_credits_without_the_webhook_and_only_once(
    client, make, run_jobs, shop, shopify
):
    """The merchant comes back before any webhook: the return reads the shop's purchases from
    Shopify and credits the approved one; a second return and the late webhook add nothing."""
    confirmation_url = _buy(client, "credits_5000")
    _decide(confirmation_url, "approve")

    first = client.post("/api/credits/purchases/confirm", headers=bearer())
    assert first.status_code == 200
    assert first.get_json()["credited"] == 5000 and first.get_json()["balance"] == 5000
    again = client.post("/api/credits/purchases/confirm", headers=bearer())
    assert again.get_json()["credited"] == 0 and again.get_json()["balance"] == 5000

    post(client, TOPIC, _webhook_of(shopify, confirmation_url)[1])
    run_jobs()
    assert [g.amount for g in _grants(make, shop.id)] == [5000]
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id).credits == 5000


@pytest.mark.parametrize("ending", ["decline", "expire"])
def test_a_declined_or_expired_purchase_credits_nothing(client, make, run_jobs, shop, shopify, ending):
    confirmation_url = _buy(client)
    if ending == "decline":
        assert _decide(confirmation_url, "decline").status_code == 303
    else:
        number = confirmation_url.rsplit("/", 1)[-1]
        assert shopify.http.post(f"{shopify.url}/sim/billing/{number}/expire", timeout=10).status_code == 200
    post(client, TOPIC, _webhook_of(shopify, confirmation_url)[1])
    run_jobs()
    assert client.post("/api/credits/purchases/confirm", headers=bearer()).get_json()["credited"] == 0
    assert _grants(make, shop.id) == []
    assert _purchase(make, shop.id).status == ("DECLINED" if ending == "decline" else "EXPIRED")
    assert _credits(client)["balance"] == 0


def test_a_webhook_saying_active_is_not_believed_without_shopify(client, make, run_jobs, shop, shopify):
    """A signed body claiming ACTIVE for a purchase the merchant never approved: the read-back
    says PENDING, and nothing is credited."""
    confirmation_url = _buy(client)
    _shop, body = _webhook_of(shopify, confirmation_url)
    body["app_purchase_one_time"]["status"] = "ACTIVE"
    post(client, TOPIC, body)
    run_jobs()
    assert _grants(make, shop.id) == [] and _purchase(make, shop.id).status == "PENDING"


def test_another_shops_purchase_is_never_credited_here(client, make, run_jobs, shop, shopify):
    """Shop B's webhook and B's read-back naming A's purchase: ignored, and A's own purchase is
    still credited to A alone when A's webhook comes."""
    other = installed_shop(make, shopify, OTHER, credits=0)
    confirmation_url = _buy(client)
    _decide(confirmation_url, "approve")
    _header, body = _webhook_of(shopify, confirmation_url)
    gid = body["app_purchase_one_time"]["admin_graphql_api_id"]

    # Signed for B, naming A's purchase (its own bytes: the inbox keeps one row per body).
    forged = {"app_purchase_one_time": {**body["app_purchase_one_time"], "name": "B's pack"}}
    post(client, TOPIC, forged, shop=OTHER)
    run_jobs()
    assert client.post("/api/credits/purchases/confirm", headers=bearer(OTHER)).get_json()["credited"] == 0
    assert check_credit_purchase(other.id, gid) == {"status": None, "credited": 0, "found": False}
    with Session(make.engine) as session:
        assert not apply_status(session, other.id, gid, "ACTIVE").found
        session.rollback()
    assert _grants(make, other.id) == [] and _credits(client, OTHER)["balance"] == 0
    with Session(make.engine) as session:
        assert session.scalars(select(InboxEvent.outcome)).all() == ["ignored"]

    post(client, TOPIC, body)
    run_jobs()
    assert [g.amount for g in _grants(make, shop.id)] == [1000]
    assert _credits(client, OTHER)["movements"] == [] and _credits(client)["balance"] == 1000


def test_each_shop_confirms_and_reads_only_its_own_purchases(client, make, shop, shopify):
    """Both shops buy; B returning credits B's approved purchase, never A's, and each ledger
    shows its own."""
    installed_shop(make, shopify, OTHER, credits=0)
    mine = _buy(client)
    theirs = _buy(client, "credits_5000", shop=OTHER)
    _decide(mine, "approve")
    _decide(theirs, "approve")
    assert client.post("/api/credits/purchases/confirm", headers=bearer(OTHER)).get_json()["credited"] == 5000
    assert _credits(client)["balance"] == 0
    assert client.post("/api/credits/purchases/confirm", headers=bearer()).get_json()["credited"] == 1000
    assert [m["purchase"]["credits"] for m in _credits(client, OTHER)["movements"]] == [5000]
    assert [m["purchase"]["credits"] for m in _credits(client)["movements"]] == [1000]


def test_a_development_store_gets_a_test_charge(client, make, shop, shopify):
    """The stand-in refuses a real charge on a development store, as Shopify does; the app asks
    for a test charge there (and everywhere outside production)."""
    shopify.configure(development_stores=[SHOP])
    _buy(client)
    assert _purchase(make, shop.id).test is True


def test_the_database_refuses_a_second_grant_for_one_purchase(make, shop):
    with Session(make.engine) as session:
        move_credits(session, shop.id, GRANT, 10, purchase_id=77)
        session.commit()
        with pytest.raises(IntegrityError):
            move_credits(session, shop.id, GRANT, 10, purchase_id=77)


@pytest.mark.parametrize(("development_store", "test_charge"), [(False, False), (True, True)])
def test_in_production_only_a_development_store_gets_a_test_charge(
    make, shop, shopify, monkeypatch, development_store, test_charge
):
    """In production the charge is real, except on a development store (Shopify's
    ``shop.plan.partnerDevelopment``), which accepts test charges only."""
    import dataclasses

    from core.rules.credit_packs import PACKS
    from core.settings import get_settings
    from core.shopify import billing
    from core.shopify.admin import AdminClient

    production = dataclasses.replace(get_settings(), app_env="production")
    monkeypatch.setattr(billing, "get_settings", lambda: production)
    if development_store:
        shopify.configure(development_stores=[SHOP])
    with AdminClient(shop.id) as client:
        started = billing.buy_pack(client, shop.id, PACKS[0], "https://admin.shopify.com/store/demo/apps/x")
    assert started.test is test_charge and _purchase(make, shop.id).test is test_charge


def test_a_purchase_webhook_without_its_purchase_id_is_set_aside_unread(client, make, run_jobs, shop):
    post(client, TOPIC, {"app_purchase_one_time": {"status": "ACTIVE"}})
    run_jobs()
    with Session(make.engine) as session:
        assert session.scalars(select(InboxEvent.outcome)).all() == ["bad_payload"]
    assert _grants(make, shop.id) == []
