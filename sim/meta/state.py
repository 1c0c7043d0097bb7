"""The stand-in's memory: what it accepted, what it decided, and its per-number send cap."""

from __future__ import annotations

import copy
import gc
import random
import re
import threading
import time
from collections import Counter, deque

from sim.meta.billing import Ledger
from sim.meta.config import SimConfig
from sim.meta.error_texts import ERROR_TEXTS
from sim.meta.fates import Fate, decide, decide_for_wamid, fail_fate
from sim.meta.template_check import TemplateMismatch, check_send
from sim.meta.webhooks import WebhookPoster

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Every this many accepted sends, what the stand-in keeps is set aside from the garbage collector.
SETTLE_EVERY = 1000


COEXISTENCE_CAP = 20
# Past the portfolio's messaging limit Meta delivers nothing more to new customers for 24 hours.
# Meta documents no code of its own for it (third-party tables say so too); the stand-in fails
# such a message by webhook as undeliverable, the code Meta gives when it does not say why.
MESSAGING_LIMIT_CODE = 131026
MESSAGING_WINDOW_S = 24 * 3600


class GraphError(Exception):
    """A Meta-shaped error answer."""

    def __init__(self, code: int, title: str, details: str, http_status: int = 400):
        super().__init__(title)
        self.code, self.title, self.details, self.http_status = code, title, details, http_status

    def body(self) -> dict:
        return {
            "error": {
                "message": f"(#{self.code}) {self.title}",
                "type": "OAuthException",
                "code": self.code,
                "error_data": {"messaging_product": "whatsapp", "details": self.details},
                "fbtrace_id": "AStandInTrace",
            }
        }


class MetaState:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.initial = copy.deepcopy(config)
        self.lock = threading.Lock()
        self.poster = WebhookPoster(self)
        self.reset()

    def reset(self, config: bool = False) -> None:
        """Forget every message; with ``config``, also go back to the start-up configuration."""
        if config:
            self.config = copy.deepcopy(self.initial)
        self.poster.clear()
        self.fates: dict[str, Fate] = {}
        self.sends: Counter = Counter()  # (phone number id, to) -> accepted sends
        self.rule_hits: Counter = Counter()
        self.windows: dict[str, deque] = {}
        # Meta's messaging limit: per business account, when each recipient was last reached.
        self.reached: dict[str, dict[str, float]] = {}
        self.over_limit = 0  # sends past the account's messaging limit (failed by webhook)
        self.accepted_at: list[float] = []  # wall-clock time of every accepted send
        self.arrived_at: list[float] = []  # ... and of every send that reached the cap check
        self.refused: Counter = Counter()  # error code -> answers
        self.billing = Ledger()  # what Meta billed: every delivered message (sim/meta/billing.py)

    def account(self, phone_number_id: str, token: str | None) -> dict:
        account = self.config.accounts.get(phone_number_id)
        if account is None:
            raise GraphError(
                100,
                "Unsupported post request",
                f"Object with ID '{phone_number_id}' does not exist or lacks permissions.",
            )
        if token != account["token"]:
            raise GraphError(
                190, "Invalid OAuth access token", "The access token could not be decrypted.", 401
            )
        return account

    def waba_templates(self, waba_id: str, token: str | None) -> list[dict]:
        accounts = [
            a for a in self.config.accounts.values() if a["waba_id"] == waba_id and a["token"] == token
        ]
        if not accounts:
            raise GraphError(
                190, "Invalid OAuth access token", "The access token could not be decrypted.", 401
            )
        if not all(a.get("templates_readable", True) for a in accounts):  # a token without the permission
            raise GraphError(
                200, "Requires whatsapp_business_management permission to manage the object", "", 403
            )
        return [dict(t, id=str(1000 + n)) for n, t in enumerate(self.config.templates)]

    def send(self, phone_number_id: str, token: str | None, body: object) -> tuple[Fate, dict]:
        """Accept or refuse one send. Return the fate and the recipient's rule (empty when
        none): it may drop the connection or answer without the message id."""
        account = self.account(phone_number_id, token)
        if account.get("status") == "PENDING":  # not registered on the Cloud API yet
            title, details = ERROR_TEXTS[133010]
            raise self._refuse(GraphError(133010, title, details))
        to, template = _validate(body)
        found = self._check_template(template)
        sent = self._check_components(found, template.get("components"))
        parameters = [p.get("text") for p in sent.get("body", {}).get("parameters", [])]
        with self.lock:
            rule = self._rule_for(to)
            if rule is not None and "error" in rule:
                status = int(rule.get("http_status", 400))  # Meta answers 131000 with a 500
                code = int(rule["error"])
                title, details = ERROR_TEXTS.get(code, ("Stand-in rule", f"Rule for {to}"))
                raise self._refuse(GraphError(code, title, details, status))
            self._check_cap(phone_number_id)
            nth = self.sends[(phone_number_id, to)]
            self.sends[(phone_number_id, to)] += 1
            fate = decide(
                self.config, phone_number_id, to, nth, body.get("biz_opaque_callback_data"), time.time()
            )
            if self._past_messaging_limit(account, to, time.time()):
                fail_fate(self.config, fate, MESSAGING_LIMIT_CODE, time.time())
            fate.parameters = parameters
            fate.components, fate.template = sent, template
            fate.category = str(found.get("category", "MARKETING")).lower()
            fate.accepted_at = time.time()
            self.fates[fate.wamid] = fate
            settle = len(self.fates) % SETTLE_EVERY == 0
        if settle:
            _settle_long_lived()
        self._bill(fate, account)
        self._post_later(fate)
        return fate, rule or {}

    def _past_messaging_limit(self, account: dict, to: str, now: float) -> bool:
        """Whether this send reaches a customer past the account's messaging limit (an account's
        ``messaging_limit``: unique customers per rolling 24 hours; none: unlimited). A customer
        already reached in the window costs nothing more. Called under the lock."""
        limit = account.get("messaging_limit_count")
        if not limit:
            return False
        reached = self.reached.setdefault(account.get("waba_id", ""), {})
        for customer, at in list(reached.items()):
            if at <= now - MESSAGING_WINDOW_S:
                del reached[customer]
        if to not in reached and len(reached) >= int(limit):
            self.over_limit += 1
            return True
        reached[to] = now
        return False

    def _bill(self, fate: Fate, account: dict) -> None:
        """Bill the message if it is delivered: Meta bills at its first delivered (or read)
        status, the time the ledger keeps."""
        delivered = next((e for e in fate.events if e.status in ("delivered", "read")), None)
        if delivered is None:
            return
        self.billing.bill(
            at=delivered.timestamp,
            waba_id=str(account.get("waba_id", "")),
            phone_number=str(account.get("display", "")),
            to=fate.to,
            category=fate.category,
            pricing_type=fate.pricing_type,
        )

    def _refuse(self, error: GraphError) -> GraphError:
        self.refused[error.code] += 1
        return error

    def _check_template(self, template: dict) -> dict:
        """The approved template the send names; Meta's refusal otherwise."""
        name, language = template.get("name"), (template.get("language") or {}).get("code")
        found = next(
            (t for t in self.config.templates if t["name"] == name and t["language"] == language), None
        )
        status = found["status"] if found else None
        if status == "PAUSED":
            raise self._refuse(GraphError(132015, "Template is paused", f"Template {name} is paused."))
        if status == "DISABLED":
            raise self._refuse(GraphError(132016, "Template is disabled", f"Template {name} is disabled."))
        if status != "APPROVED":
            raise self._refuse(
                GraphError(132001, "Template name does not exist in the translation", f"{name} ({language})")
            )
        return found

    def _check_components(self, found: dict, components: object) -> dict:
        try:
            return check_send(found, components)
        except TemplateMismatch as mismatch:
            raise self._refuse(GraphError(mismatch.code, mismatch.title, mismatch.details)) from None

    def _rule_for(self, to: str) -> dict | None:
        for index, rule in enumerate(self.config.rules):
            # "to": "*" answers every recipient: a code that hits a whole template or number
            if rule.get("to") in (to, "*") and self.rule_hits[index] < int(rule.get("times", 1_000_000)):
                self.rule_hits[index] += 1
                return rule
        return None

    def _check_cap(self, phone_number_id: str) -> None:
        now = time.monotonic()
        window = self.windows.setdefault(phone_number_id, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        self.arrived_at.append(time.time())
        # A coexistence number (also in the WhatsApp Business app) is fixed at 20 a second.
        on_app = self.config.accounts.get(phone_number_id, {}).get("is_on_biz_app")
        cap = COEXISTENCE_CAP if on_app else self.config.cap
        if len(window) >= max(cap, int(cap * (1 + self.config.cap_tolerance))):
            raise self._refuse(
                GraphError(130429, "Rate limit hit", "Cloud API message throughput has been reached.")
            )
        window.append(now)
        self.accepted_at.append(time.time())

    def _post_later(self, fate: Fate) -> None:
        if not self.config.webhook_url:
            return
        start = time.monotonic()
        rng = random.Random(fate.wamid)
        for event in fate.events:
            status = (fate, event)
            self.poster.schedule(fate.phone_number_id, status, start + event.post_after_s)
            if rng.random() < self.config.adversity.duplicates:  # Meta redelivers: the same status again
                again = event.post_after_s + rng.uniform(0, max(self.config.adversity.post_delay_s[1], 0.05))
                self.poster.schedule(fate.phone_number_id, status, start + again)

    def truth(self, compact: bool = False) -> dict:
        """Every accepted message's fate; ``compact``: [delivered, read, failed, error code,
        callback] per wamid, for very large campaigns."""
        with self.lock:
            fates = list(self.fates.items())
            refused = {str(code): n for code, n in self.refused.items()}
        if compact:
            messages = {}
            for wamid, fate in fates:
                t = fate.truth()
                messages[wamid] = [t["delivered"], t["read"], t["failed"], t["error_code"], t["callback"]]
        else:
            messages = {wamid: fate.truth() for wamid, fate in fates}
        return {"messages": messages, "refused": refused, "over_messaging_limit": self.over_limit}

    def send_times(self) -> dict:
        """When each accepted send arrived (wall clock), in order: a timing, not a decision, so
        kept out of the truth that runs under one seed must share."""
        with self.lock:
            fates = list(self.fates.values())
        taken = [{"to": f.to, "accepted_at": f.accepted_at} for f in fates if f.accepted_at is not None]
        return {"sends": sorted(taken, key=lambda send: send["accepted_at"])}

    def replay(self, phone_number_id: str, messages: list, total_events: int) -> dict:
        """Decide a fate for each message the app already holds ([wamid, callback, to]) and post
        exactly ``total_events`` statuses at once: every planned status, plus duplicates of
        random ones to make up the number, fully shuffled."""
        now = time.time()
        fates = [decide_for_wamid(self.config, phone_number_id, w, to, cb, now) for w, cb, to in messages]
        events = [(fate, event) for fate in fates for event in fate.events]
        if total_events < len(events):
            raise ValueError(f"{len(events)} statuses are planned; total_events must be at least that")
        rng = random.Random(self.config.seed)
        everything = events + [events[rng.randrange(len(events))] for _ in range(total_events - len(events))]
        rng.shuffle(everything)
        with self.lock:
            self.fates.update((fate.wamid, fate) for fate in fates)
        self.poster.schedule_many(phone_number_id, everything, time.monotonic())
        return {"unique": len(events), "duplicates": total_events - len(events), "total": total_events}

    def rate(self) -> dict:
        """The mean rate of accepted sends, and the largest number of sends in any one-second
        window: of those accepted, and of all that arrived (refused ones too)."""
        with self.lock:
            times, arrivals = sorted(self.accepted_at), sorted(self.arrived_at)
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        return {
            "accepted": len(times),
            "arrived": len(arrivals),
            "peak_per_1s_window": _peak(times),
            "peak_arrivals_per_1s_window": _peak(arrivals),
            "mean_per_s": (len(times) - 1) / span if span else None,
            "first": times[0] if times else None,
            "last": times[-1] if times else None,
        }


def _settle_long_lived() -> None:
    """Move what the stand-in keeps (every accepted message's fate) out of the collector's way.

    Meta does not pause to collect garbage. The stand-in did: its full collections walked every
    fate it holds, 50 to 400 ms for a 15,000-message campaign, and the sends that queued
    meanwhile were then counted as one burst, so the cap check (and the benchmark's busiest
    second) saw a burst the sender never made. Young garbage is collected first, then the
    survivors are frozen: later collections skip them (they are still freed when forgotten).
    """
    gc.collect(1)
    gc.freeze()


def _peak(times: list[float]) -> int:
    """The most of ``times`` (sorted) within any one-second window."""
    peak, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def _validate(body: object) -> tuple[str, dict]:
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        raise GraphError(100, "Invalid parameter", "messaging_product must be 'whatsapp'.")
    if body.get("type") != "template" or not isinstance(body.get("template"), dict):
        raise GraphError(100, "Invalid parameter", "The stand-in accepts template messages only.")
    to = body.get("to")
    if not isinstance(to, str) or not E164.match(to):
        raise GraphError(131009, "Parameter value is not valid", f"'to' must be E.164 with '+': {to!r}")
    callback = body.get("biz_opaque_callback_data")
    if callback is not None and (not isinstance(callback, str) or len(callback) > 512):
        raise GraphError(
            100, "Invalid parameter", "biz_opaque_callback_data must be a string of 512 or fewer."
        )
    return to, body["template"]
