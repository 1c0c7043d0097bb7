"""Where a webhook's CPU goes: py-spy samples the gunicorn workers (``--subprocesses``) while wrk
drives one endpoint, and each sample is charged to the first part of the stack, from the leaf
up, that names one of ``PARTS``. Side by side: the bare Flask endpoint (the server's own cost),
the webhook routed through Flask as before issue 13 (``/bench/flask_meta``), and the thin route
in front of Flask (``/webhooks/meta``). Shares are of the samples of busy threads.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from pathlib import Path

from bench import stack

# (part, substrings of a frame "function (file:line)" that belong to it), leaf-most match wins.
PARTS = (
    ("signature (HMAC-SHA256)", ("hmac.py", "signature.py")),
    ("inbox store (psycopg, group commit)", ("core/inbox/", "psycopg")),
    ("drain request (Redis)", ("redis/", "jobs/webhooks.py", "jobs/drain_flag.py")),
    ("thin route", ("web/webhooks/route.py", "web/webhooks/bodies.py")),
    ("Flask and werkzeug", ("flask/", "werkzeug/", "web/headers.py", "web/database.py")),
    ("gunicorn (HTTP parsing, sockets)", ("gunicorn/",)),
)
OTHER = "other"


def gunicorn_master(base: str) -> int:
    """The process id of the gunicorn master listening on ``base``'s port."""
    port = base.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(b"gunicorn" in a for a in argv) and f"127.0.0.1:{port}".encode() in argv:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if not any(
                    b"gunicorn" in a for a in (Path(f"/proc/{ppid}/cmdline").read_bytes().split(b"\0"))
                ):
                    return int(proc.name)
    raise RuntimeError(f"no gunicorn master on port {port}")


def profile(base: str, path: str, bodies: Path, seconds: float = 4) -> dict[str, float]:
    """The share of sampled CPU of each part while wrk posts to ``path`` as fast as it can."""
    if shutil.which("py-spy") is None and not Path(stack.sys.executable).with_name("py-spy").exists():
        raise RuntimeError("py-spy is not installed (requirements.txt)")
    pyspy = str(Path(stack.sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "samples.txt"
        load = threading.Thread(
            target=stack.run_wrk,
            args=(base + path, bodies),
            kwargs={"duration_s": seconds + 2, "connections": 64},
        )
        load.start()
        subprocess.run(
            [pyspy, "record", "--pid", str(gunicorn_master(base)), "--subprocesses", "--nonblocking",
             "--duration", str(int(seconds)), "--rate", "200", "--format", "raw", "--output", str(out)],
            capture_output=True, check=True, timeout=seconds + 60,
        )  # fmt: skip
        load.join()
        return shares(out.read_text(errors="replace"))  # --nonblocking may tear a frame name


def shares(raw: str) -> dict[str, float]:
    """Charge each collapsed stack ("frame;frame;... count") to its part; answer the shares."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack_text, _, count = line.rpartition(" ")
        if stack_text and count.isdigit():
            counts[_part(stack_text.split(";"))] += int(count)
    total = sum(counts.values()) or 1
    return {part: round(counts[part] / total, 3) for part, _ in (*PARTS, (OTHER, ()))}


def _part(frames: list[str]) -> str:
    for frame in reversed(frames):
        for part, needles in PARTS:
            if any(needle in frame for needle in needles):
                return part
    return OTHER
