"""SendCampaignMessagesBatchJob: send a launched campaign's messages through the Cloud API.

A campaign is sent by a few lanes (RQ jobs with stable ids, so any number of workers can take
them, and at most one of each is pending). A lane is one asyncio event loop: it claims batches,
paces sends by the phone number's token bucket (core/dispatch/throttle.py: the cap holds across every
lane and worker), keeps as many sends waiting on Meta as Meta's answer time needs, and records
the answers, all overlapped so the bucket never idles. The database work runs on one thread of
the lane's own, so a slow statement never holds up a send. After a time budget the lane hands
over to its own next run, so no job runs long and a deploy or a crash loses at most one batch
of bookkeeping, never a double send (core/dispatch/claim.py).

A lane stops as soon as the shop can no longer send (it uninstalled the app, or disconnected
WhatsApp) or the campaign was halted elsewhere: it checks when it starts, its claims refuse, and
it looks again every ``STOP_CHECK_EVERY_S``; what it had claimed but not started goes back and
fails with the halt's code (core/dispatch/stop.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis import RedisError
from redis.asyncio import Redis

from core.crypto import decrypt_token
from core.db import session_scope
from core.dispatch.claim import CampaignTemplate, Outbound, claim_batch
from core.dispatch.materialise import materialise_audience
from core.dispatch.progress import finish_if_done, next_due
from core.dispatch.rate import messages_per_second
from core.dispatch.record import Outcome, RecordSummary, record_outcomes
from core.dispatch.stop import SendingStopped, check_sending, halt_pending, shop_refusal
from core.dispatch.throttle import PhoneNumberThrottle
from core.meta_webhooks.halt import HaltReason
from core.models import Campaign, Shop
from core.rules.campaign_states import CampaignStatus
from core.settings import get_settings
from core.templates.components import campaign_components
from core.whatsapp.send import MessageSender, SendResult, messages_url
from jobs.chains import ensure_monitor, run_again_in

log = logging.getLogger(__name__)

TIME_BUDGET_S = 60.0
RECORD_EVERY_S = 0.2
# How often a lane asks whether its campaign was halted elsewhere (the drain's circuit breaker)
# or its shop stopped sending: one primary-key read, ten a second per lane, against a thousand
# sends a second; every send started before the answer is one Meta may refuse again and count
# against the number (bench/bench_halt.py measures the time from the trip to the last send).
STOP_CHECK_EVERY_S = 0.1
# Meta's latency standard: a median answer within 250 ms, under 1% of answers past 1 s.
MAX_ANSWER_S = 1.0


@dataclass(frozen=True)
class Lane:
    campaign: CampaignTemplate
    phone_number_id: str
    token: str = field(repr=False)  # the Meta access token: never in a log line or traceback
    messages_per_second: int

    @property
    def batch_size(self) -> int:
        return max(20, min(self.messages_per_second, 500))

    @property
    def max_in_flight(self) -> int:
        # Sends waiting on Meta = rate x Meta's answer time (Little's law): at 1,000 a second and
        # 250 ms, 250 of them. A second's worth covers Meta's slowest usual answers; a send in
        # flight is a socket and a coroutine, so the ceiling costs nothing until it is needed.
        return max(8, int(self.messages_per_second * MAX_ANSWER_S))


def send_campaign_messages(shop_id: int, campaign_id: int, lane: int = 0) -> dict:
    """Run one lane once; return what it did, for the job's log."""
    with session_scope() as session:
        materialise_audience(session, shop_id, campaign_id)
        refused = _halt_if_shop_cannot_send(session, shop_id, campaign_id)
        context = None if refused else _load(session, shop_id, campaign_id)
    if refused is not None:
        ensure_monitor(shop_id, campaign_id, delay=1)  # it settles the halted campaign
        log.warning("campaign %s halted before sending: %s", campaign_id, refused.code)
        return {"campaign_id": campaign_id, "lane": lane, "halted": refused.code}
    if context is None:
        return {"campaign_id": campaign_id, "skipped": "not sending"}
    totals, halted = asyncio.run(_run_lane(context))
    _plan_next(shop_id, campaign_id, halted=halted)
    log.info("campaign %s lane %s: %s", campaign_id, lane, totals)
    return {"campaign_id": campaign_id, "lane": lane, **totals}


async def _run_lane(lane: Lane) -> tuple[dict, bool]:
    async with SendLoop(lane) as loop:
        totals = await loop.run(TIME_BUDGET_S)
    return totals, loop.halted


def _halt_if_shop_cannot_send(session, shop_id: int, campaign_id: int) -> HaltReason | None:
    """A pending campaign of a shop that uninstalled the app or has no WhatsApp connection halts
    here, before anything is claimed; answers the halt's reason, or None."""
    campaign = session.get(Campaign, (shop_id, campaign_id))
    if campaign is None or campaign.status != CampaignStatus.PENDING or campaign.halted_reason:
        return None
    reason = shop_refusal(session.get(Shop, shop_id))
    if reason is not None:
        halt_pending(session, shop_id, campaign_id, reason)
    return reason


def _load(session, shop_id: int, campaign_id: int) -> Lane | None:
    campaign = session.get(Campaign, (shop_id, campaign_id))
    shop = session.get(Shop, shop_id)
    if campaign is None or campaign.status != CampaignStatus.PENDING or campaign.halted_reason:
        return None
    template = CampaignTemplate(
        shop_id,
        campaign_id,
        campaign.template_name,
        campaign.template_language,
        campaign_components(campaign.template_components, campaign.template_parameters),
        shop.meta_phone_number_id,
        tuple(
            (v["id"], v["template"]["name"], v["template"]["language"], v["components"])
            for v in campaign.variants
        ),
    )
    token = decrypt_token(shop.meta_access_token_ciphertext)
    return Lane(template, shop.meta_phone_number_id, token, messages_per_second(shop))


def _plan_next(shop_id: int, campaign_id: int, *, halted: bool) -> None:
    """Run again when the next message is due, or mark dispatch finished and wake the monitor."""
    with session_scope() as session:
        due = None if halted else next_due(session, shop_id, campaign_id)
        finished = due is None and finish_if_done(session, shop_id, campaign_id)
    if due is not None:
        run_again_in(max((due - datetime.now(UTC)).total_seconds(), 0))
    elif finished:
        ensure_monitor(shop_id, campaign_id, delay=1)


class SendLoop:
    """Claim, send and record, overlapped on one event loop. Every claimed message comes back
    as exactly one outcome (answered, stopped by a halt, or never sent), so none is left
    waiting for a webhook that will not come."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane
        self.queue: deque[Outbound] = deque()  # claimed, waiting for the bucket
        self.answers: list[Outcome] = []  # answered, waiting to be recorded
        self.in_flight = 0
        self.sends: set[asyncio.Task] = set()
        self.bucket_lost = False  # Redis failed: the cap cannot be kept, so claim nothing more
        self.halted = False
        self.next_stop_check = time.monotonic() + STOP_CHECK_EVERY_S
        self.sent = 0
        self.answer_s = 0.0
        self.totals = {"claimed": 0, "accepted": 0, "failed": 0, "requeued": 0, "unconfirmed": 0}

    async def __aenter__(self) -> SendLoop:
        lane = self.lane
        self.redis = Redis.from_url(get_settings().redis_url, socket_timeout=5, socket_connect_timeout=2)
        self.throttle = PhoneNumberThrottle(self.redis, lane.phone_number_id, lane.messages_per_second)
        self.sender = MessageSender(messages_url(lane.phone_number_id), lane.token, lane.max_in_flight)
        await self.sender.__aenter__()
        self.database = ThreadPoolExecutor(1, thread_name_prefix="dispatch-db")
        self.wake = asyncio.Event()  # new work, or room for another send
        self.stop = asyncio.Event()  # the campaign halted: send nothing more
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.sender.__aexit__(*exc_info)
            await self.redis.aclose()
        finally:
            self.database.shutdown(wait=True)

    async def run(self, budget_s: float) -> dict:
        """Send until the campaign has nothing due, it halts, or ``budget_s`` has passed."""
        deadline = time.monotonic() + budget_s
        pacer = asyncio.create_task(self._pace())
        try:
            await self._claim_and_record(deadline)
        finally:
            await self._wind_down(pacer)
        # Meta's mean answer time: how many sends in flight the rate needed (max_in_flight).
        self.totals["answer_ms"] = round(self.answer_s * 1000 / max(self.sent, 1), 1)
        return self.totals

    async def _claim_and_record(self, deadline: float) -> None:
        while True:
            # Claim again while half a batch is still queued: the bucket never waits on a claim,
            # and at most a batch and a half is handed over but unsent if this worker dies.
            if self._may_claim(deadline) and len(self.queue) < self.lane.batch_size // 2:
                batch = await self._in_database(self._claim)
                if isinstance(batch, SendingStopped):
                    self._stop_sending(batch)
                    batch = []
                self.totals["claimed"] += len(batch)
                self.queue.extend(batch)
                self.wake.set()
                if not batch and self._quiet():
                    return
            elif self._quiet():
                return
            await asyncio.sleep(RECORD_EVERY_S)
            await self._record()
            await self._check_now_and_then()

    async def _check_now_and_then(self) -> None:
        """Every STOP_CHECK_EVERY_S, whether the campaign was halted elsewhere or the shop can no
        longer send: the lane's queue may hold a batch and a half it would otherwise still send."""
        if self.stop.is_set() or time.monotonic() < self.next_stop_check:
            return
        self.next_stop_check = time.monotonic() + STOP_CHECK_EVERY_S
        stopped = await self._in_database(self._check_sending)
        if stopped is not None:
            self._stop_sending(stopped)

    def _stop_sending(self, stopped: SendingStopped) -> None:
        """Send nothing more: the pacer gives back what it had not started. A halt ends
        dispatch for good; a changed number only ends this run (the next loads the new one)."""
        if stopped.reason is not None:
            self.halted = True
            log.warning("campaign %s stopped: %s", self.lane.campaign.campaign_id, stopped.reason.code)
        self.stop.set()
        self.wake.set()

    def _may_claim(self, deadline: float) -> bool:
        return not self.stop.is_set() and not self.bucket_lost and time.monotonic() < deadline

    def _quiet(self) -> bool:
        """Nothing claimed is still to send, in flight or unrecorded."""
        return not self.queue and not self.in_flight and not self.answers

    async def _wind_down(self, pacer: asyncio.Task) -> None:
        """Stop pacing (what was never sent goes back to the queue), let every send in flight
        answer, and record all of it: also when the lane ends on an error."""
        pacer.cancel()
        await asyncio.gather(pacer, return_exceptions=True)
        self._give_back(SendResult("not_sent"), stopped=True)
        if self.sends:
            await asyncio.wait(set(self.sends))
        await self._record()

    async def _pace(self) -> None:
        """Start sends as fast as the number's bucket grants them, up to the in-flight ceiling."""
        while True:
            self.wake.clear()
            if self.stop.is_set():
                self._give_back(SendResult("not_sent"), stopped=True)
            room = self.lane.max_in_flight - self.in_flight
            wanted = min(len(self.queue), room, self.throttle.burst)
            if wanted <= 0:
                await self.wake.wait()
                continue
            try:
                grant = await self.throttle.take(wanted)
            except RedisError as error:  # no grant, so nothing was sent: back to the queue
                log.warning("campaign %s: the send bucket failed: %r", self.lane.campaign.campaign_id, error)
                self.bucket_lost = True
                self._give_back(SendResult("not_sent", details=repr(error)))
                continue
            if self.stop.is_set():  # halted while the bucket answered: its grant goes unused
                continue
            for _ in range(grant.count):
                self._start_send(self.queue.popleft())
            await self._nap(grant.wait_s)

    async def _nap(self, seconds: float) -> None:
        """Sleep until the bucket refills, but wake at once for a halt."""
        if seconds > 0 and not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), seconds)

    def _give_back(self, result: SendResult, *, stopped: bool = False) -> None:
        """Answer every queued (never sent) message with ``result``."""
        while self.queue:
            outbound = self.queue.popleft()
            self.answers.append(Outcome(outbound.message_id, outbound.attempt, result, stopped=stopped))

    def _start_send(self, outbound: Outbound) -> None:
        self.in_flight += 1
        task = asyncio.create_task(self._send(outbound))
        self.sends.add(task)
        task.add_done_callback(self.sends.discard)

    async def _send(self, outbound: Outbound) -> None:
        """Never raises: an outcome must come back for every claimed message, or it would wait
        for a webhook that never comes."""
        started = time.monotonic()
        try:
            result = await self.sender.send(outbound.body)
        except Exception as error:  # a bug after the request may have left: treat it as unanswered
            log.exception("send of message %s failed unexpectedly", outbound.message_id)
            result = SendResult("unknown", details=repr(error))
        self.sent += 1
        self.answer_s += time.monotonic() - started
        self.answers.append(Outcome(outbound.message_id, outbound.attempt, result))
        self.in_flight -= 1
        self.wake.set()

    async def _in_database(self, work):
        return await asyncio.get_running_loop().run_in_executor(self.database, work)

    def _claim(self) -> list[Outbound] | SendingStopped:
        try:
            with session_scope() as session:
                return claim_batch(session, self.lane.campaign, self.lane.batch_size)
        except SendingStopped as refused:  # rolled back: nothing was handed out
            return self._check_sending() or refused

    def _check_sending(self) -> SendingStopped | None:
        campaign = self.lane.campaign
        with session_scope() as session:
            return check_sending(session, campaign.shop_id, campaign.campaign_id, campaign.phone_number_id)

    async def _record(self) -> None:
        if not self.answers:
            return
        outcomes, self.answers = self.answers, []
        try:
            summary = await self._in_database(lambda: self._write(outcomes))
        except BaseException:
            self.answers[:0] = outcomes  # for the wind-down's last try
            raise
        for key in ("accepted", "failed", "requeued", "unconfirmed"):
            self.totals[key] += getattr(summary, key)
        if summary.halted_now:
            log.warning("campaign %s halted: %s", self.lane.campaign.campaign_id, summary.halt.sentence())
        if summary.halt is not None:
            self.halted = True
            self.stop.set()
            self.wake.set()
        if summary.pause_number_s:
            await self._pause_number(summary.pause_number_s)

    def _write(self, outcomes: list[Outcome]) -> RecordSummary:
        campaign = self.lane.campaign
        with session_scope() as session:
            return record_outcomes(session, campaign.shop_id, campaign.campaign_id, outcomes)

    async def _pause_number(self, seconds: float) -> None:
        try:
            await self.throttle.pause(seconds)
        except RedisError as error:  # the bucket is gone: the pacer finds out and stops
            log.warning("campaign %s: could not pause the number: %r", self.lane.campaign.campaign_id, error)
