"""The fix loop against the Shopify stand-in: preview every phone failure with its suggestion,
fix them all in a job (per-row outcome, Shopify's refusal kept with its reason), then draft
"send again" to exactly the customers fixed since the campaign."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session

from core.dispatch.materialise import materialise_audience
from tests.meta_stand_in import demo_connection, whatsapp_shop
from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer

SHOP = "demo.myshopify.com"
# Shopify id: (name, phone as stored, address country, our failure code)
PEOPLE = {
    8001: ("Ana", "612 34 56 79", "ES", "CUSTOMER_IS_MISSING_CALLING_CODE"),
    8002: ("Bea", "612 34 56 70", "ES", "CUSTOMER_IS_MISSING_CALLING_CODE"),  # suggestion taken by Marta
    8003: ("Cai", "612 34 56 78", None, "CUSTOMER_IS_MISSING_CALLING_CODE"),  # no country: no suggestion
    8004: ("Dan", "0034 612 345 671", "ES", "CUSTOMER_PHONE_IS_INVALID"),  # read in ES, it is valid
    8005: ("Eva", "12", "ES", "CUSTOMER_PHONE_IS_INVALID"),  # nothing to suggest: not offered
}
MARTA = 8009


@pytest.fixture
def world(shopify, make):
    # Subscribed to WhatsApp marketing in Shopify, as here (a fix stores Shopify's consent).
    people = [
        {
            "shopify_id": sid,
            "first_name": name,
            "phone": phone,
            "country_code": country,
            "consent": "SUBSCRIBED",
        }
        for sid, (name, phone, country, _code) in PEOPLE.items()
    ]
    shopify.put_customers(
        SHOP,
        [
            *people,
            {"shopify_id": MARTA, "first_name": "Marta", "phone": "+34612345670", "country_code": "ES"},
        ],
    )
    shop = installed_shop(make, shopify, SHOP)
    campaign = make.campaign(shop, "Autumn sale", status="PARTIALLY_SENT")
    for sid, (name, phone, country, code) in PEOPLE.items():
        customer = make.customer(
            shop, shopify_customer_id=sid, first_name=name, phone=phone, country_code=country
        )
        make.message(campaign, customer, status="failed", phone=phone, country_code=country, error_code=code)
    make.recount(campaign)
    return campaign


def _api(client, method: str, path: str):
    return getattr(client, method)(f"/api/campaigns{path}", headers=bearer(SHOP))


def test_preview_lists_every_fixable_failure_with_its_suggestion(client, world):
    """Calling-code failures all appear (one without a suggestion); an invalid number appears
    only when a suggestion exists."""
    preview = _api(client, "get", f"/{world.id}/fixes/preview").json
    suggested = {r["customer"]["shopify_id"]: r["suggested_phone"] for r in preview["rows"]}
    assert suggested == {8001: "+34612345679", 8002: "+34612345670", 8003: None, 8004: "+34612345671"}
    assert (preview["fixable"], preview["without_suggestion"]) == (3, 1)


def test_fix_all_writes_each_row_and_keeps_shopifys_refusal_then_send_again(client, world, shopify, run_jobs):
    """The job fixes what Shopify accepts, marks the refused row with Shopify's reason, and the
    follow-up draft goes to exactly the fixed customers, through the usual launch checks."""
    started = _api(client, "post", f"/{world.id}/fixes")
    assert started.status_code == 202 and started.json["pending"] == 3
    run_jobs()
    progress = _api(client, "get", f"/{world.id}/fixes").json
    assert (progress["total"], progress["fixed"], progress["refused"], progress["pending"]) == (3, 2, 1, 0)
    rows = {r["customer"]["shopify_id"]: r for r in progress["rows"]}
    assert rows[8002]["state"] == "refused" and "taken" in rows[8002]["reason"].lower()
    assert shopify.customer(SHOP, 8001)["phone"] == "+34612345679"
    assert shopify.customer(SHOP, 8004)["phone"] == "+34612345671"
    assert _api(client, "get", f"/{world.id}/fixes/preview").json["fixable"] == 1  # Bea is still to fix

    follow_up = _api(client, "post", f"/{world.id}/follow-up")
    assert follow_up.status_code == 201
    draft = follow_up.json
    assert draft["status"] == "DRAFT" and draft["follow_up_of"] == world.id
    assert draft["estimated_audience"] == 2 and draft["template"]["name"] == world.template_name
    checks = _api(client, "post", f"/{draft['id']}/launch")
    assert checks.status_code == 422  # the usual launch checks: this shop has no WhatsApp number
    assert {e["check"] for e in checks.json["errors"]} >= {"whatsapp_account"}


def test_send_again_with_nobody_fixed_names_the_problem(client, world):
    """Before any fix there is no one to send again to: 422 with a sentence."""
    answer = _api(client, "post", f"/{world.id}/follow-up")
    assert answer.status_code == 422 and answer.json["errors"][0]["field"] == "audience"


def test_send_again_twice_never_messages_a_customer_twice(client, make, shopify, meta, run_jobs):
    """Two "Send again" drafts made from the same campaign and both launched: each fixed
    customer gets one message, not two; a third draft made before they were sent to cannot be
    launched for no one, and a later "Send again" says they were sent to already."""
    shop = installed_shop(
        make,
        shopify,
        SHOP,
        **demo_connection(),
        messages_per_second=1000,
        credits=100,
    )
    fixable = {sid: PEOPLE[sid] for sid in (8001, 8004)}  # two customers Shopify lets us fix
    # Subscribed to WhatsApp marketing in Shopify, as here (a fix stores Shopify's consent).
    shopify.put_customers(
        SHOP,
        [
            {
                "shopify_id": sid,
                "first_name": name,
                "phone": phone,
                "country_code": country,
                "consent": "SUBSCRIBED",
            }
            for sid, (name, phone, country, _code) in fixable.items()
        ],
    )
    campaign = make.campaign(shop, "Autumn sale", status="PARTIALLY_SENT", template_name="weekly_offer")
    for sid, (name, phone, country, code) in fixable.items():
        customer = make.customer(
            shop, shopify_customer_id=sid, first_name=name, phone=phone, country_code=country
        )
        make.message(campaign, customer, status="failed", phone=phone, country_code=country, error_code=code)
    make.recount(campaign)
    assert _api(client, "post", f"/{campaign.id}/fixes").status_code == 202
    run_jobs()  # both numbers fixed in Shopify, and here

    *drafts, late = [_api(client, "post", f"/{campaign.id}/follow-up").json for _ in range(3)]
    assert [d["estimated_audience"] for d in [*drafts, late]] == [2, 2, 2]  # nobody is sent to yet
    for draft in drafts:
        assert _api(client, "post", f"/{draft['id']}/launch").status_code == 202
    run_jobs()

    sent_to = sorted(fate["to"] for fate in meta.truth()["messages"].values())
    assert sent_to == ["+34612345671", "+34612345679"]
    refused = _api(client, "post", f"/{late['id']}/launch")  # a draft made before they were sent to
    assert refused.status_code == 422 and [e["check"] for e in refused.json["errors"]] == ["audience"]
    again = _api(client, "post", f"/{campaign.id}/follow-up")
    assert again.status_code == 422 and "already" in again.json["errors"][0]["message"]


def test_two_sends_again_made_ready_at_once_take_each_customer_once(client, make, meta):
    """Two "Send again" campaigns launched together make their messages at the same moment in
    two workers: the second waits for the first, then finds the customers taken."""
    shop = whatsapp_shop(make, SHOP, credits=100)
    campaign = make.campaign(shop, "Autumn sale", status="PARTIALLY_SENT", template_name="weekly_offer")
    for n in range(2):
        fixed = f"+3461234560{n}"
        customer = make.customer(shop, phone=fixed, phone_e164=fixed, country_code="ES")
        make.message(
            campaign,
            customer,
            status="failed",
            phone=fixed[3:],
            error_code="CUSTOMER_IS_MISSING_CALLING_CODE",
        )
    drafts = [_api(client, "post", f"/{campaign.id}/follow-up").json["id"] for _ in range(2)]
    for draft in drafts:
        assert _api(client, "post", f"/{draft}/launch").status_code == 202

    first = Session(make.engine)
    try:
        assert materialise_audience(first, shop.id, drafts[0]) == 2  # not committed yet
        second: list = []
        worker = threading.Thread(target=lambda: second.append(_materialise(make, shop.id, drafts[1])))
        worker.start()
        worker.join(timeout=1)
        assert worker.is_alive()  # waiting for the first
        first.commit()
    finally:
        first.close()
    worker.join(timeout=30)
    assert second == [0]


def _materialise(make, shop_id: int, campaign_id: int) -> int | None:
    with Session(make.engine) as session, session.begin():
        return materialise_audience(session, shop_id, campaign_id)
