"""A real server for the browser tests, and headless chromium pointed at it.

The app runs in a thread of the test process on 127.0.0.1 with a free port (Werkzeug's
threaded server), against the test session's own database and Redis; Playwright drives
Debian's chromium. Shopify's CDN is never reachable from here (tests run offline), and every
request to it is refused at once, so the pages are exercised exactly as a merchant would see
them if the CDN failed: plain HTML, our own CSS and script.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve ``app`` on a free loopback port until the block ends; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="app-under-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def tab_on(browser, base_url: str, *, width: int = 1200, height: int = 900, **options) -> Iterator:
    """A fresh tab of ``browser`` with Shopify's CDN refused; ``tab.base`` is the app's URL."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    tab = context.new_page()
    offline_cdn(tab)
    tab.base = base_url
    try:
        yield tab
    finally:
        context.close()


@contextmanager
def app_tab(config: dict | None = None, **options) -> Iterator:
    """The app served (test settings, plus ``config``) and a tab on it (``tab_on``'s options)."""
    from web import create_app

    app = create_app({"APP_ENV": "test", "TESTING": True, **(config or {})})
    with serve(app) as url, chromium() as browser, tab_on(browser, url, **options) as tab:
        yield tab


def open_embedded(page, path: str, shop: str = "demo.myshopify.com", **extra) -> None:
    """Open ``path`` of the app in ``page`` as the Shopify admin loads it: with a fresh
    session token and the admin's query parameters."""
    from tests.tokens import session_token

    separator = "&" if "?" in path else "?"
    page.goto(page.base + path + separator + admin_query(shop, session_token(shop, exp_in=600), **extra))


def offline_cdn(page) -> None:
    """Refuse every request to Shopify's CDN, as an unreachable CDN would."""
    page.route("https://cdn.shopify.com/**", lambda route: route.abort("internetdisconnected"))


def admin_query(shop: str, token: str, **extra) -> str:
    """The query string the Shopify admin gives the app home."""
    host = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtbw"  # admin.shopify.com/store/demo
    return urlencode({"embedded": "1", "shop": shop, "host": host, **extra, "id_token": token})


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
