"""What the JSON API and the pages both show of a campaign's report, and the one cache for it.

The counters, the failure breakdown (core/counts/failures.py), the time distributions
(core/counts/timings.py) and the billed messages a cost is priced from (core/counts/billed.py) are
all kept, so each reads a few rows whatever the campaign's size; the count of customers missing a
calling code reads two partial indexes (core/reports/campaign.py), about 20 ms for 30,000 such
failures. The pages poll every few seconds, so each answer is cached under the counters it depends
on (a new message, send, delivery or failure changes the key at once) for at most a minute while
the campaign is live. What the key cannot see, and the TTL bounds: an expired message turning into
a Meta failure (a new code, same counts), a late "sent" time filled in for a message already
delivered, and a customer whose phone was fixed in Shopify itself (a fix made from our page
forgets the affected keys at once, forget_calling_code; "Fix all" changes the key, which names
the shop's latest phone fix).

The cache is an optimisation only: with Redis down or failing, every answer is computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Hashable
from datetime import date, datetime, timedelta
from typing import Any

from flask import jsonify
from redis import RedisError
from werkzeug.exceptions import BadRequest
from werkzeug.http import generate_etag

from core.campaigns.fix_loop import last_fix_done
from core.counts.timings import timings
from core.dispatch.progress import progress
from core.experiments.holdout import holdout_report
from core.experiments.test_then_send import test_then_send_json
from core.models import Campaign, Shop
from core.outcomes.pricing import account_currency
from core.redis import get_redis
from core.reports.campaign import campaign_report, failures_by_code, missing_calling_code
from core.reports.meta_billing import billing_comparison, campaign_days, last_read
from core.reports.outcomes import campaign_outcomes
from core.reports.variants import variants_report
from core.rules.campaign_states import SETTLED_STATUSES
from core.templates.components import campaign_components
from web.database import db
from web.inputs import date_param

log = logging.getLogger(__name__)

TTL_S = 60
SETTLED_TTL_S = 24 * 3600
DEFAULT_TREND_DAYS = 90
MAX_TREND_DAYS = 3 * 366


def cached_json(key: str, ttl: int, compute: Callable[[], Any]) -> Any:
    """Return the JSON answer cached under ``key``, or ``compute()``'s, cached for ``ttl`` seconds."""
    return cached_json_many({key: key}, ttl, lambda _: {key: compute()})[key]


def cached_json_many(keys: dict[Hashable, str], ttl: int, compute: Callable[[list], dict]) -> dict:
    """Return, for each item of ``keys`` (item -> cache key), its cached JSON answer; the items not
    cached are computed in one call (``compute(items)`` -> {item: answer}) and cached."""
    hits = _read(list(keys.values()))
    answers = {item: json.loads(hit) for item, hit in zip(keys, hits, strict=True) if hit is not None}
    missing = [item for item in keys if item not in answers]
    if missing:
        computed = compute(missing)
        encoded = {keys[item]: json.dumps(computed[item]) for item in missing}
        _write(encoded, ttl)
        # Decoded like a hit, so an answer looks the same whether it came from the cache or not.
        answers.update({item: json.loads(encoded[keys[item]]) for item in missing})
    return answers


def _read(keys: list[str]) -> list[bytes | None]:
    try:
        return get_redis().mget(keys)
    except RedisError as error:
        log.warning("report cache unavailable, computing: %s", error)
        return [None] * len(keys)


def _write(encoded: dict[str, str], ttl: int) -> None:
    try:
        with get_redis().pipeline() as pipe:
            for key, value in encoded.items():
                pipe.set(key, value, ex=ttl)
            pipe.execute()
    except RedisError as error:
        log.warning("report cache unavailable, not cached: %s", error)


def _key(kind: str, c: Campaign) -> str:
    counters = f"{c.messages_count}:{c.sent_count}:{c.delivered_count}:{c.failed_count}"
    return f"report:v1:{kind}:{c.shop_id}:{c.id}:{counters}"


def cached_failures(shop_id: int, campaigns: list[Campaign]) -> dict[int, list[dict]]:
    """failures_by_code for these campaigns, from the cache where it holds them."""
    keys = {c.id: _key("failures", c) for c in campaigns}

    def compute(ids: list[int]) -> dict[int, list[dict]]:
        found = failures_by_code(db(), shop_id, ids)
        return {campaign_id: found.get(campaign_id, []) for campaign_id in ids}

    return cached_json_many(keys, TTL_S, compute) if campaigns else {}


def cached_calling_code(campaign: Campaign) -> dict[str, int]:
    # Keyed on the shop's latest phone fix too: "Fix all" writes in a job, which cannot forget
    # keys the way a fix made from our page does, and the banner must not lag behind it.
    fixed = last_fix_done(db(), campaign.shop_id)
    key = f"{_key('calling_code', campaign)}:{fixed.timestamp() if fixed else 0}"
    return cached_json(key, TTL_S, lambda: missing_calling_code(db(), campaign.shop_id, campaign.id))


def forget_calling_code(campaigns: list[Campaign]) -> None:
    """A phone was fixed: the count of customers "now valid" of these campaigns changed while
    their counters did not, so their cached answers go (the rest of the minute would show the
    old count). Without Redis there is nothing to forget."""
    if campaigns:
        try:
            fixed = last_fix_done(db(), campaigns[0].shop_id)
            stamp = fixed.timestamp() if fixed else 0
            get_redis().delete(*[f"{_key('calling_code', c)}:{stamp}" for c in campaigns])
        except RedisError as error:
            log.warning("report cache unavailable, nothing forgotten: %s", error)


def cached_timings(campaign: Campaign) -> dict:
    """The campaign's time-to-deliver and time-to-read distributions."""
    key = (
        f"timings:v1:{campaign.shop_id}:{campaign.id}:"
        f"{campaign.sent_count}:{campaign.delivered_count}:{campaign.read_count}"
    )
    ttl = SETTLED_TTL_S if campaign.status in SETTLED_STATUSES else TTL_S
    return cached_json(key, ttl, lambda: timings(db(), campaign.shop_id, campaign.id))


def trend_period(args, today: date) -> tuple[date, date]:
    """``from``/``to`` as ISO dates (shop calendar days); the last 90 days by default."""
    end = date_param(args, "to") or today
    start = date_param(args, "from") or end - timedelta(DEFAULT_TREND_DAYS - 1)
    if start > end:
        raise BadRequest("from must not be after to")
    if (end - start).days >= MAX_TREND_DAYS:
        raise BadRequest(f"a trend period spans at most {MAX_TREND_DAYS} days")
    return start, end


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The same number of days just before: the like-for-like comparison."""
    days = (end - start).days + 1
    return start - timedelta(days), start - timedelta(1)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _outcome_counters(c: Campaign) -> str:
    return f"{c.delivered_count}:{c.read_count}:{c.clicked_count}"


def cached_outcomes(campaigns: list[Campaign]) -> dict[int, dict]:
    """core.reports.outcomes.campaign_outcomes for these campaigns (of one shop), cached under what
    they depend on: the counters (cost, ratios), the shop's window and rate card, and when its
    orders last changed."""
    if not campaigns:
        return {}
    shop = db().get(Shop, campaigns[0].shop_id)
    # The shop's window and rate card are in the key too: changing them in Settings shows at once.
    card = hashlib.sha256(json.dumps(shop.rate_card, sort_keys=True).encode()).hexdigest()[:12]
    orders = shop.orders_changed_at.timestamp() if shop.orders_changed_at else 0
    # The account's currency picks Meta's card (core/outcomes/pricing.py): a new one shows at once.
    settings = f"{shop.attribution_window_days}:{card}:{account_currency(db(), shop.id)}:{orders}"
    keys = {c.id: f"outcomes:v3:{c.shop_id}:{c.id}:{_outcome_counters(c)}:{settings}" for c in campaigns}
    by_id = {c.id: c for c in campaigns}
    return cached_json_many(keys, TTL_S, lambda ids: campaign_outcomes(db(), shop, [by_id[i] for i in ids]))


def cached_billing(shop_id: int, first_day: date, last_day: date) -> dict:
    """core.reports.meta_billing.billing_comparison for these UTC days, cached for a minute: a
    live campaign page polls every few seconds, and the comparison reads every billed message
    of the shop on those days. A new read of Meta's bill, or new rates, show at once; our own
    new deliveries within the minute."""
    shop = db().get(Shop, shop_id)
    card = hashlib.sha256(json.dumps(shop.rate_card, sort_keys=True).encode()).hexdigest()[:12]
    version = f"{last_read(db(), shop_id)}:{card}"
    key = f"meta_billing:v1:{shop_id}:{first_day.isoformat()}:{last_day.isoformat()}:{version}"
    return cached_json(key, TTL_S, lambda: billing_comparison(db(), shop_id, first_day, last_day))


def cached_campaign_billing(campaign: Campaign) -> dict | None:
    """``cached_billing`` over the UTC days the campaign was delivered (None before it was sent)."""
    days = campaign_days(campaign)
    return None if days is None else cached_billing(campaign.shop_id, *days)


def campaign_json(campaign: Campaign, errors: list[dict], outcome: dict | None = None) -> dict:
    """The contract's Campaign; with ``outcome`` (core/reports/outcomes.py), its orders, revenue and cost."""
    body = {
        "id": campaign.id,
        "name": campaign.name,
        "type": campaign.type,
        "status": campaign.status,
        "estimated_audience": campaign.estimated_audience,
        "template": {
            "name": campaign.template_name,
            "language": campaign.template_language,
            "category": campaign.template_category,
        },
        "components": campaign_components(campaign.template_components, campaign.template_parameters),
        "created_at": _iso(campaign.created_at),
        "scheduled_at": _iso(campaign.scheduled_at),
        "launched_at": _iso(campaign.launched_at),
        "dispatch_finished_at": _iso(campaign.dispatch_finished_at),
        "completed_at": _iso(campaign.completed_at),
        "halted_reason": campaign.halted_reason,
        "holdout": {"share": campaign.holdout_share} if campaign.holdout_share else None,
        "variants": [{k: v[k] for k in ("id", "name", "share")} for v in campaign.variants] or None,
        "experiment": {"metric": campaign.experiment_metric} if campaign.variants else None,
        "send_time": {"mode": campaign.send_time_mode, "window_hours": campaign.send_time_window_hours},
        "test_then_send": test_then_send_json(
            campaign.test_then_send, campaign.dispatch_started_at, campaign.variants
        ),
        "progress": progress(campaign),
        **campaign_report(campaign, errors),
    }
    if outcome is not None:
        body["metrics"]["orders"] = outcome["orders"]
        body.update({k: v for k, v in outcome.items() if k != "orders"})
        body["follow_up_of"] = campaign.follow_up_of
    return body


def campaign_detail(campaign: Campaign) -> dict:
    """The contract's Campaign, plus the failures' customers who lack a country code."""
    errors = cached_failures(campaign.shop_id, [campaign])
    body = campaign_json(campaign, errors.get(campaign.id, []), cached_outcomes([campaign])[campaign.id])
    body["missing_calling_code"] = cached_calling_code(campaign)
    body["meta_billing"] = cached_campaign_billing(campaign)  # our cost beside Meta's bill, by day
    if campaign.holdout_share:
        body["holdout"] = cached_holdout(campaign)
    if campaign.variants:
        body["variants"], body["experiment"] = cached_variants(campaign)
    return body


def cached_variants(campaign: Campaign) -> tuple[list[dict], dict]:
    """core.reports.variants.variants_report, cached under the counters, the status and when
    the shop's orders last changed (the horizon moves with the clock: the TTL covers it)."""
    shop = db().get(Shop, campaign.shop_id)
    orders = shop.orders_changed_at.timestamp() if shop.orders_changed_at else 0
    key = (
        f"variants:v1:{campaign.shop_id}:{campaign.id}:{_outcome_counters(campaign)}:{campaign.sent_count}:"
        f"{campaign.failed_count}:{campaign.status}:{shop.attribution_window_days}:{orders}"
    )
    variants, experiment = cached_json_many(
        {campaign.id: key}, TTL_S, lambda _: {campaign.id: variants_report(db(), shop, campaign)}
    )[campaign.id]
    return variants, experiment


def cached_holdout(campaign: Campaign) -> dict:
    """core.experiments.holdout.holdout_report, cached under what it depends on: the messages
    (their number and failures), the shop's window and when its orders last changed."""
    shop = db().get(Shop, campaign.shop_id)
    orders = shop.orders_changed_at.timestamp() if shop.orders_changed_at else 0
    started = campaign.dispatch_started_at.timestamp() if campaign.dispatch_started_at else 0
    key = (
        f"holdout:v1:{campaign.shop_id}:{campaign.id}:{started}:{campaign.messages_count}:"
        f"{campaign.failed_count}:{shop.attribution_window_days}:{orders}"
    )
    return cached_json_many(
        {campaign.id: key}, TTL_S, lambda _: {campaign.id: holdout_report(db(), shop, campaign)}
    )[campaign.id]


def detail_etag(campaign: Campaign) -> str:
    """The ETag GET /api/campaigns/<id> answers now, for a page to start polling from."""
    return '"' + generate_etag(jsonify(campaign_detail(campaign)).get_data()) + '"'
