"""ingest_ack_ratio: POSTs per second acknowledged by ``/webhooks/meta`` against a bare endpoint
that only answers 200, in the very same gunicorn, with Debian's ``wrk`` sending pre-signed
bodies, each once. Rounds alternate which side goes first; the ratio is over all rounds.

Acknowledgement latency is reported twice: under that saturating load (a queue forms in front
of the server, so this is mostly waiting) and at Meta's pace for a default number (80 messages
a second, about 240 status POSTs a second), which is what Meta's latency standard is about.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench import stack
from bench import webhook_data as data

ROUNDS = 3
ROUND_S = 4
CONNECTIONS = 64
PACED_RATE = 240  # POSTs a second
PACED_CONNECTIONS = 8
PACED_S = 5


def write_bodies(path: Path, count: int) -> None:
    """Distinct single-status bodies for a number no shop serves (nothing to drain)."""
    numbers = list(range(count))
    stack.write_bodies(path, data.bodies(numbers, per_body=1, phone=data.UNKNOWN_PHONE))


def measure(base: str, bodies: Path) -> dict[str, float]:
    ours_requests = bare_requests = 0
    ours_p50, ours_p99 = [], []
    for round_no in range(ROUNDS):
        sides = ["/bench/bare", "/webhooks/meta"]
        for path in sides if round_no % 2 == 0 else sides[::-1]:
            result = stack.run_wrk(base + path, bodies, connections=CONNECTIONS, duration_s=ROUND_S)
            _check(result, path)
            if path == "/webhooks/meta":
                ours_requests += result["requests"]
                ours_p50.append(result["p50_us"] / 1000)
                ours_p99.append(result["p99_us"] / 1000)
            else:
                bare_requests += result["requests"]
    seconds = ROUNDS * ROUND_S
    paced = stack.run_wrk(
        base + "/webhooks/meta", bodies, connections=PACED_CONNECTIONS, duration_s=PACED_S, rate=PACED_RATE
    )
    _check(paced, "/webhooks/meta (paced)")
    return {
        "ours_per_s": ours_requests / seconds,
        "bare_per_s": bare_requests / seconds,
        "ratio": ours_requests / bare_requests,
        "saturated_p50_ms": statistics.median(ours_p50),
        "saturated_p99_ms": statistics.median(ours_p99),
        "paced_per_s": paced["requests"] / (paced["duration_us"] / 1e6),
        "paced_p50_ms": paced["p50_us"] / 1000,
        "paced_p99_ms": paced["p99_us"] / 1000,
    }


def _check(result: dict, path: str) -> None:
    errors = {k: v for k, v in result.items() if k.startswith("errors_") and v}
    if errors:
        raise RuntimeError(f"wrk against {path} saw errors: {errors}")
