"""Our ``biz_opaque_callback_data``: the message of ours a send is for, signed so that no other
app on the same WhatsApp number can name one of our messages.

Meta echoes a send's callback data in every status of that message; the drain uses it only for
a status that beats the send answer, before dispatch has stored the wamid
(core/meta_webhooks/locked_messages.py). Every app subscribed to a number's account receives
every status of that number, and other apps may put numbers in their callback data too: a bare
message id (what we sent before this form) would let their status be applied to our message.

So the callback is ``v1.<message id>.<mac>``: the mac is an HMAC-SHA256 of the form's version,
the shop and the message id, keyed from ``FLASK_SECRET_KEY`` (a key of its own, derived for
this use alone), truncated to 128 bits and written in 22 base64url characters. A callback is
under 50 characters, far inside Meta's 512. The shop is in the mac, not in the text: the drain
knows the shop from the number the status came to.

Rotating ``FLASK_SECRET_KEY`` makes the callbacks of messages in flight unreadable: their
statuses then wait, parked, for dispatch to record the wamid, as any status without a callback
does. A bare number (the form sent before) never names a message; see docs/design.md.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re

from core.settings import get_settings

VERSION = "v1"
MAC_BYTES = 16
_KEY_LABEL = b"whatsapp biz_opaque_callback_data"
_CALLBACK = re.compile(r"v1\.([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{22})")  # whole string: fullmatch
BIGINT_MAX = 2**63 - 1


@functools.lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    # A key of its own: a mac made here can never be read as a tracked link's, or the reverse.
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _mac(shop_id: int, message_id: int) -> str:
    key = _key(get_settings().flask_secret_key)
    digest = hmac.new(key, f"{VERSION}:{shop_id}:{message_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode().rstrip("=")


def callback_for(shop_id: int, message_id: int) -> str:
    """The callback data dispatch sends with message ``message_id`` of ``shop_id``."""
    return f"{VERSION}.{message_id}.{_mac(shop_id, message_id)}"


def message_named(shop_id: int, callback: str | None) -> int | None:
    """The id of our message ``callback`` names, if we made it for ``shop_id``; else None."""
    match = _CALLBACK.fullmatch(callback or "")
    if match is None or int(match.group(1)) > BIGINT_MAX:
        return None
    message_id = int(match.group(1))
    return message_id if hmac.compare_digest(match.group(2), _mac(shop_id, message_id)) else None
