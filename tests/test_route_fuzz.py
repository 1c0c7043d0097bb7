"""No route answers a server error to a signed-in merchant, whatever its path parameters,
query parameters and (for POST and PUT) small JSON bodies: every route of ``app.url_map`` is
fuzzed with hypothesis, so a route added later is covered without touching this file.

The shop is real (Shopify and Meta stand-ins, a campaign with every outcome, a draft, a data
request), so drawn ids often name real rows and the views run their whole way. A 502 or 503 is
allowed only as the documented answer that Meta or Shopify could not be reached."""

from __future__ import annotations

import json
import string
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule

from core.models import CustomerDataRequest
from tests.browser import admin_query
from tests.meta_stand_in import demo_connection
from tests.scenarios import mixed_campaign
from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer, session_token
from web.inputs import BIGINT

SHOP = "demo.myshopify.com"
# The documented answers for a vendor that could not be reached (CONTRACT.md).
VENDOR_UNREACHABLE = {"meta_unavailable", "meta_unreachable", "shopify_unavailable"}
FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PAGE_SETTINGS = settings(FUZZ_SETTINGS, max_examples=15)
# Routes whose work is not a merchant's request: the webhooks (signed by Meta or Shopify, and
# fuzzed in tests/faults/test_fuzz_webhooks.py), the development login, the static files.
NOT_MERCHANT_ROUTES = ("/webhooks/", "/dev/", "/static/")

EDGE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "0",
    "-1",
    "1.5",
    "1e309",
    "NaN",
    "Infinity",
    str(BIGINT),
    str(BIGINT + 1),
    "9" * 25,
    "0001-01-01",
    "0001-01-05",
    "9999-12-31",
    "2026-02-30",
    "2026-11-27",
    "2026-11-27T25:00:00",
    "%",
    "%00",
    "[",
    "{}",
    "null",
    "true",
    "\ud7ff\uffff",
    "💥",
    "x" * 5000,
]
QUERY_NAMES = [
    "q",
    "status",
    "category",
    "error_code",
    "cursor",
    "limit",
    "from",
    "to",
    "type",
    "shop",
    "host",
    "embedded",
    "id_token",
]
BODY_KEYS = [
    "name",
    "template",
    "language",
    "audience",
    "include_tags",
    "exclude_tags",
    "components",
    "parameters",
    "type",
    "sub_type",
    "index",
    "track",
    "text",
    "field",
    "fallback",
    "definition",
    "category",
    "scheduled_at",
    "phone",
    "attribution_window_days",
    "rate_card",
    "currency",
    "rates",
    "sms_consent_counts",
    "waba_id",
    "phone_number_id",
    "access_token",
    "code",
]

texts = st.one_of(
    st.sampled_from(EDGE_TEXT), st.text(max_size=40), st.text(string.digits, min_size=1, max_size=22)
)
# JSON can escape half of a UTF-16 pair ("\\ud800"): text no database can store.
lone_surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    lone_surrogates,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(BODY_KEYS), st.text(max_size=8)), children, max_size=5),
    ),
    max_leaves=16,
)
# Raw bodies, as a client could send: not JSON, deep nesting, escapes no text can hold.
raw_bodies = st.one_of(
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
    st.sampled_from(
        [b'{"name": "\\ud800"}', b'{"phone": "\\u0000"}', b"[1e999]", b'{"a": NaN}', b"\xff\xfe"]
    ),
)
bodies = st.one_of(st.none(), json_values.map(lambda v: json.dumps(v).encode()), raw_bodies)
queries = st.dictionaries(st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=8)), texts, max_size=4)


@pytest.fixture
def shop_with_everything(make, meta, shopify):
    """A shop installed with the Shopify stand-in and connected to the Meta stand-in's number,
    with a campaign of mixed outcomes, a draft and an open data request."""
    shop = installed_shop(
        make,
        shopify,
        SHOP,
        **demo_connection(),
        credits=1000,
        messages_per_second=1000,
        timezone="Pacific/Kiritimati",
    )
    scenario = mixed_campaign(make, shop)
    draft = make.campaign(shop, "Draft", status="DRAFT")
    request = make._save(CustomerDataRequest(shop_id=shop.id, shopify_customer_id=101, held={}))
    customers = [c.shopify_customer_id for c in scenario.customers.values()]
    return {"ids": [scenario.campaign.id, draft.id, request.id, *customers]}


def _rules(app, *, api: bool) -> list[tuple[Rule, str]]:
    """Every (rule, method) of the app under /api (or every page), HEAD and OPTIONS aside."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(NOT_MERCHANT_ROUTES) or rule.rule.startswith("/api/") != api:
            continue
        found += [(rule, method) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(found, key=lambda pair: (pair[0].rule, pair[1]))


def _segments(known_ids: list[int]):
    """A path parameter: mostly a real id or a number at bigint's edges, sometimes any text."""
    return st.one_of(
        st.sampled_from([str(i) for i in known_ids]),
        st.sampled_from(["0", str(BIGINT), str(BIGINT + 1), "9" * 20, "-1", "1.0", "%00"]),
        st.integers(min_value=0, max_value=10**25).map(str),
        st.text(max_size=12),
    )


def _path_values(rule: Rule, known_ids: list[int]):
    return st.fixed_dictionaries({name: _segments(known_ids) for name in rule.arguments})


def _path(rule: Rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        for converter in ("id", "int", "string", "path", ""):
            placeholder = f"<{converter}:{name}>" if converter else f"<{name}>"
            path = path.replace(placeholder, quote(values[name], safe=""))
    return path


def _no_server_error(response, where: str) -> None:
    if response.status_code < 500:
        return
    body = response.get_json(silent=True) or {}
    assert response.status_code in (502, 503) and body.get("error") in VENDOR_UNREACHABLE, (
        where,
        response.status_code,
        response.get_data(as_text=True)[:500],
    )


def test_the_fuzz_covers_every_api_route(app):
    """Every /api route is in the fuzz's list (there are many, and some take ids)."""
    rules = _rules(app, api=True)
    assert len(rules) >= 30
    assert any(rule.arguments for rule, _ in rules)


def test_no_api_route_answers_a_server_error(app, client, shop_with_everything):
    """Fuzzed path, query and body of every /api route: never a 500."""
    for rule, method in _rules(app, api=True):
        _fuzz_api_route(client, rule, method, shop_with_everything["ids"])


def _fuzz_api_route(client, rule: Rule, method: str, known_ids: list[int]) -> None:
    headers = {**bearer(SHOP), "Content-Type": "application/json"}

    @FUZZ_SETTINGS
    @given(
        values=_path_values(rule, known_ids),
        query=queries,
        data=bodies if method in ("POST", "PUT") else st.none(),
    )
    def check(values, query, data):
        path = _path(rule, values)
        response = client.open(path, method=method, query_string=query, data=data, headers=headers)
        response.get_data()  # a streamed answer (the CSV) fails, if at all, while it is read
        response.close()  # as a WSGI server does once the answer is sent
        _no_server_error(response, f"{method} {path} {query!r} {data!r:.200}")

    check()


def test_no_page_answers_a_server_error(app, client, shop_with_everything):
    """Fuzzed path and query of every page (signed in) and of the tracked-link redirect: never a 500."""
    for rule, method in _rules(app, api=False):
        if method == "GET":
            _fuzz_page(client, rule, shop_with_everything["ids"])


def _fuzz_page(client, rule: Rule, known_ids: list[int]) -> None:
    token = session_token(SHOP)

    @PAGE_SETTINGS
    @given(values=_path_values(rule, known_ids), query=queries)
    def check(values, query):
        path = _path(rule, values)
        signed = {k: v for k, v in query.items() if k not in ("embedded", "shop", "host", "id_token")}
        response = client.get(f"{path}?{admin_query(SHOP, token, **signed)}")
        response.get_data()
        response.close()
        _no_server_error(response, f"GET {path} {query!r}")

    check()
