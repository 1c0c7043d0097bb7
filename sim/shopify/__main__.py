"""``python -m sim.shopify``: run the Shopify Admin stand-in until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sim.serving import serve_until_stopped
from sim.shopify.config import SimConfig
from sim.shopify.server import ShopifyServer
from sim.shopify.state import ShopifyState


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.shopify", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200, help="0 picks a free port")
    parser.add_argument("--config", type=Path, help="JSON file with any SimConfig fields")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--customers", type=int, help="customers generated for each shop")
    parser.add_argument("--seed-document", help="serve the customers of this seed document's shops")
    parser.add_argument("--webhook-url", help="the app's POST /webhooks/shopify (none: post nothing)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> SimConfig:
    config = SimConfig()
    if args.config:
        config.update(json.loads(args.config.read_text()))
    # The app and the stand-in must agree on the client id and secret, as the app and Shopify do.
    config.api_key = os.environ.get("SHOPIFY_API_KEY") or config.api_key
    config.api_secret = os.environ.get("SHOPIFY_API_SECRET") or config.api_secret
    for name in ("seed", "customers", "seed_document", "webhook_url"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = ShopifyServer((args.host, args.port), ShopifyState(build_config(args)))
    return serve_until_stopped(server, "shopify stand-in")


if __name__ == "__main__":
    sys.exit(main())
