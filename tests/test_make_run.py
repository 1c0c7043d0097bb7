"""`make run`'s stack on the embedded servers: it serves the demo, and Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT_S = 90


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
def test_make_run_serves_the_demo_and_ctrl_c_stops_every_process(tmp_path):
    """From nothing (no DATABASE_URL, no REDIS_URL, an empty instance folder) the stack starts
    the embedded servers, migrates, seeds, serves the demo shop's page; SIGINT then stops every
    process it started, verified by process id."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "APP_ENV")}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), PORT=str(port), PYTHONUNBUFFERED="1")
    stack = subprocess.Popen(
        [sys.executable, "-m", "core.devstack"],
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
        url = _read_until(stack, r"Open (http://\S+)", lines).group(1)
        page = _wait_for_page(url)
        assert page.status_code == 200 and "Black Friday preview" in page.text
        pids = _pids(servers) + _pids(children)
        pids += [p.pid for pid in _pids(children) for p in psutil.Process(pid).children(recursive=True)]
        assert len(pids) >= 5  # postgres, redis, gunicorn master + workers, RQ worker
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=60)
    finally:
        if stack.poll() is None:
            stack.kill()
    leftovers = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert leftovers == [], "".join(lines)
    assert stack.returncode == 0


def _wait_for_page(url: str) -> requests.Response:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            return requests.get(url, timeout=10)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
