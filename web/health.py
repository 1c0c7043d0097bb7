"""``GET /health``, for load balancers and operators (no session token): whether the database
and Redis answer, and how long the oldest unprocessed webhook has waited, in total and per
source (core/inbox/health.py), with the alerts past five minutes. 503 when the database cannot
be reached; Redis down is "degraded", since pages, the API and webhook storage work without it."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from core.inbox.health import alerts, oldest_unprocessed
from core.redis import get_redis
from web.database import db

log = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    try:
        ages = oldest_unprocessed(db())
    except SQLAlchemyError as error:
        log.error("health: the database cannot be reached (%s)", type(error).__name__)
        return jsonify(status="unavailable", database="unreachable"), 503
    redis_answers = _redis_answers()
    warnings = alerts(ages)
    answer = {
        "status": "ok" if redis_answers and not warnings else "degraded",
        "database": "ok",
        "redis": "ok" if redis_answers else "unreachable",
        "inbox_oldest_unprocessed_s": max(ages.values(), default=0),
        "inbox": {source: {"oldest_unprocessed_s": age} for source, age in ages.items()},
        "alerts": warnings,
    }
    return jsonify(answer), 200


def _redis_answers() -> bool:
    try:
        return bool(get_redis().ping())
    except RedisError:
        return False
