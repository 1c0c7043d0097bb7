"""``python -m bench.naive_worker``: RQ's forking worker for the naive design, warmed up before
it forks (modules loaded, mappers configured, its statements compiled once, as a sensible
deployment of that design would be), so the comparison measures the design, not start-up."""

from __future__ import annotations

from rq import Queue, Worker
from sqlalchemy.orm import configure_mappers

from bench.naive_webhooks import NAIVE_QUEUE, apply_webhook_naively
from bench.webhook_data import status_body
from core.redis import get_redis


def warm_up() -> None:
    configure_mappers()
    # A status for a message that does not exist: every statement compiled, nothing written.
    apply_webhook_naively(status_body([-1], 0))


if __name__ == "__main__":
    warm_up()
    connection = get_redis()
    Worker([Queue(NAIVE_QUEUE, connection=connection)], connection=connection).work()
