"""The shop's outcome settings: the attribution window and the rate card override (the credit
ledger as Settings shows it is core/outcomes/ledger.py)."""

from __future__ import annotations

from core.models import Shop
from core.outcomes.rate_card import BadRateCard, parse_override

MAX_WINDOW_DAYS = 90


class SettingsProblem(ValueError):
    """The request names bad values; ``errors`` are [{field, message}]."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(e["message"] for e in errors))
        self.errors = errors


def update_outcome_settings(shop: Shop, body: object) -> None:
    """Apply ``{"attribution_window_days": int, "rate_card": object or null}`` (either key may
    be left out) to ``shop``; raises SettingsProblem and changes nothing when any is bad."""
    if not isinstance(body, dict) or not set(body) <= {"attribution_window_days", "rate_card"}:
        raise SettingsProblem([{"field": "body", "message": "give attribution_window_days and/or rate_card"}])
    errors = []
    window = body.get("attribution_window_days", shop.attribution_window_days)
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW_DAYS:
        errors.append(
            {"field": "attribution_window_days", "message": f"a whole number of days, 1 to {MAX_WINDOW_DAYS}"}
        )
    card = body.get("rate_card", shop.rate_card)
    if card is not None:
        try:
            parse_override(card)
        except BadRateCard as problem:
            errors.append({"field": "rate_card", "message": str(problem)})
    if errors:
        raise SettingsProblem(errors)
    shop.attribution_window_days = window
    shop.rate_card = card
