"""``shopify app dev`` starts our backend: web/shopify.web.toml's dev command, run exactly as
Shopify's CLI runs it (split on spaces, no shell, in web/, PORT in the environment), serves the
app home."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tomllib
from pathlib import Path

import requests

from tests.browser import admin_query
from tests.tokens import session_token
from tests.waiting import wait_for

WEB = Path(__file__).resolve().parent.parent / "web"
SHOP = "demo.myshopify.com"
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_home(url: str, process: subprocess.Popen) -> requests.Response:
    def answer() -> requests.Response | None:
        if process.poll() is not None:
            raise AssertionError(f"the backend exited with {process.returncode}: {process.stdout.read()}")
        try:
            return requests.get(url, timeout=10)
        except requests.ConnectionError:
            return None

    return wait_for(answer, START_TIMEOUT_S, "the backend to answer", every_s=0.2)


def test_the_cli_dev_command_serves_the_app_home(make, service_urls):
    """The dev command, split on spaces and run without a shell in web/ with PORT set, serves
    the app home of an installed shop."""
    make.shop(SHOP)
    command = tomllib.loads((WEB / "shopify.web.toml").read_text())["commands"]["dev"]
    argv = command.split(" ")  # what the CLI does: no shell, no quoting, no $PORT expansion
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "SHOPIFY_API_KEY": os.environ.get("SHOPIFY_API_KEY", "")}
    env = {k: v for k, v in env.items() if v}
    process = subprocess.Popen(
        argv,
        cwd=WEB,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/?{admin_query(SHOP, session_token(SHOP, exp_in=300))}"
        response = _wait_for_home(url, process)
        assert response.status_code == 200
        assert "<title>Campaigns · WhatsApp campaigns</title>" in response.text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
