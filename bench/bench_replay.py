"""``replay_1m`` (`make bench`): the Meta stand-in replays 1,000,000 status events for a
300,000-message campaign (about 10% duplicates, fully shuffled, bodies of 1 to 100 statuses,
4 concurrent posters) to the app served by gunicorn, drained by two RQ workers, one of which is
killed with SIGKILL mid-run and restarted. Reported: the discrepancies against the stand-in's
ground truth, per metric and per message (target: 0), and the wall time until everything
posted was applied. ``replay()`` runs the same at any size: tests/test_replay.py runs a small
one on every server CI tests (the Citus cluster too)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests
from sqlalchemy import text

from bench.figures import Figure
from bench.stack import meta_stand_in, scratch_services
from core.counts.recount import recount
from core.crypto import encrypt_token
from core.db import get_engine, session_scope
from core.settings import PROJECT_ROOT

MESSAGES = 300_000
EVENTS = 1_000_000
PHONE_NUMBER_ID, WABA_ID, TOKEN = "1234567890", "5550001", "demo-meta-access-token"
# Mostly read (sent, delivered, read: three statuses each), so the planned statuses come to
# about 900,000 and duplicates make up the rest of the million.
DELIVERY = {
    "read": 0.93,
    "sent_only": 0.0,
    "failed": 0.005,
    "read_without_delivered": 0.005,
    "failed_then_delivered": 0.06,
    "held": 0.0,
}
TIMEOUT_S = 1800


def run() -> list[Figure]:
    return replay(MESSAGES, EVENTS)


def replay(messages: int, events: int) -> list[Figure]:
    """``events`` statuses for a campaign of ``messages`` messages, as the module says."""
    with scratch_services(), _app_server() as app_url:
        with meta_stand_in("--posters", "4", "--webhook-url", f"{app_url}/webhooks/meta") as meta_url:
            shop_id, campaign_id = _campaign(messages)
            _configure(meta_url)
            workers = [_worker(n) for n in range(2)]
            try:
                answer, wall, killed = _replay(meta_url, shop_id, campaign_id, workers, events)
            finally:
                for worker in workers:
                    _stop(worker)
            truth = requests.get(f"{meta_url}/sim/truth", params={"compact": "1"}, timeout=600).json()
        return _figures(answer, wall, killed, *_discrepancies(shop_id, campaign_id, truth["messages"]))


class _app_server:
    """The app as production runs it: gunicorn, on a free port."""

    def __enter__(self) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(
            [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "2", "web:create_app()"],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{url}/webhooks/meta", timeout=10)
                return url
            except requests.RequestException:
                time.sleep(0.2)
        _stop(self.process)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *_exc_info) -> None:
        _stop(self.process)


def _worker(n: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.worker", "--name", f"replay-{os.getpid()}-{n}-{time.monotonic_ns()}"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the worker and its work horse die together
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


_SEED = text("""
    INSERT INTO messages (shop_id, campaign_id, wamid, status, phone, submitted_at, accepted_at)
    SELECT :shop_id, :campaign_id, 'wamid.replay' || n, 'accepted', '+3461' || lpad(n::text, 7, '0'),
           now(), now()
      FROM generate_series(1, :count) n
""")


def _campaign(messages: int) -> tuple[int, int]:
    """A launched, fully dispatched campaign: ``messages`` messages Meta accepted."""
    with get_engine().begin() as conn:
        shop_id = conn.execute(
            text("""
                INSERT INTO shops (domain, meta_phone_number_id, meta_waba_id, meta_access_token_ciphertext)
                VALUES ('replay.myshopify.com', :pn, :waba, :token) RETURNING id
            """),
            {"pn": PHONE_NUMBER_ID, "waba": WABA_ID, "token": encrypt_token(TOKEN)},
        ).scalar_one()
        campaign_id = conn.execute(
            text("""
                INSERT INTO campaigns (shop_id, name, type, status, template_name, template_language,
                                       template_category, launched_at, dispatch_started_at,
                                       dispatch_finished_at)
                VALUES (:shop_id, 'Replay', 'PROMOTIONAL', 'PENDING', 'weekly_offer', 'en', 'MARKETING',
                        now(), now(), now())
                RETURNING id
            """),
            {"shop_id": shop_id},
        ).scalar_one()
        conn.execute(_SEED, {"shop_id": shop_id, "campaign_id": campaign_id, "count": messages})
    with session_scope() as session:
        recount(session, shop_id, [campaign_id])
    with get_engine().connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE messages"))
    return shop_id, campaign_id


def _configure(meta_url: str) -> None:
    config = {"delivery": DELIVERY, "adversity": {"max_batch": 100, "multi_entry": 0.2}}
    requests.put(f"{meta_url}/sim/config", json=config, timeout=30).raise_for_status()


def _replay(
    meta_url: str, shop_id: int, campaign_id: int, workers: list, events: int
) -> tuple[dict, float, bool]:
    with get_engine().connect() as conn:
        rows = conn.execute(
            text("SELECT wamid, id, phone FROM messages WHERE shop_id = :s AND campaign_id = :c"),
            {"s": shop_id, "c": campaign_id},
        ).all()
    messages = [[wamid, str(message_id), phone] for wamid, message_id, phone in rows]
    started = time.monotonic()
    answer = requests.post(
        f"{meta_url}/sim/replay",
        json={"phone_number_id": PHONE_NUMBER_ID, "messages": messages, "events": events},
        timeout=600,
    ).json()
    killed = False
    deadline = started + TIMEOUT_S
    while time.monotonic() < deadline:
        stats = requests.get(f"{meta_url}/sim/stats", timeout=30).json()
        if not killed and stats["statuses"] >= events // 2:
            os.killpg(workers[0].pid, signal.SIGKILL)  # mid-run, mid-batch most likely
            workers[0].wait()
            workers[0] = _worker(2)
            killed = True
        if stats["pending_webhooks"] == 0 and _all_applied():
            return answer, time.monotonic() - started, killed
        time.sleep(0.5)
    raise RuntimeError(f"the replay did not finish in {TIMEOUT_S} s: {stats}")


def _all_applied() -> bool:
    with get_engine().connect() as conn:
        return conn.execute(
            text("SELECT NOT EXISTS (SELECT 1 FROM inbox_events WHERE processed_at IS NULL)")
        ).scalar()


def _discrepancies(shop_id: int, campaign_id: int, truth: dict) -> tuple[Counter, dict]:
    """Per message: delivered, read, failed and the error code against the stand-in's truth;
    per metric: the campaign's counters against the truth's totals, and against a GROUP BY."""
    wrong: Counter = Counter()
    with get_engine().connect() as conn:
        rows = conn.execute(
            text("""
                SELECT wamid, delivered_at IS NOT NULL OR read_at IS NOT NULL, read_at IS NOT NULL,
                       status IN ('failed', 'expired'), error_code
                  FROM messages WHERE shop_id = :s AND campaign_id = :c
            """),
            {"s": shop_id, "c": campaign_id},
        ).all()
        counters = conn.execute(
            text(
                "SELECT sent_count, delivered_count, read_count, failed_count FROM campaigns"
                " WHERE shop_id = :s AND id = :c"
            ),
            {"s": shop_id, "c": campaign_id},
        ).one()
    for wamid, delivered, read, failed, code in rows:
        t = truth[wamid]
        wrong["delivered"] += delivered != t[0]
        wrong["read"] += read != t[1]
        wrong["failed"] += failed != t[2]
        wrong["error_code"] += bool(t[2]) and code != str(t[3])
    expected = (
        len(truth),
        sum(t[0] for t in truth.values()),
        sum(t[1] for t in truth.values()),
        sum(t[2] for t in truth.values()),
    )
    metric_gaps = {
        name: abs(a - b)
        for name, a, b in zip(("sent", "delivered", "read", "failed"), counters, expected, strict=True)
    }
    with session_scope() as session:
        metric_gaps["drift"] = len(recount(session, shop_id, [campaign_id]))
    return wrong, metric_gaps


def _figures(answer: dict, wall: float, killed: bool, wrong: Counter, gaps: dict) -> list[Figure]:
    return [
        Figure("replay_1m_statuses", answer["total"], "statuses"),
        Figure("replay_1m_duplicate_share", answer["duplicates"] / answer["total"], "ratio"),
        Figure("replay_1m_worker_killed", int(killed), "bool", "= 1"),
        Figure("replay_1m_wall", wall, "s"),
        Figure("replay_1m_statuses_per_s", answer["total"] / wall, "statuses/s"),
        Figure("replay_1m_message_discrepancies", sum(wrong.values()), "fields", "= 0"),
        *[
            Figure(f"replay_1m_wrong_{field}", wrong[field], "messages", "= 0")
            for field in ("delivered", "read", "failed", "error_code")
        ],
        *[Figure(f"replay_1m_gap_{name}", gap, "count", "= 0") for name, gap in gaps.items()],
    ]
