"""The one way a test waits for something another process or thread does: poll with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], timeout_s: float, what: str = "the condition", every_s: float = 0.05
) -> T:
    """Call ``condition`` until it answers something true, and return that; fail the test,
    naming ``what``, when ``timeout_s`` seconds pass first."""
    deadline = time.monotonic() + timeout_s
    while not (answer := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)
    return answer
