"""What the benchmarks run on: a fresh database of their own, a Redis database of their own, the
Meta stand-in, the app under gunicorn configured as in production, RQ workers, and Debian's ``wrk``.

Every process started here is stopped here, by its process id. The database is dropped at the
end. Redis: the database ``BENCH_REDIS_DB`` (default 14) of ``REDIS_URL``'s server is flushed,
so point it at a scratch database when the server is shared.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from core.meta_webhooks.signature import sign
from core.ops.embedded import ensure_services
from core.ops.migrate import fresh_database
from core.settings import PROJECT_ROOT

BENCH_SECRET = "bench-meta-app-secret"
# The bench's own secrets. Its servers start as in production, which refuses the public
# development placeholders (core/settings.py), and the bench itself signs and encrypts with the
# same values (use_bench_environment), so both ends agree.
BENCH_SECRETS = {
    "SHOPIFY_API_KEY": "bench-shopify-api-key",
    "SHOPIFY_API_SECRET": "bench-shopify-api-secret",
    "META_APP_SECRET": BENCH_SECRET,
    "META_VERIFY_TOKEN": "bench-meta-verify-token",
    "TOKEN_ENCRYPTION_KEY": "YmVuY2gtb25seS10b2tlbi1lbmNyeXB0aW9uLWtleSE=",  # base64 of 32 bytes
    "FLASK_SECRET_KEY": "bench-flask-secret-key",
}
WRK_SCRIPT = Path(__file__).with_name("wrk_post.lua")
# gunicorn as we run it in production: a process per core, threads that wait on the database
# together (their inbox writes are group-committed: core/inbox/writer.py).
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "2"))
GUNICORN_THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "16"))


@contextmanager
def bench_database() -> Iterator[str]:
    """A fresh, migrated database on the server of DATABASE_URL (or the embedded one)."""
    ensure_services()
    with fresh_database(os.environ["DATABASE_URL"], "bench") as url:
        yield url


@contextmanager
def scratch_services() -> Iterator[dict[str, str]]:
    """A benchmark's own world in this process: a fresh database and the flushed Redis
    database of bench_redis_url(), published to the environment and the settings meanwhile."""
    from core.redis import get_redis

    with (
        bench_database() as database_url,
        _environment(DATABASE_URL=database_url, REDIS_URL=bench_redis_url(), APP_ENV="test"),
    ):
        try:
            yield {"database_url": database_url, "redis_url": os.environ["REDIS_URL"]}
        finally:
            get_redis().flushdb()


@contextmanager
def meta_stand_in(*args: str) -> Iterator[str]:
    """The Meta stand-in on a free port; META_GRAPH_URL points at it meanwhile."""
    command = [sys.executable, "-m", "sim.meta", "--port", "0", *args]
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    url = child.stdout.readline().rsplit(" ", 1)[-1].strip()
    try:
        with _environment(META_GRAPH_URL=url):
            requests.get(f"{url}/health", timeout=10).raise_for_status()
            yield url
    finally:
        child.terminate()
        child.wait(timeout=30)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables (and so the settings read from them) until the block ends."""
    with patch.dict(os.environ, values):
        yield


def bench_redis_url() -> str:
    """REDIS_URL's server, database BENCH_REDIS_DB, flushed."""
    import redis

    ensure_services()
    parts = urlsplit(os.environ["REDIS_URL"])
    db = os.environ.get("BENCH_REDIS_DB", "14")  # bench runs use databases 10-15
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query)) | {"db": db}
        url = f"unix://{parts.path}?{urlencode(query)}"
    else:
        url = urlunsplit(parts._replace(path=f"/{db}"))
    redis.Redis.from_url(url).flushdb()
    return url


def app_environment(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of a production start: every secret set, both servers named."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS",)}
    env.update(BENCH_SECRETS)
    env.update(
        APP_ENV="production", DATABASE_URL=database_url, REDIS_URL=redis_url, PYTHONPATH=str(PROJECT_ROOT)
    )
    return env


def use_bench_environment() -> None:
    """This process (and the stand-ins it starts) in the test environment, said explicitly, with
    the bench's secrets: those the servers of app_environment use."""
    os.environ.update(APP_ENV="test", **BENCH_SECRETS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def process(command: list[str], env: dict[str, str], log_name: str) -> Iterator[subprocess.Popen]:
    """A child process in its own process group, stopped (group and all) at the end."""
    log = open(Path(os.environ.get("BENCH_LOG_DIR", "/tmp")) / f"{log_name}.log", "w")  # noqa: SIM115
    child = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield child
    finally:
        stop(child)
        log.close()


def stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int = GUNICORN_WORKERS, threads: int = 1) -> Iterator[str]:
    """Run the bench app under gunicorn; yield its base URL once it serves."""
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--backlog", "2048",
        "--no-control-socket",  # several gunicorns may run on this machine
        "bench.webhook_app:create_bench_app()",
    ]  # fmt: skip
    with process(command, env, "bench-gunicorn") as child:
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(base, child)
        yield base


def _wait_until_serving(base: str, child: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError("gunicorn exited; see /tmp/bench-gunicorn.log")
        try:
            requests.post(base + "/bench/bare", timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start serving")


def write_bodies(path: Path, bodies: Iterable[bytes], secret: str = BENCH_SECRET) -> int:
    """One "<signature>\\t<body>" line per body, for wrk_post.lua; return how many."""
    count = 0
    with path.open("wb") as out:
        for body in bodies:
            out.write(sign(secret, body).encode() + b"\t" + body + b"\n")
            count += 1
    return count


def run_wrk(
    url: str,
    bodies: Path,
    *,
    threads: int = 2,
    connections: int = 32,
    duration_s: float = 5,
    rate: int = 0,
) -> dict:
    """Run wrk against ``url`` with the pre-signed bodies, as fast as it goes or at ``rate``
    POSTs a second; return its RESULT line as a dict (requests, duration_us, p50_us, ...)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    path = urlsplit(url).path
    command = [
        "wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{duration_s}s",
        "-s", str(WRK_SCRIPT), url, "--", str(bodies), path, str(threads), str(rate),
    ]  # fmt: skip
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=True
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])
