"""Test then send: an A/B campaign sends its variants to a test share of the audience first,
and when the test has run its hours, the winning variant to the rest.

Who is in the test follows from a hash of its own (the campaign's id salted with ``test``), not
from the variants' buckets (core/experiments/split.py): the test share is then a random sample
of every variant's customers alike, and the holdout (the lowest buckets of the variants' hash)
stays the same share of the whole audience, tested or not.

The test runs ``hours`` from the start of its sends (``dispatch_started_at``). Then the rest's
job (jobs/test_then_send.py) reads the experiment as at its horizon (core/experiments/readout.py):
a declared winner is sent; else the variant best so far, and the campaign says so. The campaign
keeps the choice in ``test_then_send`` ({share, hours, winner, reason, rest_at, rest_messages}),
which the page shows, and which makes a second run of the job do nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from core.experiments.split import BUCKETS, bucket_sql

NO_CLEAR_WINNER = "no clear winner; sent the best so far"


def _test_bucket_sql(campaign_id: int, customer: str) -> str:
    """The test's bucket (0 to 99) of the customer whose id is the SQL expression ``customer``."""
    return bucket_sql(f"'{int(campaign_id)}:test'", customer)


def in_test_sql(campaign_id: int, share: int, customer: str) -> str:
    """Whether the customer is in a test of ``share`` percent: an SQL condition."""
    return f"{_test_bucket_sql(campaign_id, customer)} < {int(share)}"


def rest_due_at(test_then_send: dict | None, started_at: datetime | None) -> datetime | None:
    """When the rest of the audience goes; None without a test, before its sends start, or once
    the rest was sent."""
    if not test_then_send or started_at is None or rest_sent(test_then_send):
        return None
    return started_at + timedelta(hours=int(test_then_send["hours"]))


def rest_sent(test_then_send: dict | None) -> bool:
    """Whether the rest's job chose the winner and materialised the rest (done once)."""
    return bool(test_then_send) and "rest_at" in test_then_send


def waiting_for_rest(test_then_send: dict | None) -> bool:
    """A campaign whose rest is still to go must not settle on its test part alone."""
    return bool(test_then_send) and not rest_sent(test_then_send)


def choose_winner(experiment: dict, values: dict[int, float | None]) -> tuple[int, str]:
    """The variant to send to the rest, and why, from the experiment read at its horizon and
    each variant's value on the metric (None without data). A declared winner is certain enough;
    otherwise the highest probability to be best, or with too little data for one, the highest
    value so far (the first variant when none has any)."""
    if experiment.get("status") == "winner":
        probability = experiment["probability"]
        return experiment["winner"], f"won the test: {probability:.0%} probability to be best"
    chances = experiment.get("probabilities")
    if chances:
        leader = max(chances, key=lambda number: (chances[number], -number))
        return int(leader), f"{NO_CLEAR_WINNER} ({chances[leader]:.0%} probability to be best)"
    known = {number: value for number, value in values.items() if value is not None}
    if known:
        leader = max(known, key=lambda number: (known[number], -number))
        return leader, f"{NO_CLEAR_WINNER} (too little data to compare them)"
    return min(values), f"{NO_CLEAR_WINNER} (no data yet: the first variant)"


def test_then_send_json(
    test_then_send: dict | None, started_at: datetime | None, variants: list[dict]
) -> dict | None:
    """The contract's ``Campaign.test_then_send``: the share and hours, which part runs
    (``test`` until the rest went, then ``rest``), when the rest goes, and once it went, the
    winner (id and name), why it won and how many messages the rest got."""
    if not test_then_send:
        return None
    due = rest_due_at(test_then_send, started_at)
    names = {variant["id"]: variant["name"] for variant in variants}
    winner = test_then_send.get("winner")
    return {
        "share": test_then_send["share"],
        "hours": test_then_send["hours"],
        "part": "rest" if rest_sent(test_then_send) else "test",
        "rest_due_at": due.isoformat() if due else None,
        "rest_at": test_then_send.get("rest_at"),
        "winner": {"id": winner, "name": names.get(winner)} if winner is not None else None,
        "reason": test_then_send.get("reason"),
        "rest_messages": test_then_send.get("rest_messages"),
    }


def in_test(campaign_id: int, customer_id: int, share: int) -> bool:
    """Whether this customer is in the campaign's test share, as ``in_test_sql`` decides it."""
    text = f"{campaign_id}:test:{customer_id}"
    digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % BUCKETS < share
