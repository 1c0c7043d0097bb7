"""Build one recipient's ``template.components`` for the send API from a campaign's components.

Literals, media links, payloads, coupon codes and catalog actions go out as the draft gave them;
a customer field becomes that customer's value (Meta refuses an empty parameter, so an empty
field falls back to the campaign's fallback text, then to a neutral word); a tracked URL button
gets this message's own token as its suffix (core/campaigns/tracking.py).

A customer's value is cleaned, not refused: Meta refuses a parameter with a line break, a tab,
more than four spaces in a row or more characters than its part takes, and answers 100 (or
132018) for that one message (core/rules/template_text.py). A first name stored in Shopify as
"Ana\n" or "Jo    Ann" would fail at Meta for a reason the customer never chose, so every run
of whitespace becomes one space and the value is cut to the part's length; a value left empty
falls back like an empty field. The merchant's own texts are refused at draft and launch
instead (core/templates/components.py), where the merchant can fix them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.rules.template_text import fit
from core.templates.components import MAX_HEADER_TEXT, MAX_TEXT, MAX_URL_SUFFIX

NEUTRAL_FALLBACK = "there"
# The most characters Meta takes in a text parameter of each part.
_LIMITS = {"header": MAX_HEADER_TEXT, "body": MAX_TEXT, "button": MAX_URL_SUFFIX}

# (button index, destination) -> the URL suffix for this message
TrackHook = Callable[[str, str], str]


@dataclass(frozen=True)
class Recipient:
    first_name: str = ""
    last_name: str = ""

    def value_of(self, field: str) -> str:
        values = {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "name": f"{self.first_name} {self.last_name}",
        }
        return values[field].strip()


def send_components(components: list[dict], recipient: Recipient, track: TrackHook) -> list[dict]:
    """The components of one send request, in header, body, buttons order."""
    order = {"header": 0, "body": 1, "button": 2}
    ordered = sorted(components, key=lambda c: (order[c["type"]], c.get("index", "")))
    return [_render(component, recipient, track) for component in ordered if component["parameters"]]


def _render(component: dict, recipient: Recipient, track: TrackHook) -> dict:
    rendered = {k: v for k, v in component.items() if k != "parameters"}
    index, limit = component.get("index", ""), _LIMITS[component["type"]]
    rendered["parameters"] = [_parameter(p, recipient, track, index, limit) for p in component["parameters"]]
    return rendered


def _parameter(parameter: dict, recipient: Recipient, track: TrackHook, index: str, limit: int) -> dict:
    if "field" in parameter:
        own = fit(recipient.value_of(parameter["field"]), limit)
        value = own or fit(parameter.get("fallback") or "", limit) or NEUTRAL_FALLBACK
        return _text(value, parameter)
    if "track" in parameter:
        return _text(track(index, parameter["track"]), parameter)
    return dict(parameter)


def _text(value: str, parameter: dict) -> dict:
    named = {"parameter_name": parameter["parameter_name"]} if "parameter_name" in parameter else {}
    return {"type": "text", **named, "text": value}
