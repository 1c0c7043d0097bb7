"""SendCampaignMessagesBatchJob: send a launched campaign's messages through the Cloud API.

A campaign is sent by a few lanes (RQ jobs with stable ids, so any number of workers can take
them, and at most one of each is pending). A lane claims a batch, sends it from a thread pool,
each send waiting for its slot in the phone number's token bucket (core/throttle.py: the cap
holds across every lane and worker), records the answers, and claims again, overlapping the
three so the bucket never idles. After a time budget it hands over to its own next run, so no
job runs long and a deploy or a crash loses at most one batch of bookkeeping, never a double
send (core/dispatch/claim.py).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import DefaultCookiePolicy

import requests
from redis import BlockingConnectionPool, Redis, RedisError
from requests.adapters import HTTPAdapter

from core.campaigns import CampaignStatus
from core.components import campaign_components
from core.crypto import decrypt_token
from core.db import session_scope
from core.dispatch.claim import CampaignTemplate, Outbound, claim_batch
from core.dispatch.materialise import materialise_audience
from core.dispatch.progress import finish_if_done, next_due
from core.dispatch.rate import messages_per_second
from core.dispatch.record import Outcome, record_outcomes
from core.meta_api import SendResult, send_message
from core.models import Campaign, Shop
from core.settings import get_settings
from core.throttle import PhoneNumberThrottle
from jobs.chains import ensure_monitor, run_again_in

log = logging.getLogger(__name__)

TIME_BUDGET_S = 60.0
RECORD_EVERY_S = 0.2


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
    def threads(self) -> int:
        # Sends in flight = rate x Meta's latency: at 1,000 a second and 250 ms, 250 of them,
        # spread over the lanes (lane_count). Threads mostly wait, for their slot or for Meta,
        # but past a few dozen per process they fight over the interpreter.
        return max(16, min(self.messages_per_second // 16, 64))


def send_campaign_messages(shop_id: int, campaign_id: int, lane: int = 0) -> dict:
    """Run one lane once; return what it did, for the job's log."""
    with session_scope() as session:
        materialise_audience(session, shop_id, campaign_id)
        context = _load(session, shop_id, campaign_id)
    if context is None:
        return {"campaign_id": campaign_id, "skipped": "not sending"}
    loop = SendLoop(context)
    try:
        totals = loop.run(TIME_BUDGET_S)
    finally:
        loop.close()
    _plan_next(shop_id, campaign_id, halted=loop.halted)
    log.info("campaign %s lane %s: %s", campaign_id, lane, totals)
    return {"campaign_id": campaign_id, "lane": lane, **totals}


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


def _throttle_redis(threads: int) -> Redis:
    """A client whose pool has a connection for every send thread (they all ask the bucket at
    once); a thread waits for a free connection rather than failing."""
    pool = BlockingConnectionPool.from_url(
        get_settings().redis_url, max_connections=threads + 2, timeout=30, socket_timeout=5
    )
    return Redis(connection_pool=pool)


def _meta_http(threads: int) -> requests.Session:
    """One HTTP session for the lane's send threads, its pool keeping a connection alive for
    each of them, so no send opens a connection (or waits for one) while the lane runs."""
    http = requests.Session()
    # Shared by threads: nothing a response sets may change what the next request sends.
    http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=threads)
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http


class SendLoop:
    """Claim, send and record, overlapped. The DB work stays on this thread; the pool's
    threads only wait for their slot and make the HTTP call."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane
        self.redis = _throttle_redis(lane.threads)
        self.throttle = PhoneNumberThrottle(self.redis, lane.phone_number_id, lane.messages_per_second)
        self.stop = threading.Event()
        self.halted = False
        self.http = _meta_http(lane.threads)
        self.totals = {"claimed": 0, "accepted": 0, "failed": 0, "requeued": 0, "unconfirmed": 0}

    def close(self) -> None:
        self.totals.update(late=self.throttle.late, held_back=self.throttle.held_back)
        self.redis.close()
        self.http.close()

    def run(self, budget_s: float) -> dict:
        deadline = time.monotonic() + budget_s
        inflight: set[Future] = set()
        with ThreadPoolExecutor(self.lane.threads, thread_name_prefix="send") as pool:
            while True:
                if self._may_claim(deadline) and len(inflight) < self.lane.batch_size:
                    batch = self._claim()
                    inflight |= {pool.submit(self._send, outbound) for outbound in batch}
                    if not batch and not inflight:
                        break
                elif not inflight:
                    break
                done, inflight = wait(inflight, timeout=RECORD_EVERY_S)
                self._record([future.result() for future in done])
        return self.totals

    def _may_claim(self, deadline: float) -> bool:
        return not self.stop.is_set() and time.monotonic() < deadline

    def _claim(self) -> list[Outbound]:
        with session_scope() as session:
            batch = claim_batch(session, self.lane.campaign, self.lane.batch_size)
        self.totals["claimed"] += len(batch)
        return batch

    def _send(self, outbound: Outbound) -> Outcome:
        """Never raises: an outcome must come back for every claimed message, or it would wait
        for a webhook that never comes."""
        try:
            if self.stop.is_set() or not self.throttle.acquire(self.stop):
                return Outcome(outbound.message_id, outbound.attempt, SendResult("not_sent"), stopped=True)
        except RedisError as error:  # no slot, so nothing was sent: back to the queue
            return Outcome(outbound.message_id, outbound.attempt, SendResult("not_sent", details=repr(error)))
        try:
            result = send_message(self.http, self.lane.phone_number_id, self.lane.token, outbound.body)
        except Exception as error:  # a bug after the request may have left: treat it as unanswered
            log.exception("send of message %s failed unexpectedly", outbound.message_id)
            result = SendResult("unknown", details=repr(error))
        return Outcome(outbound.message_id, outbound.attempt, result)

    def _record(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        campaign = self.lane.campaign
        with session_scope() as session:
            summary = record_outcomes(session, campaign.shop_id, campaign.campaign_id, outcomes)
        for key in ("accepted", "failed", "requeued", "unconfirmed"):
            self.totals[key] += getattr(summary, key)
        if summary.halted_now:
            log.warning("campaign %s halted: %s", campaign.campaign_id, summary.halt.sentence())
        if summary.halt is not None:
            self.halted = True
            self.stop.set()
        if summary.pause_number_s:
            self.throttle.pause(summary.pause_number_s)
