"""Which part of an experiment a customer falls in: a bucket from 0 to 99, drawn from a hash of
the campaign and the customer.

The split must be random (nothing about the customer decides it, so the groups are alike and
their difference is the campaign's doing) and reproducible (the same customer lands in the same
bucket whenever the audience is materialised, estimated or audited). A seeded hash is both; the
campaign is in the seed so one customer is not held out of every campaign a shop runs.

The bucket is worked out in SQL where the audience is (materialise.py) and in Python for tests
and audits; ``bucket`` and ``BUCKET_SQL`` are the same function.
"""

from __future__ import annotations

import hashlib

BUCKETS = 100

# The first 32 bits of md5('<campaign>:<customer>'), as an unsigned number, modulo 100.
_HASH_SQL = "('x' || substr(md5({campaign} || ':' || {customer}), 1, 8))::bit(32)::bigint"
BUCKET_SQL = f"(({_HASH_SQL}) % {BUCKETS})"


def bucket_sql(campaign: str, customer: str) -> str:
    """The bucket of the customer whose id is the SQL expression ``customer`` in the campaign
    ``campaign`` (both SQL expressions, cast to text here)."""
    return BUCKET_SQL.format(campaign=f"CAST({campaign} AS text)", customer=f"CAST({customer} AS text)")


def bucket(campaign_id: int, customer_id: int) -> int:
    """The bucket of this customer in this campaign, as ``bucket_sql`` computes it."""
    digest = hashlib.md5(f"{campaign_id}:{customer_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def held_out(campaign_id: int, customer_id: int, share: int) -> bool:
    """Whether a holdout of ``share`` percent keeps this customer unsent: the lowest buckets."""
    return bucket(campaign_id, customer_id) < share


def _edges(holdout_share: int, variants: list[dict]) -> list[tuple[int, int]]:
    """Each variant's upper bucket bound, in order: the holdout takes the lowest buckets, then
    each variant as many as its share."""
    edges, edge = [], holdout_share
    for variant in variants:
        edge += int(variant["share"])
        edges.append((edge, int(variant["id"])))
    return edges


def variant_sql(bucket: str, holdout_share: int, variants: list[dict]) -> str:
    """The variant id of a (not held-out) customer whose bucket is the SQL expression ``bucket``."""
    edges = _edges(holdout_share, variants)
    whens = " ".join(f"WHEN {bucket} < {edge} THEN {number}" for edge, number in edges[:-1])
    return f"(CASE {whens} ELSE {edges[-1][1]} END)"


def variant_of(campaign_id: int, customer_id: int, holdout_share: int, variants: list[dict]) -> int | None:
    """The variant this customer is sent, as ``variant_sql`` assigns it; None when held out."""
    drawn = bucket(campaign_id, customer_id)
    if drawn < holdout_share:
        return None
    edges = _edges(holdout_share, variants)
    return next((number for edge, number in edges if drawn < edge), edges[-1][1])
