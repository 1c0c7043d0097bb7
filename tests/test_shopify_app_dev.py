"""``shopify app dev`` installs and starts the whole app, as Shopify's CLI does it.

What the CLI does was read in its own source (github.com/Shopify/cli, packages/app and
packages/cli-kit, December 2026):
- the project's package manager is ``unknown`` when the app's root has no package.json (and
  ``dev`` then runs ``unknown install`` and stops); otherwise the first lockfile found walking
  up from the root decides (package-lock.json: npm);
- before starting anything, ``dev`` runs ``<package manager> install`` in every folder below the
  root that holds a package.json, three levels deep, node_modules left out;
- every ``shopify.web.toml`` below the root is a web process (at most one ``frontend`` and one
  ``backend``); each runs ``commands.dev`` in its own folder, split on spaces, without a shell,
  with ``PORT``, ``APP_URL`` and ``HOST`` (the tunnel), ``APP_ENV=development`` and the app's key
  and secret in the environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tomllib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import Customer
from core.settings import load_settings
from core.shopify.billing import return_url
from tests.shopify_webhooks import SHOP, customer_body, post
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
LOCKFILES = {"yarn.lock": "yarn", "pnpm-lock.yaml": "pnpm", "bun.lockb": "bun", "package-lock.json": "npm"}
TUNNEL = "https://tunnel.example.trycloudflare.com"


def _package_manager(root: Path) -> str:
    """The CLI's choice (project.ts, getPackageManager): no package.json, unknown; else the
    first lockfile walking up; else npm."""
    if not (root / "package.json").exists():
        return "unknown"
    for folder in [root, *root.parents]:
        for lockfile, manager in LOCKFILES.items():
            if (folder / lockfile).exists():
                return manager
    return "npm"


def _install_folders(root: Path) -> list[Path]:
    """Where the CLI runs ``install`` (installNPMDependenciesRecursively: **/package.json, deep 3)."""
    return sorted(
        path.parent
        for path in root.rglob("package.json")
        if "node_modules" not in path.parts and len(path.relative_to(root).parts) <= 3
    )


def _web_configs(root: Path) -> dict[Path, dict]:
    """Every shopify.web.toml the CLI would load (discoverWebFiles: **/shopify.web.toml)."""
    return {
        path.parent: tomllib.loads(path.read_text())
        for path in root.rglob("shopify.web.toml")
        if "node_modules" not in path.parts and ".venv" not in path.parts
    }


def _cli_env(port: int) -> dict[str, str]:
    """launchWebProcess's environment, over the test's own (which names its database and Redis)."""
    return {
        **os.environ,
        "PORT": str(port),
        "HOST": TUNNEL,
        "APP_URL": TUNNEL,
        "APP_ENV": "development",
        "NODE_ENV": "development",
        "SCOPES": "read_customers,write_customers,read_orders",
    }


def test_the_cli_finds_a_package_manager_and_installs_what_it_finds():
    """The root has a package.json and npm's lockfile, so the CLI runs `npm install`, and that
    succeeds in the root (the only other package.json is the customer-page block's, tested in
    test_extension.py); its postinstall sets up the Python virtualenv the web processes run."""
    assert _package_manager(ROOT) == "npm"
    assert _install_folders(ROOT) == [ROOT, ROOT / "extensions" / "whatsapp-customer-block"]
    npm = shutil.which("npm")
    assert npm, "npm (Node.js 20) is needed to prove `shopify app dev`'s install"
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (ROOT / ".venv" / ".installed").exists()


def test_the_cli_starts_the_web_app_and_the_worker():
    """Exactly one backend (web/, serving the app: tests/test_shopify_web_toml.py) and one
    background process, the RQ worker, whose dev command needs no shell."""
    roles = {
        folder.relative_to(ROOT).as_posix(): config["roles"] for folder, config in _web_configs(ROOT).items()
    }
    assert roles == {"web": ["frontend", "backend"], ".": ["background"]}
    worker = _web_configs(ROOT)[ROOT]["commands"]["dev"]
    assert "&&" not in worker and "$" not in worker and "'" not in worker and '"' not in worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_background_process_applies_webhooks_while_the_cli_runs(client, make, service_urls):
    """The worker's dev command, run as the CLI runs it, applies a Shopify webhook the app stored."""
    make.shop(SHOP, access_token_ciphertext=encrypt_token("shpat_demo"))
    argv = _web_configs(ROOT)[ROOT]["commands"]["dev"].split(" ")
    worker = subprocess.Popen(
        argv, cwd=ROOT, env=_cli_env(_free_port()), stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        assert (
            post(client, "customers/create", customer_body(41, updated_at="2026-12-01T10:00:00Z")).status_code
            == 200
        )

        def applied() -> Customer | None:
            assert worker.poll() is None, f"the worker exited with {worker.returncode}"
            with Session(make.engine) as session:
                return session.scalar(select(Customer).where(Customer.shopify_customer_id == 41))

        customer = wait_for(applied, 60, "the worker to apply the webhook", every_s=0.2)
        assert customer.phone_e164 == "+34612345678"
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


def test_tracked_links_follow_the_clis_tunnel():
    """Under the CLI (APP_URL set, SHOPIFY_APP_URL not), the app's public URL is the tunnel; a
    SHOPIFY_APP_URL set by hand still wins. Shopify's approval page sends the merchant back to
    the app inside the admin (which opens application_url, the tunnel the CLI writes there), never
    to the development login of ``make run``, though the CLI sets APP_ENV=development."""
    env = {"APP_ENV": "test", "APP_URL": TUNNEL + "/"}
    assert load_settings(env).shopify_app_url == TUNNEL
    cli = {k: v for k, v in _cli_env(3000).items() if k not in ("SHOPIFY_APP_URL", "DEV_SESSION_TOKENS")}
    under_cli = load_settings(cli | {"SHOPIFY_API_KEY": "cli-client-id"})
    assert under_cli.shopify_app_url == TUNNEL and not under_cli.may_mint_dev_tokens
    assert return_url(under_cli, "firstday.myshopify.com") == (
        "https://admin.shopify.com/store/firstday/apps/cli-client-id/settings?credit_purchase=returned"
    )
    assert load_settings(env | {"SHOPIFY_APP_URL": "https://app.example.com"}).shopify_app_url == (
        "https://app.example.com"
    )
