"""The four core metrics, their rates and the diagnostic signals of a campaign.

Definitions (DESIGN.md, one cumulative funnel used by the API, the page and the counters):
sent = Meta accepted it (it has a wamid); delivered = it has a delivered or read time;
read = it has a read time; failed = its status is failed or expired; clicked = it has a click.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.errors import Category


@dataclass(frozen=True)
class Metrics:
    messages: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    clicked: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def rates(m: Metrics) -> dict[str, float | None]:
    """Each rate is null when its denominator is zero. Read rate is a lower bound: customers
    can turn read receipts off, and then Meta never reports a read."""
    return {
        "delivery_rate": _ratio(m.delivered, m.sent),
        "read_rate": _ratio(m.read, m.delivered),
        "click_through_rate": _ratio(m.clicked, m.read),
        "failure_rate": _ratio(m.failed, m.messages),
    }


@dataclass(frozen=True)
class Signal:
    code: str
    message: str
    metric: str | None = None
    value: float | int | None = None
    threshold: float | int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


# A rate over fewer messages than this says more about chance than about the campaign.
MIN_SAMPLE = 20
LOW_DELIVERY_RATE = 0.80
LOW_READ_RATE = 0.40
LOW_CLICK_THROUGH_RATE = 0.05


def signals(m: Metrics, failures_by_category: dict[str, int], *, settled: bool) -> list[Signal]:
    """Plain-language diagnostics. Rate signals wait until the campaign has settled, because
    while it sends, deliveries and reads naturally lag behind sends."""
    found: list[Signal] = []
    r = rates(m)
    if settled:
        found += _rate_signals(m, r)
    found += _failure_signals(failures_by_category)
    return found


def _rate_signals(m: Metrics, r: dict[str, float | None]) -> list[Signal]:
    found = []
    if m.sent >= MIN_SAMPLE and r["delivery_rate"] is not None and r["delivery_rate"] < LOW_DELIVERY_RATE:
        found.append(
            Signal(
                "LOW_DELIVERY_RATE",
                "Many messages were sent but not delivered: the audience likely holds inactive or "
                "invalid WhatsApp numbers. Clean the list before the next campaign.",
                "delivery_rate",
                r["delivery_rate"],
                LOW_DELIVERY_RATE,
            )
        )
    if m.delivered >= MIN_SAMPLE and r["read_rate"] is not None and r["read_rate"] < LOW_READ_RATE:
        found.append(
            Signal(
                "LOW_READ_RATE",
                "Messages arrived but few were opened: try a clearer first line or another send "
                "time. (Read counts are a lower bound: some customers hide read receipts.)",
                "read_rate",
                r["read_rate"],
                LOW_READ_RATE,
            )
        )
    if (
        m.read >= MIN_SAMPLE
        and r["click_through_rate"] is not None
        and r["click_through_rate"] < LOW_CLICK_THROUGH_RATE
    ):
        found.append(
            Signal(
                "LOW_CLICK_THROUGH_RATE",
                "Customers read the message but few acted on it: strengthen the call to action or the offer.",
                "click_through_rate",
                r["click_through_rate"],
                LOW_CLICK_THROUGH_RATE,
            )
        )
    return found


_FAILURE_SIGNALS = {
    Category.CONSENT: (
        "CONSENT_FAILURES",
        "Some customers had not agreed to marketing messages: "
        "review where your audience's consent comes from.",
    ),
    Category.CREDIT: (
        "CREDIT_FAILURES",
        "Messages failed for lack of credit: check your balance and WhatsApp payment method.",
    ),
    Category.DATA_QUALITY: (
        "PHONE_DATA_FAILURES",
        "Some phone numbers are missing, invalid or "
        "lack a country code: fix them from the failed-messages list.",
    ),
    Category.TEMPLATE: (
        "TEMPLATE_FAILURES",
        "WhatsApp rejected the template for some messages: check it in WhatsApp Manager.",
    ),
    Category.ACCOUNT: (
        "ACCOUNT_FAILURES",
        "Your WhatsApp Business account blocked sending: it needs attention in WhatsApp Manager.",
    ),
}


def _failure_signals(failures_by_category: dict[str, int]) -> list[Signal]:
    found = []
    for category, (code, message) in _FAILURE_SIGNALS.items():
        count = failures_by_category.get(category, 0)
        if count:
            found.append(Signal(code, message, f"failed_{category}", count, 0))
    return found
