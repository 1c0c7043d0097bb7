"""Merchant text must fit where it goes: PostgreSQL and Meta.

PostgreSQL's text and jsonb cannot hold the NUL character, so a NUL anywhere in a request
would fail at the database as a 500; Meta refuses a template parameter longer than the part of
the template it fills, which would fail every send of a launched campaign. Both are caught
when the request arrives, as 422 naming the field.
"""

from __future__ import annotations

NUL = "\x00"
# Meta's limits (its published OpenAPI description: BodyObject.text maxLength 1024,
# HeaderObject.text maxLength 60); a URL button's variable part stays within a URL's 2000.
TEXT_LIMITS = {"body": 1024, "header": 60, "button": 2000}
# The older body-only ``parameters`` fill the body.
LEGACY_PART = "body"


def nul_problems(value: object, where: str = "") -> list[dict]:
    """Each place in ``value`` (keys included) that holds a NUL character."""
    if isinstance(value, str):
        return [_problem(where, "must not contain the NUL character (\\u0000)")] if NUL in value else []
    if isinstance(value, dict):
        problems = [
            _problem(_join(where, "key"), "a key holds the NUL character") for k in value if NUL in str(k)
        ]
        for key, item in value.items():
            problems += nul_problems(item, _join(where, str(key)))
        return problems
    if isinstance(value, list):
        return [p for n, item in enumerate(value) for p in nul_problems(item, _join(where, str(n)))]
    return []


def text_limit_problems(payload: object) -> list[dict]:
    """Each template parameter text (or fallback) longer than Meta accepts where it goes."""
    if not isinstance(payload, dict):
        return []
    problems = _parameter_problems(payload.get("parameters"), "parameters", LEGACY_PART)
    components = payload.get("components")
    for n, component in enumerate(components if isinstance(components, list) else []):
        if isinstance(component, dict):
            part = str(component.get("type", "")).lower()
            where = f"components.{part}" if part != "button" else f"components.button[{n}]"
            problems += _parameter_problems(component.get("parameters"), where, part)
    return problems


def _parameter_problems(parameters: object, where: str, part: str) -> list[dict]:
    limit = TEXT_LIMITS.get(part)
    if limit is None or not isinstance(parameters, list):
        return []
    problems = []
    for n, item in enumerate(parameters):
        for name in ("text", "fallback", "payload"):
            text = item.get(name) if isinstance(item, dict) else None
            if isinstance(text, str) and len(text) > limit:
                message = f"{name} is {len(text):,} characters; Meta accepts at most {limit:,} in the {part}"
                problems.append(_problem(f"{where}.{n}", message))
    return problems


def _problem(field: str, message: str) -> dict:
    return {"field": field or "body", "message": message}


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
