"""How ``/api`` answers what went wrong: always JSON ``{"error", "message"}`` with the status.

An HTTP error (a view's 400 or 404, a route that does not exist, a method a route does not
take) keeps its status and says what it says. Anything else is a fault of ours: it is logged
with its stack, and the client gets a 500 that names no internals (no exception, query, host
or database name). Pages keep Flask's own HTML answers.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong on our side. It has been logged; try again in a moment."


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def http_error(error: HTTPException) -> Response | HTTPException:
    """``{"error": "<name>", "message": "<description>"}`` (with ``errors`` for a validation
    refusal that names fields), keeping the error's own headers (Allow, Retry-After)."""
    if not is_api_request() or error.code is None:
        return error
    code = getattr(error, "error_code", None) or error.name.lower().replace(" ", "_")
    body = {"error": code, "message": error.description}
    if errors := getattr(error, "errors", None):
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = error.code
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def unexpected_error(error: Exception) -> Response:
    """A 500 for ``/api`` that says only that it happened; its stack goes to the log. Outside
    ``/api`` the exception goes on to Flask's own handling (its HTML 500, or the test client)."""
    if not is_api_request():
        raise error
    logger.error("%s %s failed", request.method, request.path, exc_info=error)
    return jsonify(error="internal_error", message=UNEXPECTED), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
