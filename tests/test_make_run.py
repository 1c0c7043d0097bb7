"""`make run`'s stack on the embedded servers: it serves the demo, and Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT_S = 90


@pytest.fixture
def short_tmp_path():
    """A temporary folder with a short path: PostgreSQL's socket path must fit in 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="wa-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_until(process: subprocess.Popen, pattern: str, lines: list[str]) -> re.Match:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError("stack did not start:\n" + "".join(lines))


def _pids(line: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"\b(\d+)\b", line.split(":", 1)[1])]


@pytest.mark.smoke
def test_make_run_serves_the_demo_and_ctrl_c_stops_every_process(short_tmp_path):
    """From nothing (no DATABASE_URL, no REDIS_URL, an empty instance folder) the stack starts
    the embedded servers, migrates, seeds, serves the demo shop's page (installed through the
    Shopify stand-in it started); SIGINT then stops every process it started, verified by
    process id."""
    port, shopify_port = _free_port(), _free_port()
    unset = ("DATABASE_URL", "REDIS_URL", "APP_ENV", "SHOPIFY_ADMIN_URL")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        INSTANCE_PATH=str(short_tmp_path / "instance"),
        PORT=str(port),
        SHOPIFY_STAND_IN_PORT=str(shopify_port),
        PYTHONUNBUFFERED="1",
    )
    stack = subprocess.Popen(
        [sys.executable, "-m", "core.ops.devstack"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []
    try:
        servers = _read_until(stack, r"embedded servers \(pid\): .*", lines).group(0)
        children = _read_until(stack, r"started \(pid\): .*", lines).group(0)
        # Once the web server answers, the URL, below the children's start-up lines; only there.
        url = _read_until(stack, r"Ready: open (http://\S+)", lines).group(1)
        page = _wait_for_page(url)
        assert page.status_code == 200 and "Black Friday preview" in page.text
        # The app home exchanged its session token with the Shopify stand-in make run started.
        stats = requests.get(f"http://127.0.0.1:{shopify_port}/sim/stats", timeout=10).json()
        assert stats["exchanges"] == 1
        pids = _pids(servers) + _pids(children)
        pids += [p.pid for pid in _pids(children) for p in psutil.Process(pid).children(recursive=True)]
        assert len(pids) >= 5  # postgres, redis, gunicorn master + workers, RQ worker
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=60)
        lines += stack.stdout.readlines()
    finally:
        if stack.poll() is None:
            stack.kill()
    assert sum(line.count(url) for line in lines) == 1, "".join(lines)
    leftovers = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert leftovers == [], "".join(lines)
    assert stack.returncode == 0


def _wait_for_page(url: str) -> requests.Response:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            # The first request warms a fresh gunicorn worker: on a busy 2-core machine that can
            # take several seconds, so only the deadline decides.
            return requests.get(url, timeout=(5, 60))
        except (requests.ConnectionError, requests.Timeout):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _processes_using(path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(str(path) in part for part in process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.mark.smoke
def test_a_test_session_on_embedded_servers_leaves_no_server_behind(short_tmp_path):
    """A pytest session with no DATABASE_URL / REDIS_URL starts the embedded servers and, when
    it ends, no PostgreSQL or Redis process of its data folder is left running."""
    instance = short_tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_ADDOPTS")}
    env.update(INSTANCE_PATH=str(instance))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_seed.py::test_a_file_that_is_not_json_is_refused_clearly",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (instance / "pg" / "PG_VERSION").exists() and (instance / "redis").exists()
    leftovers = [p for p in _processes_using(instance) if p.status() != psutil.STATUS_ZOMBIE]
    assert leftovers == []
