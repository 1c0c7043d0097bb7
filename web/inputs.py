"""What a request may carry, checked before any view reads it: ids within PostgreSQL's bigint,
no NUL character in the query string, no text a database cannot store in a JSON body, JSON
nested no deeper than any body of ours needs, and dates within the years the app reports on.

Each would otherwise reach the database or the standard library as a value they cannot hold (a
20-digit id, a NUL in a text parameter, a date whose next day does not exist) and surface as a
500; here each is a 400 or 404 (422 naming the field, for JSON) that says what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, NotFound, UnprocessableEntity
from werkzeug.routing import BaseConverter

BIGINT = 2**63 - 1
# Our deepest body (an mpm button's sections of product items) nests about 9 levels.
MAX_JSON_DEPTH = 32
# Campaigns, orders and trends live between these days; the ends leave room for a period's
# previous period and a day's end in any time zone.
FIRST_DATE, LAST_DATE = date(1970, 1, 1), date(2999, 12, 31)
NUL = "\x00"


class BoundedId(BaseConverter):
    """``<id:name>``: a row id in a URL, a whole number PostgreSQL's bigint can hold.

    A longer number names no row, so it is a 404 here, saying so, instead of an overflow in
    the database. Raised as NotFound rather than ValidationError so the answer can say why
    (a ValidationError would only mean "no route matched")."""

    regex = r"\d+"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > BIGINT:
            raise NotFound(f"No such record: ids run from 0 to {BIGINT}.")
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


def refuse_nul_in_query() -> None:
    """Refuse a query string with a NUL character in a name or a value: PostgreSQL's text
    cannot hold one, and no filter of ours needs one."""
    for name, value in request.args.items(multi=True):
        if NUL in name or NUL in value:
            raise BadRequest("Query parameters must not contain a NUL character (%00).")


class CheckedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, which also refuses (when reading a request body) nesting past
    ``MAX_JSON_DEPTH`` with 400, and with 422 naming the field any text no database can store:
    a NUL character, or half of a UTF-16 pair (JSON may escape one alone, ``"\\ud800"``).

    Views read bodies with ``get_json(silent=True)``, which swallows only ValueError: these
    refusals are HTTP errors, so they reach the client as they are."""

    def loads(self, s: str | bytes, **kwargs) -> object:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise _too_deep() from None
        for path, problem in _problems(value):
            if problem is TOO_DEEP:
                raise _too_deep()
            raise UnstorableText(path, problem)
        return value


TOO_DEEP = "nests too deep"


def _problems(value: object) -> Iterator[tuple[str, str]]:
    """(field path, problem) for each place too deep or holding text that cannot be stored,
    walked without recursion (the body may be as deep as the parser allowed)."""
    stack: list[tuple[object, str, int]] = [(value, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            if problem := _text_problem(node):
                yield path or "body", problem
        elif isinstance(node, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                yield path, TOO_DEEP
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str) and (problem := _text_problem(key)):
                    yield path or "body", problem  # the key itself cannot be echoed
                stack.append((child, f"{path}.{key}" if path else str(key), depth + 1))


def _text_problem(text: str) -> str | None:
    """Why PostgreSQL could not store ``text``, or None."""
    if NUL in text:
        return "must not contain a NUL character"
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return "must be Unicode text (half of a UTF-16 pair is not)"
    return None


def _too_deep() -> BadRequest:
    return BadRequest(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")


class UnstorableText(UnprocessableEntity):
    """A JSON body with text that cannot be stored: answered as a validation error naming the
    field."""

    error_code = "invalid_text"

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}.")
        self.errors = [{"field": field, "message": problem}]


def date_param(args, name: str) -> date | None:
    """The date query parameter ``name`` (ISO, like 2026-11-27), or None when absent; 400 when
    it is not a date, or not one between FIRST_DATE and LAST_DATE."""
    raw = args.get(name) or None
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2026-11-27") from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise BadRequest(f"{name} must be a date from {FIRST_DATE} to {LAST_DATE}")
    return day


def init_app(app: Flask) -> None:
    """Before any blueprint registers its routes: the ``id`` converter is looked up when a
    route is added."""
    app.url_map.converters["id"] = BoundedId
    app.json = CheckedJSONProvider(app)
    app.before_request(refuse_nul_in_query)
