"""Short-lived caches for the campaign reports that scan a campaign's failed messages.

The counters are read in constant time, but the failure breakdown and the count of customers
missing a calling code group over the failed rows: 150,000 of them in a campaign of a million,
about a tenth of a second. The page polls every few seconds, so each answer is cached under the
counters it depends on (a new message, send, delivery or failure changes the key at once) for at
most a minute. What the key cannot see, and the minute bounds: an expired message turning into
a Meta failure (a new code, same counts) and a customer whose phone was fixed in Shopify (a fix
made from our page forgets the affected keys at once: forget_calling_code).
"""

from __future__ import annotations

import json

from core.models import Campaign
from core.redis import get_redis
from core.reports import failures_by_code, missing_calling_code
from web.database import db

TTL_S = 60


def _key(kind: str, c: Campaign) -> str:
    counters = f"{c.messages_count}:{c.sent_count}:{c.delivered_count}:{c.failed_count}"
    return f"report:v1:{kind}:{c.shop_id}:{c.id}:{counters}"


def cached_failures(shop_id: int, campaigns: list[Campaign]) -> dict[int, list[dict]]:
    """failures_by_code for these campaigns, from the cache where it holds them."""
    if not campaigns:
        return {}
    redis = get_redis()
    keys = [_key("failures", c) for c in campaigns]
    found = {
        c.id: json.loads(hit) for c, hit in zip(campaigns, redis.mget(keys), strict=True) if hit is not None
    }
    missing = [c for c in campaigns if c.id not in found]
    if missing:
        computed = failures_by_code(db(), shop_id, [c.id for c in missing])
        with redis.pipeline() as pipe:
            for c in missing:
                found[c.id] = computed.get(c.id, [])
                pipe.set(_key("failures", c), json.dumps(found[c.id]), ex=TTL_S)
            pipe.execute()
    return found


def cached_calling_code(campaign: Campaign) -> dict[str, int]:
    redis = get_redis()
    key = _key("calling_code", campaign)
    if (hit := redis.get(key)) is not None:
        return json.loads(hit)
    found = missing_calling_code(db(), campaign.shop_id, campaign.id)
    redis.set(key, json.dumps(found), ex=TTL_S)
    return found


def forget_calling_code(campaigns: list[Campaign]) -> None:
    """A phone was fixed: the count of customers "now valid" of these campaigns changed while
    their counters did not, so their cached answers go (the rest of the minute would show the
    old count)."""
    if campaigns:
        get_redis().delete(*[_key("calling_code", c) for c in campaigns])
