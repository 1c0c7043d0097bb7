"""Serve the app with gunicorn on the port in ``PORT``: the backend ``shopify app dev`` starts.

Shopify's CLI runs ``commands.dev`` of web/shopify.web.toml without a shell: it splits the
line on spaces and runs it in this folder with PORT (and SHOPIFY_API_KEY, SHOPIFY_API_SECRET,
...) in the environment. So nothing here may rely on shell expansion or quoting:
``../.venv/bin/python serve.py`` runs this file, which reads PORT itself. It also runs from the
repository root as ``.venv/bin/python -m web.serve``.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8000


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def gunicorn_options(env: dict[str, str]) -> dict:
    """Gunicorn's settings for a development backend on ``PORT``."""
    port = env.get("PORT") or env.get("BACKEND_PORT") or str(DEFAULT_PORT)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SystemExit(f"PORT must be a TCP port number, got {port!r}")
    return {
        # The CLI's proxy reaches the backend at "localhost", which Node may resolve to ::1 or
        # to 127.0.0.1: listen on both loopbacks, and on nothing else.
        "bind": [f"127.0.0.1:{port}"] + ([f"[::1]:{port}"] if _has_ipv6_loopback() else []),
        "workers": 2,
        "threads": 8,
        # The app is built once, before the workers fork: embedded servers start once.
        "preload_app": True,
        "chdir": str(ROOT),
        "accesslog": "-",
        # Gunicorn's control socket lives at one path per user: several backends would collide.
        "control_socket_disable": True,
    }


def main() -> None:
    from gunicorn.app.base import BaseApplication

    from web import create_app

    class DevServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(dict(os.environ)).items():
                self.cfg.set(key, value)

        def load(self):
            return create_app()

    DevServer().run()


if __name__ == "__main__":
    if __package__ in (None, ""):  # run as a file from web/ (the CLI's way): import from the root
        sys.path[0] = str(ROOT)
    main()
