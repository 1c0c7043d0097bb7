"""Web Vitals as a merchant's slow laptop meets them: headless chromium with its CPU slowed 4x
(CDP Emulation.setCPUThrottlingRate), on the campaign page of the 1,000,000-message campaign
(bench/bench_pages.py's dataset: 10,000 campaigns beside it, 1,000,000 customers) and on the
composer of the same shop, connected to the Meta stand-in (its approved templates).

Per page, RUNS fresh tabs: LCP (the last largest-contentful-paint before any input), CLS (the
sum of the layout shifts not caused by input: never below the session-window CLS Shopify
reports) and INP (the slowest interaction of the run, from Event Timing entries). Interactions
are real (trusted) clicks and key presses: on the campaign page, toggling the signal rules'
section open and shut; on the composer, choosing a template by typing its first letter in the
list, typing a campaign name and a parameter's value and ticking "Test other versions".
Event Timing reports nothing under 16 ms: a run whose interactions all stayed under it counts
16 ms (an upper bound). Figures are p75 over the runs, as Built for Shopify reads them (LCP
<= 2.5 s, CLS <= 0.1, INP <= 200 ms); ours aim at LCP < 500 ms, CLS < 0.01, INP < 50 ms.
Shopify's CDN is refused (inside chromium, CDP Network.setBlockedURLs), as in the tests: the page
is measured with our own CSS and script, without App Bridge's and Polaris's.
"""

from __future__ import annotations

import os
import statistics
import time
from unittest.mock import patch

import psycopg

from bench.figures import Figure, load_average
from core.db import libpq_url

RUNS = 5
CPU_SLOWDOWN = 4
EVENT_FLOOR_MS = 16

# Installed before the page's own scripts: every entry from the first paint on is kept.
_OBSERVE = """
window.__vitals = {lcp: 0, cls: 0, inp: 0, inputAt: null};
new PerformanceObserver(list => {
  for (const e of list.getEntries()) if (window.__vitals.inputAt === null) window.__vitals.lcp = e.startTime;
}).observe({type: 'largest-contentful-paint', buffered: true});
new PerformanceObserver(list => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__vitals.cls += e.value;
}).observe({type: 'layout-shift', buffered: true});
new PerformanceObserver(list => {
  for (const e of list.getEntries()) {
    if (!e.interactionId) continue;
    window.__vitals.inp = Math.max(window.__vitals.inp, e.duration);
  }
}).observe({type: 'event', buffered: true, durationThreshold: 16});
addEventListener('pointerdown', () => { window.__vitals.inputAt ??= performance.now(); }, true);
addEventListener('keydown', () => { window.__vitals.inputAt ??= performance.now(); }, true);
"""

# Event Timing entries arrive after the next paint: a short wait lets the last one in.
_READ = """() => new Promise(resolve =>
  requestAnimationFrame(() => setTimeout(() => resolve(window.__vitals), 300)))"""


def _connect_to_meta(database: str, shop: int) -> None:
    from core.crypto import encrypt_token
    from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "UPDATE shops SET meta_phone_number_id = %s, meta_waba_id = %s, meta_access_token_ciphertext = %s"
            " WHERE id = %s",
            (PHONE_NUMBER_ID, WABA_ID, encrypt_token(TOKEN), shop),
        )


def _campaign_interactions(page) -> None:
    rules = page.locator("[data-signal-rules] summary")
    for _ in range(2):  # open, then shut
        rules.click()


def _composer_interactions(page) -> None:
    page.get_by_label("Name").click()
    page.keyboard.type("Spring")
    page.locator("#c-template").focus()
    page.keyboard.press("p")  # type-ahead: personal_offer, whose body takes parameters
    value = page.locator("[data-parameter] [data-value]").first
    value.wait_for()
    value.click()
    page.keyboard.type("SPRING10")
    page.locator("[data-ab]").click()


def _run(browser, url: str, interact) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.add_init_script(_OBSERVE)
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        # Shopify's CDN refused inside chromium itself: a Playwright route would hold each
        # (synchronous) CDN script for a round trip to this process, which no merchant pays.
        cdp.send("Network.enable")
        cdp.send("Network.setBlockedURLs", {"urls": ["*://cdn.shopify.com/*"]})
        page.goto(url, wait_until="load")
        page.wait_for_timeout(300)  # what loads at once (the timings fragment) lands
        interact(page)
        vitals = page.evaluate(_READ)
    finally:
        context.close()
    return {"lcp": vitals["lcp"], "cls": vitals["cls"], "inp": max(vitals["inp"], EVENT_FLOOR_MS)}


def _p75(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=4, method="inclusive")[-1]


def _figures(name: str, runs: list[dict]) -> list[Figure]:
    return [
        Figure(f"{name}_lcp_p75", round(_p75([r["lcp"] for r in runs]), 1), "ms", "< 500"),
        Figure(f"{name}_cls_p75", round(_p75([r["cls"] for r in runs]), 4), "", "< 0.01"),
        Figure(f"{name}_inp_p75", round(_p75([r["inp"] for r in runs]), 1), "ms", "< 50"),
    ]


def _measure(url: str) -> list[Figure]:
    from bench.bench_pages import SHOP, _populate, _recount
    from bench.stack import meta_stand_in
    from tests.browser import admin_query, chromium, serve
    from tests.shopify_stand_in import UNREACHABLE_SHOPIFY
    from tests.tokens import session_token
    from web import create_app

    started = time.perf_counter()
    shop, big = _populate(libpq_url(url))
    _connect_to_meta(libpq_url(url), shop)
    figures = [Figure("web_vitals_dataset_build_seconds", round(time.perf_counter() - started, 1), "s")]
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with meta_stand_in():
        app = create_app({"APP_ENV": "test", "DATABASE_URL": url, "SHOPIFY_ADMIN_URL": UNREACHABLE_SHOPIFY})
        with app.app_context():
            _recount(url, shop, big)
        with serve(app) as base, chromium() as browser:

            def address(path: str) -> str:
                return f"{base}{path}?{admin_query(SHOP, session_token(SHOP, exp=int(time.time()) + 600))}"

            address_of = {"campaign_page": f"/campaigns/{big}", "composer": "/campaigns/new"}
            interactions = {"campaign_page": _campaign_interactions, "composer": _composer_interactions}
            for name, path in address_of.items():
                _run(browser, address(path), interactions[name])  # warm: templates, pools, caches
                runs = [_run(browser, address(path), interactions[name]) for _ in range(RUNS)]
                figures += _figures(name, runs)
    figures.append(Figure("web_vitals_load_average_1m", load_average(), "load"))
    return figures


def run() -> list[Figure]:
    from bench.stack import bench_database

    with bench_database() as url, patch.dict(os.environ, DATABASE_URL=url):
        return _measure(url)
