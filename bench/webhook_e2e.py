"""End to end, through gunicorn and real RQ workers, on the 1,000,000-message table:

- naive_speedup: statuses applied per second from the first POST to the last status applied,
  ours (inbox + drain job on ``python -m jobs.worker``) against the obvious design (one RQ job
  per webhook on RQ's forking worker, one ORM update per status: bench/naive_webhooks.py),
  with the same single-status bodies;
- freshness: while statuses arrive at a steady rate, the time from a body's arrival to the
  moment the campaign's counter, read through ``GET /api/campaigns/<id>`` as the page reads it,
  includes its statuses.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import requests
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench import stack
from bench import webhook_data as data
from core.meta_webhooks.signature import HEADER, sign

WORKER_TIMEOUT_S = 120
NAIVE_BODIES = 300
OURS_SECONDS = 3
POLL_S = 0.01


def wait_until(condition, timeout_s: float = WORKER_TIMEOUT_S, step_s: float = 0.02) -> float:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the workers")
        time.sleep(step_s)
    return time.monotonic()


def ours_throughput(engine: Engine, base: str, bodies: Path, expected: int) -> float:
    """wrk posts the bodies as fast as the server takes them while the drain job applies them."""
    before = data.delivered(engine)
    started = time.monotonic()
    result = stack.run_wrk(base + "/webhooks/meta", bodies, connections=32, duration_s=OURS_SECONDS)
    posted = result["requests"]
    if posted > expected:
        raise RuntimeError(f"wrk sent {posted} POSTs but only {expected} distinct bodies exist")
    wrk_done = time.monotonic()
    finished = wait_until(lambda: data.delivered(engine) - before >= posted)
    _note(
        f"ours: {posted} POSTs in {wrk_done - started:.2f} s, all applied {finished - wrk_done:.2f} s after"
    )
    return posted / (finished - started)


def naive_throughput(engine: Engine, base: str, numbers: list[int]) -> float:
    """The same kind of bodies through the naive endpoint, drained by RQ's forking worker."""
    before = data.delivered(engine)
    bodies = list(data.bodies(numbers, per_body=1))
    session = requests.Session()
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda raw: _post(session, base + "/bench/naive", raw), bodies))
    posted = time.monotonic()
    finished = wait_until(lambda: data.delivered(engine) - before >= len(bodies), step_s=0.1)
    _note(
        f"naive: {len(bodies)} POSTs in {posted - started:.2f} s, all applied {finished - posted:.2f} s after"
    )
    return len(bodies) / (finished - started)


def _note(line: str) -> None:
    print(f"# {line}", flush=True)  # context for the figures, as a comment line of `make bench`


def _post(session: requests.Session, url: str, raw: bytes) -> None:
    response = session.post(url, data=raw, headers={HEADER: sign(stack.BENCH_SECRET, raw)}, timeout=30)
    response.raise_for_status()


class CounterWatch:
    """Reads the campaign through the API every POLL_S, noting when each delivered count shows."""

    def __init__(self, base: str, campaign_id: int) -> None:
        self.url = f"{base}/api/campaigns/{campaign_id}"
        self.samples: list[tuple[float, int]] = []  # (wall time, delivered)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CounterWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        session = requests.Session()
        token_at, headers = 0.0, {}
        while not self._stop.is_set():
            if time.monotonic() - token_at > 30:
                token_at, headers = time.monotonic(), {"Authorization": f"Bearer {_session_token()}"}
            response = session.get(self.url, headers=headers, timeout=10)
            response.raise_for_status()
            self.samples.append((time.time(), response.json()["metrics"]["delivered"]))
            time.sleep(POLL_S)

    def first_time_at_least(self, count: int) -> float | None:
        for seen_at, delivered in self.samples:
            if delivered >= count:
                return seen_at
        return None


def _session_token() -> str:
    shop = data.SHOP_DOMAIN
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": stack.BENCH_SECRETS["SHOPIFY_API_KEY"],
        "sub": "1",
        "exp": now + 60,
        "nbf": now - 1,
        "iat": now - 1,
        "jti": str(uuid.uuid4()),
        "sid": "bench",
    }
    return jwt.encode(claims, stack.BENCH_SECRETS["SHOPIFY_API_SECRET"], algorithm="HS256")


def freshness(
    engine: Engine, base: str, bodies: Path, per_body: int, rate_per_s: int, seconds: int
) -> dict[str, float]:
    """Send ``rate_per_s`` POSTs a second of ``per_body`` statuses each for campaign 1; return
    the p50/p99 of arrival-to-visible and the statuses per second that actually arrived."""
    connections = max(8, rate_per_s // 10)  # spare connections, so a slow answer delays nothing
    base_count = _campaign_delivered(engine, 1)
    since = _latest_inbox_id(engine)
    with CounterWatch(base, 1) as watch:
        result = stack.run_wrk(
            base + "/webhooks/meta", bodies, connections=connections, duration_s=seconds, rate=rate_per_s
        )
        arrived = _arrivals(engine, since)
        total = sum(n for _, n in arrived)
        wait_until(lambda: watch.samples and watch.samples[-1][1] - base_count >= total)
    lags, cumulative = [], 0
    for received_at, statuses in arrived:
        cumulative += statuses
        visible = watch.first_time_at_least(base_count + cumulative)
        lags.append(max(0.0, visible - received_at))
    lags.sort()
    return {
        "p50_ms": lags[len(lags) // 2] * 1000,
        "p99_ms": lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000,
        "statuses_per_s": total / (result["duration_us"] / 1e6),
    }


def _campaign_delivered(engine: Engine, campaign_id: int) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT delivered_count FROM campaigns WHERE id = :id"), {"id": campaign_id}
        ).scalar()


def _latest_inbox_id(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT coalesce(max(id), 0) FROM inbox_events")).scalar()


def _arrivals(engine: Engine, since: int) -> list[tuple[float, int]]:
    """(arrival time, statuses) of each body stored since ``since``, in arrival order."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT extract(epoch FROM received_at) AS at,"
                " json_array_length(convert_from(body, 'UTF8')::json #> '{entry,0,changes,0,value,statuses}')"
                " AS n FROM inbox_events WHERE id > :since ORDER BY received_at, id"
            ),
            {"since": since},
        ).all()
    return [(float(row.at), row.n) for row in rows]
