"""Tracked URL buttons: each message's own link, and what opening it does.

A template whose URL button is ``{SHOPIFY_APP_URL}/r/{{1}}`` can be tracked: the draft names
the destination (``{"track": "https://..."}``, kept in the campaign's components), dispatch
calls ``tracked_suffix`` once per message and tracked button while it builds the send body and
sends the token as the button's parameter, and ``GET /r/<token>`` records the click and
redirects to the destination with UTM parameters naming the campaign.

A token is ``<shop>.<message>.<button index>.<mac>`` (ids in hex): the mac is an HMAC of the
rest under the app's secret, so nobody can make or guess another message's link, a retried send
carries the same token, and dispatch stores nothing per message (the redirect finds the
message by its key and the destination in its campaign's components). Rotating
``FLASK_SECRET_KEY`` retires the links already sent.

Every open is kept (``clicks``, for the timeline); the campaign's ``clicked`` counts messages
with at least one click, so the message row is locked before its clicks are read: two opens at
the same moment cannot both count as the first (the drain's quick-reply clicks lock the same
row: core/meta_webhooks/clicks.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.settings import get_settings

URL_BUTTON = "url_button"
TOKEN_BYTES = 16
_TOKEN = re.compile(r"^([0-9a-f]{1,15})\.([0-9a-f]{1,15})\.([0-9]{1,2})\.([A-Za-z0-9_-]{22})$")

_FIND = text("""
    SELECT m.campaign_id, c.name AS campaign_name, c.template_components AS components
      FROM messages m
      JOIN campaigns c ON c.shop_id = m.shop_id AND c.id = m.campaign_id
     WHERE m.shop_id = :shop_id AND m.id = :message_id
       FOR UPDATE OF m
""")
_CLICKED_BEFORE = text(
    "SELECT EXISTS (SELECT 1 FROM clicks WHERE shop_id = :shop_id AND message_id = :message_id)"
)
_INSERT_CLICK = text("""
    INSERT INTO clicks (shop_id, message_id, kind, clicked_at)
    VALUES (:shop_id, :message_id, :kind, :clicked_at)
""")
_COUNT_FIRST = text(
    "UPDATE campaigns SET clicked_count = clicked_count + 1 WHERE shop_id = :shop_id AND id = :campaign_id"
)


def _mac(shop_id: int, message_id: int, index: str) -> str:
    key = get_settings().flask_secret_key.encode()
    digest = hmac.new(key, f"click:{shop_id}:{message_id}:{index}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode().rstrip("=")


def tracked_suffix(shop_id: int, message_id: int, index: str, destination: str) -> str:
    """Return the URL suffix (the token) for message ``message_id``'s tracked button ``index``.
    The destination is not in the token: the redirect reads it from the campaign."""
    return f"{shop_id:x}.{message_id:x}.{int(index)}.{_mac(shop_id, message_id, str(int(index)))}"


@dataclass(frozen=True)
class TokenKey:
    shop_id: int
    message_id: int
    index: str


def read_token(token: str) -> TokenKey | None:
    """Return what a token names, or None unless it is one we made."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    key = TokenKey(int(match.group(1), 16), int(match.group(2), 16), match.group(3))
    expected = _mac(key.shop_id, key.message_id, key.index)
    return key if hmac.compare_digest(expected, match.group(4)) else None


def destination_of(components: object, index: str) -> str | None:
    """Return the destination the campaign's tracked button ``index`` leads to."""
    for component in components if isinstance(components, list) else []:
        if (
            isinstance(component, dict)
            and component.get("type") == "button"
            and str(component.get("index")) == index
        ):
            for parameter in component.get("parameters") or []:
                if isinstance(parameter, dict) and isinstance(parameter.get("track"), str):
                    return parameter["track"]
    return None


@dataclass(frozen=True)
class Opened:
    destination: str  # with the UTM parameters
    first: bool  # the message's first click


def open_link(session: Session, token: str, at: datetime | None = None) -> Opened | None:
    """Record one open of the link ``token`` and return where it leads; None for a token we
    never gave out. Runs in the caller's transaction, which should commit at once."""
    key = read_token(token)
    if key is None:
        return None
    keys = {"shop_id": key.shop_id, "message_id": key.message_id}
    link = session.execute(_FIND, keys).first()  # locks the message: see the module's docstring
    destination = destination_of(link.components, key.index) if link else None
    if destination is None:
        return None
    first = not session.execute(_CLICKED_BEFORE, keys).scalar_one()
    session.execute(_INSERT_CLICK, {**keys, "kind": URL_BUTTON, "clicked_at": at or datetime.now(UTC)})
    if first:
        session.execute(_COUNT_FIRST, {"shop_id": key.shop_id, "campaign_id": link.campaign_id})
    return Opened(with_utm(destination, link.campaign_name), first)


def with_utm(destination: str, campaign_name: str) -> str:
    """Return ``destination`` with UTM parameters naming the campaign; parameters the merchant
    put in the destination themselves win."""
    parts = urlsplit(destination)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    utm = {"utm_source": "whatsapp", "utm_medium": "message", "utm_campaign": campaign_name}
    for key, value in utm.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))


def names_tracked_button(components: object) -> bool:
    """Return whether a draft's components (in whatever nesting) hold a tracked URL button
    parameter ``{"track": "https://..."}``."""
    if isinstance(components, dict):
        if isinstance(components.get("track"), str):
            return True
        return any(names_tracked_button(v) for v in components.values())
    if isinstance(components, (list, tuple)):
        return any(names_tracked_button(v) for v in components)
    return False
