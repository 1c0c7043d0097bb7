"""``make bench``'s replay (bench/bench_replay.py) at a size CI affords: Meta's stand-in posts
shuffled, duplicated statuses in batches to the app under gunicorn, two RQ workers drain them,
one is killed mid-run; every message and every counter must end as the stand-in's truth says."""

from __future__ import annotations

import pytest

from bench import bench_replay
from core.redis import get_redis

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

MESSAGES, EVENTS = 2_000, 6_000


@pytest.mark.timeout(600)
def test_a_small_replay_with_a_killed_worker_ends_exactly_as_metas_truth(service_urls, monkeypatch):
    """Zero discrepancies per message and per metric, no drift, the worker really killed."""
    # The replay flushes its Redis database: this run's own (tests/conftest.py), not the bench's.
    redis_db = get_redis(service_urls["redis_url"]).connection_pool.connection_kwargs.get("db", 0)
    monkeypatch.setenv("BENCH_REDIS_DB", str(redis_db))
    figures = {figure.name: figure.value for figure in bench_replay.replay(MESSAGES, EVENTS)}
    assert figures["replay_1m_statuses"] == EVENTS
    assert figures["replay_1m_worker_killed"] == 1
    wrong = {name: value for name, value in figures.items() if "_wrong_" in name or "_gap_" in name}
    assert len(wrong) == 9 and set(wrong.values()) == {0}, wrong
    assert figures["replay_1m_message_discrepancies"] == 0
