"""What "Meta" decides for each accepted message, deterministically under the seed.

A message's fate depends only on (seed, phone number id, recipient, how many times that
recipient was sent to before), never on arrival order or timing, so a run with concurrent
workers makes the same decisions as a sequential one. Each fate is a list of status events
with Meta's timestamps and a posting delay; the truth summary is what the app's numbers must
equal in the end: delivered if any device got it, read if it was read, failed if Meta reported
a failure and no delivery.
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass, field

from sim.meta.config import SimConfig
from sim.meta.error_texts import ERROR_TEXTS

ERROR_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"
PRICING = {"billable": True, "pricing_model": "PMP", "type": "regular"}


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def make_wamid(seed: int, phone_number_id: str, to: str, nth: int) -> str:
    digest = hashlib.sha256(f"{seed}:{phone_number_id}:{to}:{nth}".encode()).digest()
    return "wamid." + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:48]


@dataclass
class Event:
    status: str
    timestamp: int  # Meta's clock, Unix seconds
    post_after_s: float  # when the stand-in posts it, counted from the send
    error_code: int | None = None
    pricing: bool = False


@dataclass
class Fate:
    wamid: str
    phone_number_id: str
    to: str
    callback: str | None
    outcome: str
    held: bool
    error_code: int | None
    events: list[Event] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)  # the body parameters it was sent with
    components: dict = field(default_factory=dict)  # every component it was sent with, by name
    template: dict | None = None  # the send's template object, exactly as it arrived
    category: str = "marketing"  # the template's category: the pricing category of its statuses
    user_id: str | None = None  # a business-scoped user id: the recipient has a username
    pricing_type: str = "regular"  # regular, or free_customer_service / free_entry_point
    accepted_at: float | None = None  # wall-clock time the stand-in took the send (GET /sim/sends)

    def truth(self) -> dict:
        statuses = {e.status for e in self.events}
        delivered = bool(statuses & {"delivered", "read"})
        return {
            "to": self.to,
            "callback": self.callback,
            "outcome": self.outcome,
            "held": self.held,
            "error_code": self.error_code,
            "sent": True,
            "delivered": delivered,
            "read": "read" in statuses,
            "failed": "failed" in statuses and not delivered,
            # Meta bills a delivered template message (per-message pricing since 2025-07-01).
            "billed": delivered and PRICING["billable"] and PRICING["type"] == "regular",
            "pricing_category": self.category,
            "events": [e.status for e in self.events],
            "parameters": self.parameters,
            "components": self.components,
            "template": self.template,
            "user_id": self.user_id,
        }


def decide(
    config: SimConfig, phone_number_id: str, to: str, nth: int, callback: str | None, now: float
) -> Fate:
    """The fate of the ``nth`` accepted send to ``to`` (0 for the first)."""
    wamid = make_wamid(config.seed, phone_number_id, to, nth)
    return _fate(
        config, _rng(config.seed, phone_number_id, to, nth), wamid, phone_number_id, to, callback, now
    )


def decide_for_wamid(
    config: SimConfig, phone_number_id: str, wamid: str, to: str, callback: str | None, now: float
) -> Fate:
    """The fate of a message the app already holds (a replay): decided from its wamid."""
    return _fate(config, _rng(config.seed, wamid), wamid, phone_number_id, to, callback, now)


def _fate(config, rng, wamid, phone_number_id, to, callback, now) -> Fate:
    outcome = _outcome(config, rng)
    code = _failure_code(config, rng) if outcome in ("failed", "failed_then_delivered") else None
    held = code == 132015 or (code is None and rng.random() < config.delivery.held)
    if code == 132015:
        outcome = "failed"  # dropped by pacing: never sent, never delivered
    fate = Fate(wamid, phone_number_id, to, callback, outcome, held, code)
    fate.events = _events(config, rng, outcome, code, held, now)
    fate.user_id = business_user_id(config, rng, to)
    fate.pricing_type = _pricing_type(config, rng)  # drawn last: the draws above stay as seeded
    return fate


def _pricing_type(config: SimConfig, rng: random.Random) -> str:
    d = config.delivery
    if not (d.free_customer_service or d.free_entry_point):
        return "regular"  # no draw: fates stay what they were under the seed
    draw = rng.random()
    if draw < d.free_customer_service:
        return "free_customer_service"
    if draw < d.free_customer_service + d.free_entry_point:
        return "free_entry_point"
    return "regular"


def fail_fate(config: SimConfig, fate: Fate, code: int, now: float) -> None:
    """Make an accepted message fail by webhook with ``code`` instead of its drawn fate (a
    limit Meta applies after accepting the send), its events drawn from its own wamid."""
    rng = _rng(config.seed, fate.wamid, code)
    fate.outcome, fate.error_code, fate.held = "failed", code, False
    fate.events = _events(config, rng, "failed", code, False, now)


def business_user_id(config: SimConfig, rng: random.Random, to: str | None) -> str | None:
    """The recipient's business-scoped user id when they use a WhatsApp username (a share of
    recipients): their statuses then carry ``recipient_user_id`` and leave ``recipient_id``
    out (reference/whatsapp.md 1.4). Drawn after every other decision of the fate, so those
    stay what they were under the seed."""
    if rng.random() >= config.delivery.username_share:
        return None
    return f"{_region(to or '')}.{rng.randrange(10**19, 10**20)}"


# A few calling codes' countries, for realistic BSUID prefixes; the rest get "ZZ".
_REGIONS = {
    "1": "US",
    "7": "RU",
    "33": "FR",
    "34": "ES",
    "44": "GB",
    "49": "DE",
    "52": "MX",
    "55": "BR",
    "91": "IN",
}


def _region(to: str) -> str:
    digits = to.lstrip("+")
    for length in (1, 2):
        if digits[:length] in _REGIONS:
            return _REGIONS[digits[:length]]
    return "ZZ"


def _outcome(config: SimConfig, rng: random.Random) -> str:
    d = config.delivery
    shares = [
        ("read", d.read),
        ("sent_only", d.sent_only),
        ("failed", d.failed),
        ("read_without_delivered", d.read_without_delivered),
        ("failed_then_delivered", d.failed_then_delivered),
    ]
    draw, total = rng.random(), 0.0
    for outcome, share in shares:
        total += share
        if draw < total:
            return outcome
    return "delivered"


def _failure_code(config: SimConfig, rng: random.Random) -> int:
    codes = config.delivery.failure_codes
    return int(rng.choices(list(codes), weights=list(codes.values()))[0])


def _events(config: SimConfig, rng: random.Random, outcome: str, code, held: bool, now: float) -> list[Event]:
    sent = rng.uniform(1, 5) + (rng.uniform(60, 1800) if held else 0)
    delivered = sent + rng.expovariate(1 / 20)
    read = delivered + rng.expovariate(1 / 1800)
    failed = sent + rng.uniform(1, 60)
    plan = {
        "sent_only": [("sent", sent)],
        "delivered": [("sent", sent), ("delivered", delivered)],
        "read": [("sent", sent), ("delivered", delivered), ("read", read)],
        "read_without_delivered": [("sent", sent), ("read", delivered)],
        "failed_then_delivered": [("sent", sent), ("failed", failed), ("delivered", failed + 5)],
    }.get(outcome)
    if plan is None:  # failed: dropped messages never got a "sent"; others sometimes did
        plan = (
            [("failed", failed)]
            if code == 132015 or rng.random() < 0.5
            else [("sent", sent), ("failed", failed)]
        )
    return _timed(config, rng, plan, code, now)


def _timed(config: SimConfig, rng: random.Random, plan: list, code, now: float) -> list[Event]:
    low, high = config.adversity.post_delay_s
    priced = False
    events = []
    for status, offset in plan:
        # Pricing rides on "sent" and on the first of delivered/read, never on "failed".
        pricing = status == "sent" or (status in ("delivered", "read") and not priced)
        priced = priced or status in ("delivered", "read")
        events.append(
            Event(
                status=status,
                timestamp=int(now + offset),
                post_after_s=offset / config.adversity.time_scale + rng.uniform(low, high),
                error_code=code if status == "failed" else None,
                pricing=pricing,
            )
        )
    return events


def status_object(fate: Fate, event: Event) -> dict:
    """The status as Meta's webhook carries it."""
    status = {"id": fate.wamid, "status": event.status, "timestamp": str(event.timestamp)}
    if fate.user_id is None:
        status["recipient_id"] = fate.to.lstrip("+")
    else:  # a username user: Meta may leave the phone number out and gives the BSUID
        status["recipient_user_id"] = fate.user_id
    if fate.callback is not None:
        status["biz_opaque_callback_data"] = fate.callback
    if event.pricing:
        free = fate.pricing_type != "regular"  # free messages are not billable (PMP)
        status["pricing"] = {
            **PRICING,
            "billable": not free,
            "type": fate.pricing_type,
            "category": fate.category,
        }
    if event.error_code is not None:
        title, details = ERROR_TEXTS.get(event.error_code, ("Error", "Unknown error"))
        status["errors"] = [
            {
                "code": event.error_code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
                "href": ERROR_HREF,
            }
        ]
    return status
