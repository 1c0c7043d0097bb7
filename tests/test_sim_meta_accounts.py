"""The Meta stand-in's account endpoints answer in the shapes of Meta's own OpenAPI description:
the phone number node, the WABA's phone numbers, subscribed_apps (GET, POST and DELETE), Graph errors;
and the code exchange works once."""

from __future__ import annotations

import pytest
from jsonschema.exceptions import ValidationError

from core.whatsapp.graph import PHONE_NUMBER_FIELDS
from sim.meta.config import DEMO_APP_ID
from tests.meta_openapi import validate_meta_schema
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _get(meta, path, headers=AUTH, **params):
    return meta.http.get(f"{meta.url}/v25.0/{path}", headers=headers, params=params, timeout=10)


def test_the_schema_check_can_fail():
    """A quality rating Meta does not define, and an error without its code, are refused."""
    with pytest.raises(ValidationError):
        validate_meta_schema({"id": "1", "quality_rating": "BLUE"}, "PhoneNumberInfo")
    with pytest.raises(ValidationError):
        validate_meta_schema({"error": {"message": "x", "type": "OAuthException"}}, "GraphAPIError")


def test_the_phone_number_node_is_metas_phone_number_info(meta):
    """GET /{phone-number-id} with the fields the app asks for fits PhoneNumberInfo."""
    response = _get(meta, PHONE_NUMBER_ID, fields=PHONE_NUMBER_FIELDS)
    assert response.status_code == 200
    node = response.json()
    validate_meta_schema(node, "PhoneNumberInfo")
    assert node["throughput"] == {"level": "STANDARD"}
    assert set(node) == set(PHONE_NUMBER_FIELDS.split(","))
    default = _get(meta, PHONE_NUMBER_ID).json()
    assert set(default) == {"id", "display_phone_number", "verified_name", "quality_rating"}


def test_the_accounts_phone_numbers_are_metas_connection(meta):
    """GET /{waba-id}/phone_numbers fits WhatsAppBusinessAccountPhoneNumbersConnection."""
    response = _get(meta, f"{WABA_ID}/phone_numbers")
    assert response.status_code == 200
    validate_meta_schema(response.json(), "WhatsAppBusinessAccountPhoneNumbersConnection")
    assert [n["id"] for n in response.json()["data"]] == [PHONE_NUMBER_ID]


def test_subscribed_apps_fit_metas_schemas(meta):
    """POST answers SubscriptionResponse; GET then lists our app as SubscribedAppsResponse."""
    assert _get(meta, f"{WABA_ID}/subscribed_apps").json() == {"data": []}
    posted = meta.http.post(f"{meta.url}/v25.0/{WABA_ID}/subscribed_apps", headers=AUTH, timeout=10)
    validate_meta_schema(posted.json(), "SubscriptionResponse")
    listed = _get(meta, f"{WABA_ID}/subscribed_apps").json()
    validate_meta_schema(listed, "SubscribedAppsResponse")
    assert listed["data"][0]["whatsapp_business_api_data"]["id"] == DEMO_APP_ID


def test_unsubscribing_fits_metas_schemas_and_is_recorded(meta):
    """DELETE answers SubscriptionResponse and the app leaves the list; a second DELETE, with
    nothing subscribed, is Meta's 404 GraphAPIError; the stand-in records both."""
    url = f"{meta.url}/v25.0/{WABA_ID}/subscribed_apps"
    meta.http.post(url, headers=AUTH, timeout=10)
    deleted = meta.http.delete(url, headers=AUTH, timeout=10)
    assert deleted.status_code == 200
    validate_meta_schema(deleted.json(), "SubscriptionResponse")
    assert _get(meta, f"{WABA_ID}/subscribed_apps").json() == {"data": []}
    again = meta.http.delete(url, headers=AUTH, timeout=10)
    assert again.status_code == 404
    validate_meta_schema(again.json(), "GraphAPIError")
    record = meta.subscriptions()
    assert record["subscribed"] == {WABA_ID: []}
    assert [(u["waba_id"], u["app_id"], u["was_subscribed"]) for u in record["unsubscriptions"]] == [
        (WABA_ID, DEMO_APP_ID, True),
        (WABA_ID, DEMO_APP_ID, False),
    ]


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        (PHONE_NUMBER_ID, {"Authorization": "Bearer nonsense"}, 401, 190),
        ("999999", AUTH, 400, 100),
        ("5550002/phone_numbers", AUTH, 400, 100),  # another business's account
    ],
)
def test_refusals_are_graph_errors(meta, path, headers, status, code):
    """A bad token (190) and an object the token cannot see (100) come back as GraphAPIError."""
    response = _get(meta, path, headers=headers)
    assert response.status_code == status
    validate_meta_schema(response.json(), "GraphAPIError")
    assert response.json()["error"]["code"] == code


def test_a_signup_code_is_exchanged_once(meta):
    """oauth/access_token answers the business token for a good code, then refuses it again."""
    params = {
        "client_id": DEMO_APP_ID,
        "client_secret": meta.configure()["app_secret"],
        "code": "demo-signup-code",
    }
    first = _get(meta, "oauth/access_token", headers={}, **params)
    assert first.json() == {"access_token": "demo-signup-token", "token_type": "bearer"}
    again = _get(meta, "oauth/access_token", headers={}, **params)
    assert again.status_code == 400
    validate_meta_schema(again.json(), "GraphAPIError")
    wrong_secret = _get(meta, "oauth/access_token", headers={}, **(params | {"client_secret": "x"}))
    assert wrong_secret.json()["error"]["message"] == "Error validating client secret."
