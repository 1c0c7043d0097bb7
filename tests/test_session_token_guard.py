"""The session-token guard: the tenant boundary of every API call and of the app home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shopify.utils.shop_url import sanitize_shop_domain

from tests.tokens import bearer, session_token

VECTORS = json.loads((Path(__file__).parent / "fixtures" / "shopify" / "vectors.json").read_text())
RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"


@pytest.fixture
def shop(make):
    return make.shop("demo.myshopify.com")


def _get(client, **token_kwargs):
    return client.get("/api/campaigns", headers=bearer(**token_kwargs))


@pytest.mark.smoke
def test_a_valid_token_reads_its_shop(client, shop):
    """A token signed with our secret for our app key opens the API for its shop."""
    response = _get(client)
    assert response.status_code == 200
    assert response.get_json() == {"campaigns": [], "next_cursor": None}


@pytest.mark.parametrize(
    "case, token_kwargs",
    [
        ("expired 11 s ago", {"exp_in": -11}),
        ("wrong secret", {"secret": "another-secret-of-enough-length-000000"}),
        ("wrong audience", {"aud": "someone-elses-app"}),
        ("not yet valid, 20 s ahead", {"nbf_in": 20}),
        ("issuer not a myshopify host", {"iss": "https://evil.example.com/admin"}),
        ("dest differs from issuer", {"dest": "https://other.myshopify.com"}),
        ("no expiry claim", {"drop": ("exp",)}),
        ("no sid claim", {"drop": ("sid",)}),
    ],
)
def test_bad_tokens_get_401_with_the_retry_header(client, shop, case, token_kwargs):
    """Every malformed, forged or stale token is refused with App Bridge's retry signal."""
    response = _get(client, **token_kwargs)
    assert response.status_code == 401, case
    assert response.headers[RETRY_HEADER] == "1"
    assert response.get_json()["error"] == "invalid_session_token"


def test_alg_none_is_refused(client, shop):
    """An unsigned token (alg: none) never passes, whatever its claims say."""
    response = client.get(
        "/api/campaigns", headers={"Authorization": "Bearer " + session_token(algorithm="none")}
    )
    assert response.status_code == 401
    assert response.headers[RETRY_HEADER] == "1"


def test_non_myshopify_shops_are_refused(client, make):
    """A token whose issuer and dest agree but are not a myshopify shop is refused."""
    response = client.get("/api/campaigns", headers=bearer("shop.example.com"))
    assert response.status_code == 401


@pytest.mark.parametrize("header", ["", "Token abc", "Bearer ", "bearer " + "x" * 20])
def test_missing_or_malformed_authorization_header(client, shop, header):
    """No Bearer token at all is the same as a bad one."""
    response = client.get("/api/campaigns", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers[RETRY_HEADER] == "1"


def test_clock_skew_within_ten_seconds_is_accepted(client, shop):
    """App Bridge clocks drift: exp 5 s past and nbf 9 s ahead are inside the 10 s leeway."""
    assert _get(client, exp_in=-5).status_code == 200
    assert _get(client, nbf_in=8).status_code == 200


def test_a_valid_token_for_a_shop_that_has_not_installed(client, shop):
    """A genuine token from a shop we do not know is not a retry case: it is told to install."""
    response = client.get("/api/campaigns", headers=bearer("stranger.myshopify.com"))
    assert response.status_code == 403
    assert RETRY_HEADER not in response.headers


def test_another_shops_campaign_answers_404(client, make):
    """The shop is the token's dest: another shop's campaign does not exist for it."""
    mine, theirs = make.shop("mine.myshopify.com"), make.shop("theirs.myshopify.com")
    their_campaign = make.campaign(theirs, "Their sale")
    my_campaign = make.campaign(mine, "My sale")
    assert (
        client.get(f"/api/campaigns/{my_campaign.id}", headers=bearer("mine.myshopify.com")).status_code
        == 200
    )
    response = client.get(f"/api/campaigns/{their_campaign.id}", headers=bearer("mine.myshopify.com"))
    assert response.status_code == 404
    listed = client.get("/api/campaigns", headers=bearer("mine.myshopify.com")).get_json()
    assert [c["name"] for c in listed["campaigns"]] == ["My sale"]


def test_a_shop_query_parameter_cannot_widen_the_scope(client, make):
    """Only the token decides the shop: a shop parameter naming another shop changes nothing."""
    make.shop("mine.myshopify.com")
    theirs = make.shop("theirs.myshopify.com")
    make.campaign(theirs, "Their sale")
    response = client.get("/api/campaigns?shop=theirs.myshopify.com", headers=bearer("mine.myshopify.com"))
    assert response.get_json()["campaigns"] == []


def test_shop_domains_follow_shopifys_vectors():
    """Shopify's published shop-domain cases: the validator we rely on agrees with them."""
    for raw, expected in VECTORS["shop_domains"]["valid"].items():
        assert sanitize_shop_domain(raw) == expected
    for raw in VECTORS["shop_domains"]["invalid"]:
        assert sanitize_shop_domain(raw) is None, raw


@pytest.mark.smoke
def test_app_home_with_a_valid_id_token_renders_with_the_frame_policy(client, make):
    """Inside the admin the page renders, framable only by the shop's admin and Shopify's."""
    shop = make.shop("demo.myshopify.com")
    make.campaign(shop, "Spring sale")
    response = client.get(
        "/", query_string={"embedded": "1", "shop": shop.domain, "id_token": session_token()}
    )
    assert response.status_code == 200
    assert b"Spring sale" in response.data
    assert response.headers["Content-Security-Policy"] == (
        "frame-ancestors https://demo.myshopify.com https://admin.shopify.com;"
    )


def test_app_home_without_a_valid_id_token_bounces_through_app_bridge(client, make):
    """A stale token sends the page to the bounce page, which reloads it with a fresh one."""
    make.shop("demo.myshopify.com")
    stale = session_token(exp_in=-60)
    response = client.get(
        "/", query_string={"embedded": "1", "shop": "demo.myshopify.com", "id_token": stale}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/auth/session-token?")
    assert "id_token" not in location
    assert "shopify-reload=%2F%3Fembedded%3D1%26shop%3Ddemo.myshopify.com" in location
    bounce = client.get(location)
    assert bounce.status_code == 200
    assert b"https://cdn.shopify.com/shopifycloud/app-bridge.js" in bounce.data
    assert b'content="dev-shopify-api-key"' in bounce.data
    assert bounce.headers["Content-Security-Policy"] == (
        "frame-ancestors https://demo.myshopify.com https://admin.shopify.com;"
    )


def test_frame_policy_never_trusts_an_invalid_shop_parameter(client):
    """A shop parameter that is not a myshopify domain never reaches the CSP header."""
    response = client.get("/auth/session-token", query_string={"shop": "evil.com https://attacker.example"})
    assert response.headers["Content-Security-Policy"] == "frame-ancestors https://admin.shopify.com;"


def test_opened_outside_the_admin_the_app_opens_inside_it(client):
    """Without embedded=1 the page sends the merchant to the app inside their admin."""
    import base64

    host = base64.b64encode(b"admin.shopify.com/store/demo").decode().rstrip("=")
    response = client.get("/", query_string={"shop": "demo.myshopify.com", "host": host})
    assert response.status_code == 302
    assert response.headers["Location"] == "https://admin.shopify.com/store/demo/apps/dev-shopify-api-key"


def test_dev_token_minting_is_off_outside_development(client, make):
    """The development login answers 404 in tests and production: only a dev run mints tokens."""
    make.shop("demo.myshopify.com")
    assert client.get("/dev/login?shop=demo.myshopify.com").status_code == 404
