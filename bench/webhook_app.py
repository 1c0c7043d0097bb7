"""The app the webhook benchmarks serve with gunicorn: the real app, plus two endpoints that
exist only here, so every side of a comparison runs in the very same server configuration.

- ``POST /bench/bare``: answers 200 and does nothing else: the ceiling of the server itself.
- ``POST /bench/flask_meta``: the Meta webhook's checks and store (web/webhooks/route.py) inside
  a Flask view, which is what ``/webhooks/meta`` was before its thin route.
- ``POST /bench/naive``: the obvious design: verify the signature, then one RQ job per webhook
  (bench/naive_webhooks.py), no inbox.
"""

from __future__ import annotations

from flask import Flask, Response, request

from bench.naive_webhooks import NAIVE_QUEUE, apply_webhook_naively
from core.meta_webhooks import signature
from core.redis import get_redis
from core.settings import get_settings
from web import create_app


def bare() -> Response:
    return Response("", status=200, mimetype="text/plain")


def naive() -> Response:
    from rq import Queue

    body = request.get_data(cache=False)
    if not signature.is_valid(get_settings().meta_app_secret, body, request.headers.get(signature.HEADER)):
        return Response("bad signature", status=401, mimetype="text/plain")
    Queue(NAIVE_QUEUE, connection=get_redis()).enqueue(apply_webhook_naively, body, result_ttl=0)
    return Response("", status=200, mimetype="text/plain")


def create_bench_app() -> Flask:
    app = create_app()
    app.add_url_rule("/bench/bare", "bench_bare", bare, methods=["POST"])
    app.add_url_rule("/bench/naive", "bench_naive", naive, methods=["POST"])
    thin_route = app.wsgi_app  # web/webhooks/route.py, in front of Flask
    app.add_url_rule(
        "/bench/flask_meta", "bench_flask_meta", lambda: thin_route.receive(request.environ), methods=["POST"]
    )
    return app
