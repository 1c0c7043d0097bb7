"""Development session tokens: only `make run`'s explicit opt-in mints them, never for a proxy."""

from __future__ import annotations

import pytest

from core.ops.devstack import child_environment

LOGIN = "/dev/login?shop=demo.myshopify.com"
TOKEN = "/dev/session-token?shop=demo.myshopify.com"


def _client(service_urls, **env):
    from web import create_app

    return create_app({"TESTING": True, **env}).test_client()


def test_app_env_development_alone_never_mints(service_urls):
    """APP_ENV=development (what Shopify's CLI sets behind its tunnel) does not enable minting."""
    client = _client(service_urls, APP_ENV="development")
    assert client.get(LOGIN).status_code == 404
    assert client.get(TOKEN).status_code == 404


def test_the_opt_in_mints_for_a_loopback_request(service_urls):
    """With DEV_SESSION_TOKENS=1 in development, a direct loopback request gets a token."""
    client = _client(service_urls, APP_ENV="development", DEV_SESSION_TOKENS="1")
    assert client.get(LOGIN).status_code == 302
    response = client.get(TOKEN)
    assert response.status_code == 200
    assert response.get_json()["token"].count(".") == 2


@pytest.mark.parametrize(
    "header, value",
    [
        ("Forwarded", "for=203.0.113.9;proto=https"),
        ("X-Forwarded-For", "203.0.113.9"),
        ("X-Forwarded-Host", "abc.trycloudflare.com"),
        ("X-Forwarded-Proto", "https"),
        ("X-Real-IP", "203.0.113.9"),
        ("Via", "1.1 cloudflare"),
        ("CF-Connecting-IP", "203.0.113.9"),
        ("True-Client-IP", "203.0.113.9"),
        ("X-Client-IP", "203.0.113.9"),
    ],
)
def test_a_forwarded_request_is_refused_even_with_the_opt_in(service_urls, header, value):
    """A request that came through a proxy or tunnel (any forwarding header) never gets a token."""
    client = _client(service_urls, APP_ENV="development", DEV_SESSION_TOKENS="1")
    assert client.get(TOKEN, headers={header: value}).status_code == 404
    assert client.get(LOGIN, headers={header: value}).status_code == 404


def test_the_opt_in_is_ignored_outside_development(service_urls):
    """DEV_SESSION_TOKENS=1 does nothing in a test or production app."""
    client = _client(service_urls, APP_ENV="test", DEV_SESSION_TOKENS="1")
    assert client.get(TOKEN).status_code == 404


def test_a_remote_address_is_refused(service_urls):
    """A request from a non-loopback address never gets a token."""
    client = _client(service_urls, APP_ENV="development", DEV_SESSION_TOKENS="1")
    response = client.get(TOKEN, environ_overrides={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 404


def test_make_run_sets_the_opt_in_for_its_children():
    """`make run`'s stack gives its web server the explicit opt-in; nothing else sets it."""
    assert child_environment({"PATH": "/bin"})["DEV_SESSION_TOKENS"] == "1"
    assert child_environment({"PATH": "/bin"})["APP_ENV"] == "development"


def test_login_opens_the_next_page_of_this_app_only(service_urls):
    """Shopify's return from a charge under `make run` comes back through the login: it opens
    the page named by ``next`` with its query, and refuses another site."""
    client = _client(service_urls, APP_ENV="development", DEV_SESSION_TOKENS="1")
    response = client.get(LOGIN + "&next=/settings%3Fcredit_purchase%3Dreturned&charge_id=7")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/settings?credit_purchase=returned&embedded=1&shop=demo.myshopify.com")
    assert "id_token=" in location
    for elsewhere in ("https://evil.example/settings", "//evil.example/x", "settings"):
        refused = client.get("/dev/login", query_string={"shop": "demo.myshopify.com", "next": elsewhere})
        assert refused.status_code == 400
