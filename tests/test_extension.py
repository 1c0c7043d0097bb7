"""The customer-page block (extensions/whatsapp-customer-block): the answers its component tests
mock are the API's own answers, and its type check and component tests pass under `make test`.

The JSON files in the extension's tests/fixtures/ are what GET /api/customers/<id>/whatsapp and
POST .../fix-phone answer for the scenarios below; a change to the API shape fails here until
the fixtures (and so the block's tests) follow it. Rewrite them after a deliberate change with
``UPDATE_EXTENSION_FIXTURES=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer

EXTENSION = Path(__file__).resolve().parent.parent / "extensions" / "whatsapp-customer-block"
FIXTURES = EXTENSION / "tests" / "fixtures"
SHOP = "demo.myshopify.com"
CUSTOMER = 101
CALLING = "CUSTOMER_IS_MISSING_CALLING_CODE"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _matches_fixture(name: str, answer: dict) -> None:
    path = FIXTURES / f"{name}.json"
    if os.environ.get("UPDATE_EXTENSION_FIXTURES") == "1":
        path.write_text(json.dumps(answer, indent=2, ensure_ascii=False) + "\n")
    assert json.loads(path.read_text()) == answer, f"{path.name} differs from the API's answer"


def _block_data(client) -> dict:
    response = client.get(f"/api/customers/{CUSTOMER}/whatsapp", headers=bearer(SHOP))
    assert response.status_code == 200
    return response.get_json()


def _customer(make, shop, **fields):
    fields = {"first_name": "Lucía", "last_name": "Lopez", "country_code": "ES", **fields}
    return make.customer(shop, shopify_customer_id=CUSTOMER, **fields)


def _consented(make):
    shop = make.shop(SHOP)
    ana = _customer(
        make,
        shop,
        first_name="Ana",
        phone="+34 612 34 56 78",
        phone_e164="+34612345678",
        consent_updated_at=T0,
    )
    spring, summer = make.campaign(shop, "Spring sale"), make.campaign(shop, "Summer sale")
    make.message(spring, ana, status="read", wamid="wamid.a1", sent_at=T0, read_at=T0 + timedelta(hours=1))
    make.message(
        summer, ana, status="failed", wamid="wamid.a2", sent_at=T0, failed_at=T0, error_code="131026"
    )


def _missing_calling_code(make):
    shop = make.shop(SHOP)
    lucia = _customer(make, shop, phone="612 34 56 79", consent_updated_at=T0)
    failed = make.campaign(shop, "Autumn sale")
    make.message(failed, lucia, status="failed", phone="612 34 56 79", error_code=CALLING, failed_at=T0)


def _no_messages(make):
    _customer(
        make, make.shop(SHOP), phone="+34612345679", phone_e164="+34612345679", consent="NOT_SUBSCRIBED"
    )


def _write_back_refused(make):
    """Ana stopped inside WhatsApp and Shopify refused to record it (it holds no phone for her)."""
    _customer(
        make,
        make.shop(SHOP),
        first_name="Ana",
        phone="+34612345678",
        phone_e164="+34612345678",
        consent="UNSUBSCRIBED",
        consent_source="whatsapp_stop",
        consent_updated_at=T0,
        consent_writeback_at=T0,
        consent_writeback_refused="Customer must have a phone number",
        consent_writeback_retry_at=T0 + timedelta(hours=1),
    )


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("consented", _consented),
        ("missing-calling-code", _missing_calling_code),
        ("no-messages", _no_messages),
        ("write-back-refused", _write_back_refused),
    ],
)
def test_the_blocks_fixtures_are_the_apis_answers(client, make, name, build):
    """Each state the block's tests render is exactly what the API answers for that customer."""
    build(make)
    _matches_fixture(name, _block_data(client))


def test_the_blocks_fixtures_after_apply_are_the_apis_answers(shopify, client, make):
    """Apply's answer and the block's data afterwards, as the API gives them (Shopify stand-in)."""
    shopify.put_customers(
        SHOP,
        [
            {
                "shopify_id": CUSTOMER,
                "first_name": "Lucía",
                "phone": "612 34 56 79",
                "country_code": "ES",
                "consent": "SUBSCRIBED",  # as here: the fix keeps it
            }
        ],
    )
    shop = installed_shop(make, shopify, SHOP)
    lucia = _customer(make, shop, phone="612 34 56 79", consent_updated_at=T0)
    campaign = make.campaign(shop, "Autumn sale")
    make.message(campaign, lucia, status="failed", phone="612 34 56 79", error_code=CALLING, failed_at=T0)
    applied = client.post(
        f"/api/customers/{CUSTOMER}/fix-phone", json={"phone": "+34612345679"}, headers=bearer(SHOP)
    )
    assert applied.status_code == 200
    _matches_fixture("fix-phone-answer", applied.get_json())
    _matches_fixture("after-apply", _block_data(client))


def test_the_blocks_fixture_of_an_apply_that_cost_consent_is_the_apis_answer(shopify, client, make):
    """Apply's answer when Shopify drops the customer's consents with the old number (the
    stand-in told to): the customer as now held, and the warnings the block shows."""
    shopify.configure(phone_change_resets_consent=True)
    shopify.put_customers(
        SHOP,
        [
            {
                "shopify_id": CUSTOMER,
                "first_name": "Lucía",
                "phone": "612 34 56 79",
                "country_code": "ES",
                "consent": "SUBSCRIBED",
            }
        ],
    )
    shop = installed_shop(make, shopify, SHOP)
    _customer(make, shop, phone="612 34 56 79", consent_updated_at=T0)
    applied = client.post(
        f"/api/customers/{CUSTOMER}/fix-phone", json={"phone": "+34612345679"}, headers=bearer(SHOP)
    )
    assert applied.status_code == 200
    _matches_fixture("fix-phone-reset-answer", applied.get_json())


def _npm(*args: str, timeout: int) -> subprocess.CompletedProcess:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm (Node.js 20.20+) is needed to test the customer-page block")
    return subprocess.run(
        [npm, *args], cwd=EXTENSION, capture_output=True, text=True, timeout=timeout, check=False
    )


def _installed_from_lockfile() -> bool:
    """Tell whether node_modules holds what package-lock.json names (npm copies it there)."""
    installed = EXTENSION / "node_modules" / ".package-lock.json"
    lock = EXTENSION / "package-lock.json"
    return installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime


@pytest.mark.timeout(600)
def test_the_blocks_type_check_and_component_tests_pass():
    """`npm ci` from the lockfile when needed, then `npm test` (tsc, then vitest) succeeds."""
    if not _installed_from_lockfile():
        install = _npm("ci", "--no-audit", "--no-fund", timeout=480)
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    result = _npm("test", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert " passed" in output and " failed" not in output
