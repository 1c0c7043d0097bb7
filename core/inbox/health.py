"""How long webhooks have waited in the inbox: the figure ``GET /health`` answers (web/health.py)
and the periodic inbox watch alerts on (jobs/health.py). It looks at every shop at once: a stuck
drain stops every shop's webhooks, so the alert must not wait for any one shop to notice."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

SOURCES = ("meta", "shopify")
# Drains run within seconds of a body's arrival; five minutes means one is stuck or failing.
ALERT_AFTER_S = 300

# The oldest by id is the first stored; the unprocessed index (by id) finds it at once. An event
# waiting for its next attempt counts: it is not applied either.
_OLDEST = text(
    """
    SELECT s.source,
           (SELECT extract(epoch FROM now() - e.received_at)
              FROM inbox_events AS e
             WHERE e.source = s.source AND e.processed_at IS NULL
             ORDER BY e.id
             LIMIT 1) AS waited_s
      FROM unnest(CAST(:sources AS text[])) AS s(source)
    """
)


def oldest_unprocessed(session: Session) -> dict[str, float]:
    """For each source, the seconds its oldest unprocessed event has waited (0 when none waits),
    to a tenth of a second."""
    rows = session.execute(_OLDEST, {"sources": list(SOURCES)}).all()
    return {row.source: round(max(float(row.waited_s or 0), 0.0), 1) for row in rows}


def alerts(ages: dict[str, float]) -> list[str]:
    """A sentence for each source whose oldest unprocessed event has waited past the alert."""
    return [
        f"the oldest unprocessed {source} webhook has waited {int(age)} s (alert past {ALERT_AFTER_S} s)"
        for source, age in ages.items()
        if age > ALERT_AFTER_S
    ]
