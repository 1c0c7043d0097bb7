"""Tracked URL buttons: each message's own token in the button's dynamic suffix.

A template whose URL button is ``{SHOPIFY_APP_URL}/r/{{1}}`` sends every recipient to our
redirect with a per-message token; opening it counts a click and sends the customer on to the
campaign's destination. This module is the one seam between dispatch and click tracking:
dispatch calls ``tracked_suffix`` once per message and tracked button while it builds the send
body, inside the claim transaction (so whatever it stores commits with the claim, before the
request leaves). Storage of (token -> message, destination) and the ``/r/<token>`` redirect
belong to click tracking, which completes ``tracked_suffix`` behind this same signature.

The token is an HMAC of shop, message and button under the app's secret: nobody can guess
another customer's link, and a retried send of the same message carries the same token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from core.settings import get_settings

TOKEN_BYTES = 16


def tracked_suffix(shop_id: int, message_id: int, index: str, destination: str) -> str:
    """Answer the URL suffix (the token) for message ``message_id``'s tracked button ``index``
    leading to ``destination``."""
    return message_token(shop_id, message_id, index)


def message_token(shop_id: int, message_id: int, index: str) -> str:
    """An unguessable, URL-safe token for one button of one message."""
    key = get_settings().flask_secret_key.encode()
    digest = hmac.new(key, f"click:{shop_id}:{message_id}:{index}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode().rstrip("=")
