"""What every webhook endpoint does before it looks at a body: plain answers, and the raw body
read only when it is within the size limit (signatures are over the exact bytes)."""

from __future__ import annotations

from flask import Response, request


def plain(message: str, status: int) -> Response:
    return Response(message, status=status, mimetype="text/plain")


def raw_body_within(limit: int) -> bytes | Response:
    """The raw request body, or a 413 answer when it is over ``limit`` bytes. The declared
    length is checked first, so an oversized body is refused before it is read."""
    if (request.content_length or 0) > limit:
        return plain("payload too large", 413)
    body = request.get_data(cache=False)
    if len(body) > limit:
        return plain("payload too large", 413)
    return body
