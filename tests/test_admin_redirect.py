"""Opened outside the admin, the app sends the browser only to Shopify's own admin hosts."""

from __future__ import annotations

import base64

import pytest


def _host(decoded: str) -> str:
    return base64.urlsafe_b64encode(decoded.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "decoded",
    [
        "evil.example/x.myshopify.com/admin",
        "evil.example/admin.shopify.com/store/demo",
        "admin.shopify.com.evil.example/store/demo",
        "admin.shopify.com@evil.example/store/demo",
        "admin.shopify.com/store/demo/../../@evil.example",
        "evil.example\\@admin.shopify.com/store/demo",
        "evil.example#x.myshopify.com/admin",
        "evil.example?x.myshopify.com/admin",
        "x.myshopify.com.evil.example/admin",
        "admin.shopify.com:8443/store/demo",
        "admin.shopify.com/store/demo?next=https://evil.example",
        "//evil.example/admin.shopify.com/store/demo",
        "-bad.myshopify.com/admin",
    ],
)
def test_a_host_naming_another_site_is_not_followed(client, decoded):
    """A host parameter whose decoded address is not exactly Shopify's admin gets no redirect to it."""
    response = client.get("/", query_string={"shop": "demo.myshopify.com", "host": _host(decoded)})
    location = response.headers.get("Location", "")
    assert not location.startswith(("https:", "http:", "//")), f"{decoded!r} sent the browser to {location}"


@pytest.mark.parametrize(
    "decoded, expected",
    [
        ("admin.shopify.com/store/demo", "https://admin.shopify.com/store/demo/apps/dev-shopify-api-key"),
        ("demo-shop.myshopify.com/admin", "https://demo-shop.myshopify.com/admin/apps/dev-shopify-api-key"),
    ],
)
def test_the_admin_hosts_are_followed(client, decoded, expected):
    """The new admin (admin.shopify.com/store/x) and the legacy one (x.myshopify.com/admin) open the app."""
    response = client.get("/", query_string={"shop": "demo.myshopify.com", "host": _host(decoded)})
    assert response.status_code == 302
    assert response.headers["Location"] == expected
