"""Numbers, rates, times and durations as the shop reads them: its locale, its time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision

from core.rules.wording import locale_of, plural

# "—" and "0.00" are not the same answer. "—" says the figure does not exist yet: a rate whose
# denominator is zero, revenue or cost of a campaign that delivered nothing. "0.00" (in the
# currency's own decimals) says it was measured and is zero: a campaign that delivered messages
# and won no order earned 0.00. Templates choose with ``total(..., measured=...)``.
DASH = "—"
UNIT_PRICE = "¤#,##0.00##"  # a per-message price keeps up to four places ("$0.0615")


def shop_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _one_decimal(pattern: str) -> str:
    """The locale's own percent pattern ("#,##0%", "#,##0 %", "%#,##0") with one decimal."""
    last_zero = pattern.rfind("0")
    return pattern[: last_zero + 1] + ".0" + pattern[last_zero + 1 :]


class ShopFormat:
    """Formatting bound to one shop; templates reach it as ``fmt``."""

    def __init__(self, locale: str | None, timezone: str | None):
        self.locale = locale_of(locale)
        self.zone = shop_zone(timezone)
        self.tag = str(self.locale).replace("_", "-")
        self._percent = _one_decimal(self.locale.percent_formats[None].pattern)
        # "Nov 1, 2026, 1:00 PM": the locale's medium date with its short time (no seconds).
        self._datetime = (
            str(self.locale.datetime_formats["medium"])
            .replace("{1}", self.locale.date_formats["medium"].pattern)
            .replace("{0}", self.locale.time_formats["short"].pattern)
        )

    def number(self, value: int | float | None) -> str:
        return DASH if value is None else format_decimal(value, locale=self.locale)

    def money(self, value: dict | None) -> str:
        """``{"amount": "12.5", "currency": "EUR"}`` in the shop's locale with the currency's own
        decimals: "€12.50", "¥1,235", "BHD 1.250"."""
        if not value:
            return DASH
        # Rounded half up, as Meta's and Shopify's amounts are (Babel alone rounds half to even).
        places = Decimal(1).scaleb(-get_currency_precision(value["currency"]))
        amount = Decimal(value["amount"]).quantize(places, ROUND_HALF_UP)
        return format_currency(amount, value["currency"], locale=self.locale)

    def total(self, value: dict | None, currency: str | None, *, measured: bool) -> str:
        """A campaign's revenue or cost: the amount; a zero in ``currency`` when it was measured
        and nothing came of it; "—" when there is nothing to measure yet (see DASH above)."""
        if value:
            return self.money(value)
        if measured and currency:
            return self.money({"amount": "0", "currency": currency})
        return DASH

    def unit_price(self, value: dict | None) -> str:
        """A price per message: at least the currency's two places, up to four ("$0.0615")."""
        if not value:
            return DASH
        amount = Decimal(value["amount"])
        return format_currency(
            amount, value["currency"], UNIT_PRICE, locale=self.locale, currency_digits=False
        )

    def times(self, value: float | None) -> str:
        """A ratio such as return on spend: "2.50×"; "—" when it cannot be computed."""
        return DASH if value is None else f"{format_decimal(value, '#,##0.00', locale=self.locale)}×"

    def return_on_spend(self, outcome: dict, *, measured: bool) -> str:
        """Revenue ÷ cost. A campaign that delivered, was billed and won no order returned
        0.00×, a measured zero; with nothing billed there is no ratio ("—")."""
        value = outcome["return_on_spend"]
        if value is None and measured and outcome["cost"] and not outcome["revenue"]:
            value = 0
        return self.times(value)

    def plural(self, count: int, one: str, other: str) -> str:
        """``one`` or ``other`` by the locale's plural rule, ``{n}`` written the locale's way."""
        return plural(count, one, other, self.locale)

    def percent(self, value: float | None) -> str:
        return DASH if value is None else format_percent(value, self._percent, locale=self.locale)

    def points(self, value: float | None) -> str:
        """A difference of two rates, in percentage points, signed: "+3.2 pts"."""
        if value is None:
            return DASH
        points = round(value * 100, 1)
        sign = "+" if points > 0 else ("−" if points < 0 else "±")
        return f"{sign}{format_decimal(abs(points), '0.0', locale=self.locale)} pts"

    def local(self, value: datetime) -> datetime:
        return value.astimezone(self.zone)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return DASH
        return format_datetime(value, self._datetime, tzinfo=self.zone, locale=self.locale)

    def date(self, value: date | None) -> str:
        return DASH if value is None else format_date(value, "medium", locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return DASH
        return format_timedelta(timedelta(seconds=seconds), threshold=2, format="narrow", locale=self.locale)

    def zone_name(self) -> str:
        return self.zone.key
