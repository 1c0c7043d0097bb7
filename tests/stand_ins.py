"""Starting a stand-in (sim.meta, sim.shopify) as a real process, and waiting on its webhooks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from tests.waiting import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_process(
    module: str, label: str, *args: str, env: dict | None = None
) -> tuple[subprocess.Popen, str]:
    """Run ``python -m module --port 0`` and return the process and the URL it announced."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"the {label} stand-in did not start: {line!r}")
    return process, line.rsplit(" ", 1)[1].strip()


def wait_until_no_pending_webhooks(stats: Callable[[], dict], timeout_s: float) -> None:
    """Until the stand-in's own queue of webhooks to post is empty."""
    wait_for(lambda: not stats()["pending_webhooks"], timeout_s, "the stand-in's webhooks to be posted")
