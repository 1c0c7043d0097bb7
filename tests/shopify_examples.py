"""Shopify's own example webhook bodies (tests/fixtures/shopify/webhook-examples/2026-04, see the
README there), so tests post what Shopify publishes and change only what a scenario needs."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "shopify" / "webhook-examples" / "2026-04"


@cache
def _published(topic: str) -> dict:
    document = json.loads((EXAMPLES / f"{topic.replace('/', '_')}.json").read_text())
    assert document["topic"] == topic
    return document["example_body"]


def example_body(topic: str) -> dict:
    """A fresh copy of the body Shopify publishes for ``topic`` (``orders/create``, ...)."""
    return copy.deepcopy(_published(topic))
