"""``GET /r/<token>``: a customer opened a campaign message's tracked button.

No session token here (the customer is not in the admin): the token alone names the link. The
answer is one short transaction and never waits on Redis, so the customer's browser moves on
at once.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect

from core.campaigns.tracking import open_link
from web.database import db
from web.webhooks.bodies import plain

blueprint = Blueprint("redirects", __name__)


@blueprint.get("/r/<token>")
def follow_tracked_link(token: str) -> Response:
    session = db()
    with session.begin():
        opened = open_link(session, token)
    if opened is None:
        return plain("This link is not one of ours, or it has expired.", 404)
    response = redirect(opened.destination, code=302)
    # Every open must reach us (each is kept for the timeline), and the destination need not
    # learn the token from the Referer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
