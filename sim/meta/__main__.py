"""``python -m sim.meta``: run the Meta stand-in until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sim.meta.config import SimConfig
from sim.meta.server import MetaServer
from sim.meta.state import MetaState
from sim.serving import serve_until_stopped


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.meta", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100, help="0 picks a free port")
    parser.add_argument("--config", type=Path, help="JSON file with any SimConfig fields")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--cap", type=int, help="accepted sends per second per phone number")
    parser.add_argument("--posters", type=int, help="concurrent webhook posters")
    parser.add_argument("--webhook-url", help="the app's POST /webhooks/meta (none: post nothing)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> SimConfig:
    config = SimConfig()
    if args.config:
        config.update(json.loads(args.config.read_text()))
    if os.environ.get("META_APP_SECRET"):
        config.app_secret = os.environ["META_APP_SECRET"]
    if os.environ.get("META_APP_ID"):  # the app the code exchange and subscriptions belong to
        config.app_id = os.environ["META_APP_ID"]
    for name in ("seed", "cap", "webhook_url", "posters"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    state = MetaState(build_config(args))
    server = MetaServer((args.host, args.port), state)
    server.start_posting()
    return serve_until_stopped(server, "meta stand-in", on_stop=state.poster.stop)


if __name__ == "__main__":
    sys.exit(main())
