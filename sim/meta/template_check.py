"""The stand-in checks a template send against the template's own components, as Meta does.

Meta compares every send with the approved template and refuses a mismatch with one of a few
codes (reference/whatsapp.md 3.4): 132000 (the number of parameters differs), 132012 (a
parameter's format differs, e.g. a header given as text where the template has an image),
131008 (a required parameter is missing, e.g. a URL button's suffix) and 131009 (a value is
not valid). This module reads the template the way Meta lists it (HEADER with a format, BODY
text with ``{{1}}`` or ``{{name}}`` placeholders, BUTTONS) and the send the way Meta's send API
takes it, independently of the app's own code, so the two readings can disagree and a test can
tell.
"""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")
_MEDIA = {"IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document"}


class TemplateMismatch(Exception):
    """What Meta would answer: code, title and details."""

    def __init__(self, code: int, title: str, details: str):
        super().__init__(details)
        self.code, self.title, self.details = code, title, details


def check_send(template: dict, send_components: object) -> dict:
    """Raise TemplateMismatch when the send does not fit ``template``; answer what was sent,
    by component (``header``, ``body``, ``button[i]``), for the stand-in's truth."""
    given = _by_component(send_components)
    parts = {c.get("type", "").upper(): c for c in template.get("components", [])}
    named = str(template.get("parameter_format", "")).upper() == "NAMED"
    _check_header(parts.get("HEADER"), given.pop("header", None), named)
    _check_texts("body", _placeholders(parts.get("BODY", {}).get("text")), given.pop("body", None), named)
    for index, button in enumerate((parts.get("BUTTONS") or {}).get("buttons", [])):
        _check_button(index, button, given.pop(f"button[{index}]", None))
    if given:
        where = ", ".join(sorted(given))
        raise _count_mismatch(where, "parameters for a component the template does not have")
    return _by_component(send_components)


def _by_component(components: object) -> dict[str, dict]:
    if components is None:
        return {}
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise TemplateMismatch(100, "Invalid parameter", "template.components must be a list of objects.")
    found = {}
    for component in components:
        kind = str(component.get("type", "")).lower()
        key = f"button[{component.get('index')}]" if kind == "button" else kind
        if kind not in ("header", "body", "button") or key in found:
            raise TemplateMismatch(100, "Invalid parameter", f"Unexpected or repeated component {key!r}.")
        if not isinstance(component.get("parameters", []), list):
            raise TemplateMismatch(100, "Invalid parameter", f"{key}: parameters must be a list.")
        found[key] = component
    return found


def _placeholders(text: object) -> list[str]:
    return list(dict.fromkeys(_PLACEHOLDER.findall(text if isinstance(text, str) else "")))


def _parameters(component: dict | None) -> list:
    return list((component or {}).get("parameters") or [])


def _check_header(header: dict | None, given: dict | None, named: bool) -> None:
    kind = str((header or {}).get("format") or "TEXT").upper() if header else None
    if kind in _MEDIA:
        parameters = _parameters(given)
        received = str(parameters[0].get("type", "UNKNOWN")).upper() if parameters else "UNKNOWN"
        media = parameters[0].get(_MEDIA[kind]) if parameters else None
        if len(parameters) != 1 or received != kind or not isinstance(media, dict):
            raise TemplateMismatch(
                132012,
                "Parameter format does not match format in the created template",
                f"header: Format mismatch, expected {kind}, received {received}",
            )
        link = media.get("link")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise TemplateMismatch(
                131009, "Parameter value is not valid", f"header: {kind.lower()} needs a link"
            )
        return
    placeholders = _placeholders((header or {}).get("text")) if kind == "TEXT" else []
    _check_texts("header", placeholders, given, named)


def _check_texts(where: str, placeholders: list[str], given: dict | None, named: bool) -> None:
    parameters = _parameters(given)
    for parameter in parameters:
        if not isinstance(parameter, dict) or parameter.get("type") not in ("text", "currency", "date_time"):
            raise TemplateMismatch(
                132012,
                "Parameter format does not match format in the created template",
                f"{where}: {parameter!r}",
            )
        if parameter["type"] == "text" and not str(parameter.get("text", "")).strip():
            raise TemplateMismatch(
                131008, "Required parameter is missing", f"{where}: a text parameter is empty"
            )
    if named or any(not p.isdigit() for p in placeholders):
        names = sorted(str(p.get("parameter_name")) for p in parameters)
        if names != sorted(placeholders):
            raise TemplateMismatch(
                132000,
                "Number of parameters does not match the expected number of params",
                f"{where}: parameter names {names} do not match the expected {sorted(placeholders)}",
            )
    elif len(parameters) != len(placeholders):
        raise _count_mismatch(
            where,
            f"number of localizable_params ({len(parameters)}) "
            f"does not match the expected number of params ({len(placeholders)})",
        )


def _count_mismatch(where: str, what: str) -> TemplateMismatch:
    return TemplateMismatch(
        132000, "Number of parameters does not match the expected number of params", f"{where}: {what}"
    )


# Button type -> (send sub_type, parameter type, whether a send must give it)
_BUTTONS = {
    "QUICK_REPLY": ("quick_reply", "payload", False),
    "COPY_CODE": ("copy_code", "coupon_code", True),
    "CATALOG": ("catalog", "action", False),
    "MPM": ("mpm", "action", True),
}


def _check_button(index: int, button: dict, given: dict | None) -> None:
    kind = str(button.get("type", "")).upper()
    if kind == "URL":
        dynamic = bool(_placeholders(button.get("url")))
        rule = ("url", "text", True) if dynamic else None
    else:
        rule = _BUTTONS.get(kind)
    where = f"buttons: Button at index {index} of type {kind.title()}"
    if rule is None:
        if given is not None:
            raise _count_mismatch(f"button[{index}]", "the button takes no parameter")
        return
    sub_type, parameter_type, required = rule
    if given is None:
        if required:
            raise TemplateMismatch(131008, "Required parameter is missing", f"{where} requires a parameter")
        return
    parameters = _parameters(given)
    if str(given.get("sub_type", "")).lower() != sub_type or len(parameters) != 1:
        raise _count_mismatch(f"button[{index}]", f"expected one {sub_type} parameter")
    _check_button_value(where, parameter_type, parameters[0], kind)


def _check_button_value(where: str, parameter_type: str, parameter: object, kind: str) -> None:
    value = parameter.get(parameter_type) if isinstance(parameter, dict) else None
    if not isinstance(parameter, dict) or parameter.get("type") != parameter_type or not value:
        raise TemplateMismatch(
            131008, "Required parameter is missing", f"{where} requires a {parameter_type}"
        )
    if kind == "MPM" and not (isinstance(value, dict) and value.get("sections")):
        raise TemplateMismatch(131009, "Parameter value is not valid", f"{where} needs sections")
    if kind == "COPY_CODE" and len(str(value)) > 15:
        raise TemplateMismatch(
            131009, "Parameter value is not valid", f"{where}: coupon code over 15 characters"
        )
