"""The inbox watch (periodic, every minute): an ERROR log line for each source whose oldest
unprocessed webhook has waited past five minutes (core/inbox/health.py), whichever shop it
belongs to. The app has no other channel to operators than its logs and ``GET /health``."""

from __future__ import annotations

import logging

from core.db import session_scope
from core.inbox.health import alerts, oldest_unprocessed

log = logging.getLogger(__name__)


def watch_inbox() -> dict[str, float]:
    """Log an alert per source waiting too long; answer each source's oldest wait in seconds."""
    with session_scope() as session:
        ages = oldest_unprocessed(session)
    for alert in alerts(ages):
        log.error("inbox alert: %s", alert)
    return ages
