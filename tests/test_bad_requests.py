"""Signed-in requests with bad input answer a clear 400 or 404, never a 500: ids past bigint,
NUL characters, deeply nested JSON, dates at the calendar's ends; an unexpected failure of
``/api`` answers JSON without internals and is logged with its stack."""

from __future__ import annotations

import logging

import pytest

from tests.browser import admin_query
from tests.scenarios import mixed_campaign
from tests.tokens import bearer, session_token
from web import create_app

SHOP = "demo.myshopify.com"
PAST_BIGINT = "99999999999999999999"  # 20 digits: more than PostgreSQL's bigint holds


@pytest.fixture
def scenario(make):
    return mixed_campaign(make, make.shop(SHOP, timezone="Europe/Madrid"))


def _api(client, method: str, path: str, **kwargs):
    return client.open(path, method=method, headers=bearer(SHOP), **kwargs)


def _page(client, path: str, **extra):
    return client.get(f"{path}?{admin_query(SHOP, session_token(SHOP), **extra)}")


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", f"/api/campaigns/{PAST_BIGINT}"),
        ("GET", f"/api/campaigns/{PAST_BIGINT}/messages"),
        ("POST", f"/api/campaigns/{PAST_BIGINT}/launch"),
        ("GET", f"/api/customers/{PAST_BIGINT}/whatsapp"),
        ("POST", f"/api/customers/{PAST_BIGINT}/fix-phone"),
        ("GET", f"/api/data-requests/{PAST_BIGINT}"),
    ],
)
def test_an_id_past_bigint_is_a_json_404(client, scenario, method, path):
    """An id no row can have is a 404 saying so, as JSON, not a database error."""
    response = _api(client, method, path)
    assert response.status_code == 404, response.data[:300]
    body = response.get_json()
    assert body["error"] == "not_found"
    assert "9223372036854775807" in body["message"]


def test_an_id_past_bigint_on_a_page_is_a_404(client, scenario):
    """The campaign page answers 404 too for an id no campaign can have."""
    assert _page(client, f"/campaigns/{PAST_BIGINT}").status_code == 404
    assert _page(client, f"/campaigns/{PAST_BIGINT}/messages").status_code == 404


def test_every_route_with_an_id_uses_the_bounded_converter(app):
    """No route takes an unbounded whole number: a new route with an id is bounded too."""
    from web.inputs import BoundedId

    unbounded = [
        (rule.rule, name)
        for rule in app.url_map.iter_rules()
        for name, converter in rule._converters.items()
        if "int" in type(converter).__name__.lower() and not isinstance(converter, BoundedId)
    ]
    assert unbounded == []


def test_a_nul_in_the_query_is_a_400(client, scenario):
    """A NUL character in a search, a filter or a parameter's name is refused with 400 naming it."""
    campaign = scenario.campaign.id
    for query in ("q=%00", "q=ana%00", "error_code=%00", "status=%00", "%00=1", "limit=1%00"):
        response = _api(client, "GET", f"/api/campaigns/{campaign}/messages?{query}")
        assert response.status_code == 400, (query, response.data[:300])
        assert "NUL" in response.get_json()["message"]
    page = client.get(f"/campaigns/{campaign}/messages?q=%00&{admin_query(SHOP, session_token(SHOP))}")
    assert page.status_code == 400


def test_deeply_nested_json_is_a_400(client, scenario):
    """A 200 KB body of opening brackets (Python's JSON parser would recurse past its limit)
    is refused with 400, as is one nested past the depth any body of ours needs."""
    for path in ("/api/campaigns", "/api/preview", "/api/audience/estimate"):
        response = _api(client, "POST", path, data=b"[" * 200_000, content_type="application/json")
        assert response.status_code == 400, (path, response.data[:300])
        assert "nest" in response.get_json()["message"]
    nested = "[" * 40 + "]" * 40
    response = _api(client, "PUT", "/api/settings/outcomes", data=nested, content_type="application/json")
    assert response.status_code == 400, response.data[:300]


def test_a_nul_in_a_json_body_is_refused_naming_the_field(client, scenario, meta):
    """A NUL character anywhere in a JSON body (a key or a value, at any depth) is a 422 that
    names where it is, before anything is stored or anyone is asked."""
    card = {"currency": "EUR", "rates": {"ES": {"marketing": "0.05"}}, "note": "spring\u0000"}
    response = _api(client, "PUT", "/api/settings/outcomes", json={"rate_card": card})
    assert response.status_code == 422, response.data[:300]
    assert response.get_json()["errors"] == [
        {"field": "rate_card.note", "message": "must not contain a NUL character"}
    ]
    assert _api(client, "GET", "/api/settings/outcomes").get_json()["rate_card"] is None
    card = {"currency": "EUR", "rates": {"ES\u0000": {"marketing": "0.05"}}}
    response = _api(client, "PUT", "/api/settings/outcomes", json={"rate_card": card})
    assert response.status_code == 422, response.data[:300]
    assert response.get_json()["errors"][0]["field"] == "rate_card.rates"
    connect = {"waba_id": "5550001", "phone_number_id": "1234567890", "access_token": "token\u0000"}
    response = _api(client, "PUT", "/api/whatsapp", json=connect)
    assert response.status_code == 422, response.data[:300]
    assert response.get_json()["errors"][0]["field"] == "access_token"


def test_a_lone_surrogate_in_a_json_body_is_refused_naming_the_field(client, scenario):
    """JSON may escape half of a UTF-16 pair (\\ud800), which no stored text can hold: 422
    naming the field, and nothing is stored."""
    body = b'{"rate_card": {"currency": "EUR", "rates": {"ES": {"marketing": "0.05"}}, "note": "\\ud800"}}'
    response = _api(client, "PUT", "/api/settings/outcomes", data=body, content_type="application/json")
    assert response.status_code == 422, response.data[:300]
    assert response.get_json()["errors"][0]["field"] == "rate_card.note"
    assert _api(client, "GET", "/api/settings/outcomes").get_json()["rate_card"] is None


@pytest.mark.parametrize(
    "path, query",
    [
        ("/api/campaigns", "to=9999-12-31"),
        ("/api/campaigns", "from=0001-01-01"),
        ("/api/trends", "to=0001-01-05"),
        ("/api/trends", "to=9999-12-31"),
        ("/api/trends", "from=9999-12-30&to=9999-12-31"),
    ],
)
def test_a_date_at_the_calendar_s_end_is_a_400(client, scenario, path, query):
    """Dates outside the years the app can report on are refused with 400 naming the range."""
    response = _api(client, "GET", f"{path}?{query}")
    assert response.status_code == 400, response.data[:300]
    assert "1970-01-01" in response.get_json()["message"]


@pytest.mark.parametrize("path", ["/", "/trends"])
def test_a_date_at_the_calendar_s_end_on_a_page_is_a_400(client, scenario, path):
    """The campaigns list and the trends page refuse the same dates with 400."""
    assert _page(client, path, to="9999-12-31").status_code == 400
    assert _page(client, path, to="0001-01-05").status_code == 400


def test_dates_within_the_range_still_answer(client, scenario):
    """The range's own ends are accepted."""
    response = _api(client, "GET", "/api/trends?from=2026-01-01&to=2026-12-31")
    assert response.status_code == 200
    assert _api(client, "GET", "/api/campaigns?from=1970-01-01&to=2999-12-31").status_code == 200


def test_an_unknown_api_path_and_method_answer_json(client, scenario):
    """Routing errors under /api answer in the API's JSON shape."""
    missing = _api(client, "GET", "/api/no-such-thing")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    wrong = _api(client, "DELETE", "/api/campaigns")
    assert wrong.status_code == 405 and wrong.get_json()["error"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]


def test_an_unexpected_failure_answers_json_without_internals_and_is_logged(service_urls, caplog):
    """With the database gone, /api answers 500 JSON that names no internals, and the log
    keeps the stack."""
    missing = service_urls["database_url"].rsplit("/", 1)[0] + "/no_such_database_for_this_test"
    app = create_app({"APP_ENV": "test", "TESTING": True, "DATABASE_URL": missing})
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/api/campaigns", headers=bearer(SHOP))
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "internal_error"
    assert set(body) == {"error", "message"}
    for internal in ("no_such_database", "psycopg", "Traceback", "sqlalchemy", "postgresql"):
        assert internal not in response.get_data(as_text=True)
    logged = [r for r in caplog.records if r.exc_info and "/api/campaigns" in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
