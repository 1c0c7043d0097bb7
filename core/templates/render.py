"""Build one recipient's ``template.components`` for the send API from a campaign's components.

Literals, media links, payloads, coupon codes and catalog actions go out as the draft gave them;
a customer field becomes that customer's value (Meta refuses an empty parameter, so an empty
field falls back to the campaign's fallback text, then to a neutral word); a tracked URL button
gets this message's own token as its suffix (core/campaigns/tracking.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

NEUTRAL_FALLBACK = "there"

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
    index = component.get("index", "")
    rendered["parameters"] = [_parameter(p, recipient, track, index) for p in component["parameters"]]
    return rendered


def _parameter(parameter: dict, recipient: Recipient, track: TrackHook, index: str) -> dict:
    if "field" in parameter:
        value = recipient.value_of(parameter["field"]) or parameter.get("fallback") or NEUTRAL_FALLBACK
        return _text(value, parameter)
    if "track" in parameter:
        return _text(track(index, parameter["track"]), parameter)
    return dict(parameter)


def _text(value: str, parameter: dict) -> dict:
    named = {"parameter_name": parameter["parameter_name"]} if "parameter_name" in parameter else {}
    return {"type": "text", **named, "text": value}
