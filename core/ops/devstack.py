"""``make run``: the whole app on embedded defaults, for a newcomer or a demo.

Starts (or joins) the embedded PostgreSQL and Redis servers unless DATABASE_URL / REDIS_URL
name real ones, migrates, loads the demo document, then runs the Shopify Admin stand-in (unless
SHOPIFY_ADMIN_URL names another), the Meta stand-in (unless META_GRAPH_URL names a real Graph
API), the web server (gunicorn) and one RQ worker as child processes. Ctrl-C (or SIGTERM)
stops every child by process id, then the servers this process started. If a child dies on
its own, everything stops with an error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from core.settings import PROJECT_ROOT

DEMO_DOCUMENT = PROJECT_ROOT / "sim" / "demo_seed.json"
DEMO_SHOP = "demo.myshopify.com"
STOP_TIMEOUT_S = 10


def child_commands(
    port: int, shopify_port: int | None = None, meta_port: int | None = None, *, verbose: bool = False
) -> dict[str, list[str]]:
    """The processes to run. With ``shopify_port``, the Shopify stand-in first (so the app home
    can exchange its session token from the first page load), serving the demo shop's
    customers and posting its webhooks to the web server. With ``meta_port``, the Meta
    stand-in too (campaigns are sent to it), posting its status webhooks to the web server.
    The worker leaves out RQ's routine lines for each job unless ``verbose``."""
    python = sys.executable
    commands = {}
    if shopify_port is not None:
        commands["shopify"] = [
            python,
            "-m",
            "sim.shopify",
            "--port",
            str(shopify_port),
            "--seed-document",
            str(DEMO_DOCUMENT),
            "--webhook-url",
            f"http://127.0.0.1:{port}/webhooks/shopify",
        ]
    if meta_port is not None:
        webhook_url = f"http://127.0.0.1:{port}/webhooks/meta"
        commands["meta"] = [python, "-m", "sim.meta", "--port", str(meta_port), "--webhook-url", webhook_url]
    return commands | {
        "web": [
            str(Path(python).with_name("gunicorn")),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
            # The path without the query string: document URLs carry session tokens (id_token).
            "--access-logformat",
            '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss',
            "web:create_app()",
        ],
        "worker": [python, "-m", "jobs.worker", "--name", f"devstack-{os.getpid()}"]
        + ([] if verbose else ["--quiet-jobs"]),
    }


def use_shopify_stand_in(port: int) -> int | None:
    """Unless SHOPIFY_ADMIN_URL names a Shopify to use, run the stand-in and point the app at
    it (the children inherit the variable). Return the stand-in's port, or None."""
    if os.environ.get("SHOPIFY_ADMIN_URL"):
        return None
    shopify_port = int(os.environ.get("SHOPIFY_STAND_IN_PORT", port + 200))
    os.environ["SHOPIFY_ADMIN_URL"] = f"http://127.0.0.1:{shopify_port}"
    return shopify_port


def use_meta_stand_in(port: int) -> int | None:
    """Unless META_GRAPH_URL names a real Graph API, run the stand-in and point the app at it
    (the children inherit the variable). Return the stand-in's port, or None."""
    if os.environ.get("META_GRAPH_URL"):
        return None
    meta_port = int(os.environ.get("META_STAND_IN_PORT", port + 100))
    os.environ["META_GRAPH_URL"] = f"http://127.0.0.1:{meta_port}"
    return meta_port


def prepare() -> dict[str, int]:
    from core.ops import migrate
    from core.ops.embedded import ensure_services

    started = ensure_services()
    migrate.upgrade(os.environ["DATABASE_URL"])
    _seed_demo()
    return started


def _seed_demo() -> None:
    import json

    from core.db import session_scope
    from core.ops import seed

    document = seed.parse_document(json.loads(DEMO_DOCUMENT.read_text()))
    with session_scope() as session:
        created = seed.load(session, document)
    print("demo data: created " + ", ".join(f"{n} {kind}" for kind, n in created.items()), flush=True)


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The children's environment: ours, in development, with the explicit opt-in that lets
    the web server mint session tokens for a plain browser (web/dev.py). Only this stack sets
    it: ``shopify app dev`` sets APP_ENV=development too, behind a public tunnel."""
    return {**env, "APP_ENV": env.get("APP_ENV") or "development", "DEV_SESSION_TOKENS": "1"}


def spawn(commands: dict[str, list[str]]) -> dict[str, subprocess.Popen]:
    # Each child leads its own process group so we can stop it and its own children
    # (gunicorn's workers, RQ's work horses) together, and so the terminal's Ctrl-C reaches
    # only us: we stop the children in order instead of racing them.
    environment = child_environment(os.environ)
    return {
        name: subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=environment, start_new_session=True)
        for name, cmd in commands.items()
    }


def stop(children: dict[str, subprocess.Popen]) -> None:
    """Last started, first stopped: the worker and the web server finish what they are doing
    while the stand-ins they call still answer."""
    for child in reversed(list(children.values())):
        _stop_one(child)


def _stop_one(child: subprocess.Popen) -> None:
    # A second SIGTERM is RQ's cold shutdown, which also ends the work horse: RQ runs it in a
    # session of its own, so the process-group signal does not reach it.
    for sig, timeout in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGTERM, 5), (signal.SIGKILL, None)):
        if child.poll() is not None:
            return
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


class _Stop(Exception):
    pass


def _raise_stop(*_args) -> None:
    raise _Stop


def _login_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/dev/login?shop={DEMO_SHOP}"


def _banner(port: int) -> str:
    return (
        f"\n  Shopify Admin API: {os.environ['SHOPIFY_ADMIN_URL']}\n"
        f"  Meta Graph API: {os.environ['META_GRAPH_URL']}; launch a demo campaign from its page, or:\n"
        f"    META_GRAPH_URL={os.environ['META_GRAPH_URL']} .venv/bin/flask --app web campaigns launch "
        f"'Spring teaser' --shop {DEMO_SHOP}\n"
        "  Ctrl-C stops everything; `make run ARGS=--verbose` shows every job the worker runs.\n"
    )


def _watch(children: dict[str, subprocess.Popen], port: int) -> int:
    """Wait until a child dies (answer 1). Once the web server answers, print the URL to open,
    once: below the children's start-up lines, where it stays in view."""
    ready = False
    while True:
        dead = [name for name, child in children.items() if child.poll() is not None]
        if dead:
            print(f"{', '.join(dead)} stopped unexpectedly; stopping everything", flush=True)
            return 1
        if not ready and _serving(port):
            ready = True
            print(f"\n  Ready: open {_login_url(port)}\n", flush=True)
        time.sleep(0.5)


def _serving(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=2, allow_redirects=False)
    except requests.RequestException:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    verbose = "--verbose" in (sys.argv[1:] if argv is None else argv)
    # Said explicitly, for this process (the migration and the seed) and its children: the
    # settings fall back to the public development placeholders only when APP_ENV says so.
    os.environ["APP_ENV"] = os.environ.get("APP_ENV") or "development"
    port = int(os.environ.get("PORT", "8000"))
    shopify_port = use_shopify_stand_in(port)
    meta_port = use_meta_stand_in(port)
    started = prepare()
    if started:
        print("embedded servers (pid): " + ", ".join(f"{k} {v}" for k, v in started.items()), flush=True)
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    children = spawn(child_commands(port, shopify_port, meta_port, verbose=verbose))
    print("started (pid): " + ", ".join(f"{k} {c.pid}" for k, c in children.items()), flush=True)
    print(_banner(port), flush=True)
    status = 0
    try:
        status = _watch(children, port)
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop(children)
        print("stopped (pid): " + ", ".join(str(c.pid) for c in children.values()), flush=True)
    return status  # the embedded servers stop at exit (core/ops/embedded.py)


if __name__ == "__main__":
    sys.exit(main())
