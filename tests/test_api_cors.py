"""CORS on /api/* for Shopify's admin UI extensions: the preflight answered before the token
guard, the origin named on every /api answer (401 and 404 too), nothing for other origins or
outside /api, and the data itself still scoped to the token's shop."""

from __future__ import annotations

import pytest

from tests.tokens import bearer
from web.cors import EXTENSION_ORIGIN

EVIL = "https://attacker.example"
PREFLIGHT = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}


def _preflight(client, path, origin=EXTENSION_ORIGIN, method="GET"):
    headers = dict(PREFLIGHT, **{"Access-Control-Request-Method": method})
    if origin:
        headers["Origin"] = origin
    return client.open(path, method="OPTIONS", headers=headers)


@pytest.fixture
def ana(make):
    """Ana, a customer of the demo shop; the other shop is installed too."""
    make.customer(make.shop("demo.myshopify.com"), shopify_customer_id=101, first_name="Ana")
    make.shop("other.myshopify.com")


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/customers/101/whatsapp", "GET"),
        ("/api/customers/101/fix-phone", "POST"),
        ("/api/campaigns", "GET"),
    ],
)
def test_the_preflight_from_the_extension_origin_is_204_without_a_token(client, ana, path, method):
    """OPTIONS carries no token: 204 naming the origin, the headers and methods it may use."""
    response = _preflight(client, path, method=method)
    assert response.status_code == 204 and response.get_data() == b""
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert response.headers["Access-Control-Expose-Headers"] == "X-Shopify-Retry-Invalid-Session-Request"
    assert method in response.headers["Access-Control-Allow-Methods"].split(", ")
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"]


def test_the_real_request_names_the_origin_and_answers_the_tokens_shop(client, ana):
    """GET from the extension origin with the ID token: 200, the origin named, Ana's data."""
    headers = dict(bearer(), Origin=EXTENSION_ORIGIN)
    response = client.get("/api/customers/101/whatsapp", headers=headers)
    assert response.status_code == 200 and response.get_json()["customer"]["name"] == "Ana"
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN
    assert "Access-Control-Allow-Methods" not in response.headers


def test_a_401_names_the_origin_and_exposes_the_retry_header(client, ana):
    """An expired token from the extension: the browser may read the 401 and its retry header."""
    headers = dict(bearer(exp_in=-60), Origin=EXTENSION_ORIGIN)
    response = client.get("/api/customers/101/whatsapp", headers=headers)
    assert response.status_code == 401
    assert response.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN
    assert response.headers["Access-Control-Expose-Headers"] == "X-Shopify-Retry-Invalid-Session-Request"


def test_another_shops_token_from_the_extension_is_404_with_the_origin(client, ana):
    """CORS does not widen tenancy: another shop's token for Ana answers 404 (readable)."""
    headers = dict(bearer("other.myshopify.com"), Origin=EXTENSION_ORIGIN)
    response = client.get("/api/customers/101/whatsapp", headers=headers)
    assert response.status_code == 404 and "Ana" not in response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN


def test_an_unknown_origin_gets_no_cors_headers(client, ana):
    """Another site's preflight and request get no Access-Control-* header: browsers block them."""
    for response in (
        _preflight(client, "/api/customers/101/whatsapp", origin=EVIL),
        client.get("/api/customers/101/whatsapp", headers=dict(bearer(), Origin=EVIL)),
        client.get("/api/customers/101/whatsapp", headers=dict(bearer(), Origin="null")),
    ):
        assert not [name for name, _ in response.headers if name.startswith("Access-Control-")]
        assert "Origin" in response.headers["Vary"]


def test_a_preflight_without_an_origin_names_the_extension_origin(client, ana):
    """No Origin (no browser asking): the preflight still answers 204 with the extension origin."""
    response = _preflight(client, "/api/customers/101/whatsapp", origin=None)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == EXTENSION_ORIGIN


def test_outside_the_api_there_are_no_cors_headers(client, ana):
    """Pages and webhooks are not for cross-origin scripts: no CORS headers there."""
    for path in ("/webhooks/meta", "/"):
        response = client.get(path, headers={"Origin": EXTENSION_ORIGIN})
        assert "Access-Control-Allow-Origin" not in response.headers
