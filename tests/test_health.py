"""GET /health tells an operator, without a session token, whether the database answers and how
long the oldest unprocessed webhook has waited; a periodic job logs an ERROR past five minutes."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

import pytest
from sqlalchemy import func, update
from sqlalchemy.orm import Session

from core.models import InboxEvent
from jobs.periodic import run_periodic
from tests import meta
from tests.shopify_webhooks import customer_body, post


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _waited(make, source: str, minutes: int) -> None:
    """The stored events of ``source`` arrived ``minutes`` ago."""
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.source == source)
            .values(received_at=func.now() - timedelta(minutes=minutes))
        )


def test_health_answers_how_long_the_oldest_unprocessed_webhook_has_waited(client, make):
    """200 without a token: the database is ok, the oldest unprocessed event's age is given in
    total and per source (0 for a source with nothing waiting), and past five minutes the
    answer is "degraded" with the alert."""
    make.shop()
    post(client, "customers/update", customer_body(1, updated_at="2026-01-15T10:00:00Z"))
    _waited(make, "shopify", 10)
    response = client.get("/health")
    assert response.status_code == 200
    health = response.get_json()
    assert (health["status"], health["database"], health["redis"]) == ("degraded", "ok", "ok")
    assert 600 <= health["inbox_oldest_unprocessed_s"] < 660
    assert health["inbox"]["shopify"]["oldest_unprocessed_s"] == health["inbox_oldest_unprocessed_s"]
    assert health["inbox"]["meta"]["oldest_unprocessed_s"] == 0
    assert health["alerts"] == [
        f"the oldest unprocessed shopify webhook has waited {int(health['inbox_oldest_unprocessed_s'])} s"
        " (alert past 300 s)"
    ]


def test_health_is_quiet_when_the_inbox_is_drained(client, make):
    """Nothing waiting: every age is 0, there is no alert and the status is ok."""
    health = client.get("/health").get_json()
    assert (health["status"], health["inbox_oldest_unprocessed_s"], health["alerts"]) == ("ok", 0, [])


def test_health_is_503_when_the_database_cannot_be_reached(service_urls):
    """A database nobody answers at: 503, saying so, within the connect timeout."""
    from web import create_app

    app = create_app(
        {
            "APP_ENV": "test",
            "TESTING": True,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{_free_port()}/nowhere",
            "DATABASE_CONNECT_TIMEOUT_S": 2,
        }
    )
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}


def test_health_says_when_redis_cannot_be_reached(service_urls):
    """Redis down: still 200 (pages, the API and webhook storage work without it), redis named."""
    from web import create_app

    app = create_app({"APP_ENV": "test", "TESTING": True, "REDIS_URL": f"redis://127.0.0.1:{_free_port()}/0"})
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert (response.get_json()["redis"], response.get_json()["status"]) == ("unreachable", "degraded")


@pytest.mark.parametrize("minutes, alerted", [(4, False), (6, True)])
def test_the_inbox_watch_logs_an_error_past_five_minutes(client, make, caplog, minutes, alerted):
    """The periodic inbox watch logs an ERROR naming the source once its oldest unprocessed
    webhook has waited more than five minutes, whatever shop it belongs to."""
    meta.post(client, meta.statuses_body("unknown-number", meta.status("wamid.x", "sent", 1_700_000_000)))
    _waited(make, "meta", minutes)
    with caplog.at_level(logging.INFO):
        ages = run_periodic("inbox-watch")
    assert 60 * minutes <= ages["meta"] < 60 * minutes + 60
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    waited = int(ages["meta"])
    expected = f"inbox alert: the oldest unprocessed meta webhook has waited {waited} s (alert past 300 s)"
    assert errors == ([expected] if alerted else [])
