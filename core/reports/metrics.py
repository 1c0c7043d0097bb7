"""The four core metrics, their rates and the diagnostic signals of a campaign.

Definitions (DESIGN.md, one cumulative funnel used by the API, the page and the counters):
sent = Meta accepted it (it has a wamid); delivered = it has a delivered or read time;
read = it has a read time; failed = its status is failed or expired; clicked = it has a click.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.counts.funnel import Metrics
from core.rules.failure_codes import Category
from core.rules.wording import with_article


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def rates(m: Metrics, *, clicks_tracked: bool = True) -> dict[str, float | None]:
    """Each rate is null when its denominator is zero. Read rate is a lower bound: customers
    can turn read receipts off, and then Meta never reports a read. Click-through is null for a
    campaign whose template has nothing we can count a click on (no tracked button, no quick
    reply): zero clicks there says nothing about the message."""
    return {
        "delivery_rate": ratio(m.delivered, m.sent),
        "read_rate": ratio(m.read, m.delivered),
        "click_through_rate": ratio(m.clicked, m.read) if clicks_tracked else None,
        "failure_rate": ratio(m.failed, m.messages),
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


def signals(
    m: Metrics, failures_by_category: dict[str, int], *, settled: bool, clicks_tracked: bool = True
) -> list[Signal]:
    """Plain-language diagnostics. Rate signals wait until the campaign has settled, because
    while it sends, deliveries and reads naturally lag behind sends; the click signal needs
    clicks that can be counted at all."""
    found: list[Signal] = []
    r = rates(m, clicks_tracked=clicks_tracked)
    if settled:
        found += _rate_signals(m, r)
    found += _failure_signals(failures_by_category)
    return found


@dataclass(frozen=True)
class SignalRule:
    """One row of the campaign page's signals table: when a signal fires and what it means."""

    code: str
    metric: str
    condition: str  # the test, in words, as the page shows it
    threshold: float | int
    meaning: str


_RATE_RULES = (
    SignalRule(
        "LOW_DELIVERY_RATE",
        "delivery_rate",
        f"delivery rate below the threshold, with at least {MIN_SAMPLE} messages sent",
        LOW_DELIVERY_RATE,
        "Many messages were sent but not delivered: the audience likely holds inactive or "
        "invalid WhatsApp numbers. Clean the list before the next campaign.",
    ),
    SignalRule(
        "LOW_READ_RATE",
        "read_rate",
        f"read rate below the threshold, with at least {MIN_SAMPLE} messages delivered",
        LOW_READ_RATE,
        "Messages arrived but few were opened: try a clearer first line or another send "
        "time. (Read counts are a lower bound: some customers hide read receipts.)",
    ),
    SignalRule(
        "LOW_CLICK_THROUGH_RATE",
        "click_through_rate",
        f"click-through below the threshold, with at least {MIN_SAMPLE} messages read",
        LOW_CLICK_THROUGH_RATE,
        "Customers read the message but few acted on it: strengthen the call to action or the offer.",
    ),
)
# The sample each rate needs before its signal may fire: the rate's denominator.
_SAMPLE_OF = {"delivery_rate": "sent", "read_rate": "delivered", "click_through_rate": "read"}


def _rate_signals(m: Metrics, r: dict[str, float | None]) -> list[Signal]:
    found = []
    for rule in _RATE_RULES:
        value = r[rule.metric]
        if getattr(m, _SAMPLE_OF[rule.metric]) >= MIN_SAMPLE and value is not None and value < rule.threshold:
            found.append(Signal(rule.code, rule.meaning, rule.metric, value, rule.threshold))
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


def signal_rules() -> list[SignalRule]:
    """Every signal the campaign page can raise, for its table of thresholds and meanings."""
    failure_rules = [
        SignalRule(
            code,
            f"failed_{category}",
            f"any message failed for {with_article(category.replace('_', ' '))} reason",
            0,
            meaning,
        )
        for category, (code, meaning) in _FAILURE_SIGNALS.items()
    ]
    return [*_RATE_RULES, *failure_rules]
