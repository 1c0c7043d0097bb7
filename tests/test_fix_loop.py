"""The fix loop against the Shopify stand-in: preview every phone failure with its suggestion,
fix them all in a job (per-row outcome, Shopify's refusal kept with its reason), then draft
"send again" to exactly the customers fixed since the campaign."""

from __future__ import annotations

import pytest

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
