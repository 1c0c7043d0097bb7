"""Tracked URL buttons: each message's own link, and what opening it does.

A template whose URL button's base is ``{SHOPIFY_APP_URL}/r/{{1}}`` can be tracked: the draft
names the destination (``{"track": "https://..."}``), dispatch asks ``tracked_suffix`` for the
message's token and sends it as the button's parameter, and ``GET /r/<token>`` records the
click and redirects to the destination with UTM parameters naming the campaign.

A token is ``<shop id in hex>.<128 random bits>``: the shop id lets the redirect find the
link by the shard key alone (every shop-owned key begins with ``shop_id``), and the random part
makes one message's link useless for guessing another's.

Every open is kept (``clicks``, for the timeline); the campaign's ``clicked`` counts messages
with at least one click, so the message row is locked before its clicks are read: two opens at
the same moment cannot both count as the first (the drain's quick-reply clicks lock the same
row, clicks.py in core/meta_webhooks).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.orm import Session

URL_BUTTON = "url_button"
_TOKEN = re.compile(r"^([0-9a-f]{1,15})\.([A-Za-z0-9_-]{16,43})$")

_REMEMBER = text("""
    INSERT INTO tracked_links (shop_id, token, message_id, campaign_id, button_index, destination)
    VALUES (:shop_id, :token, :message_id, :campaign_id, :button_index, :destination)
        ON CONFLICT (shop_id, message_id, button_index) DO UPDATE SET destination = EXCLUDED.destination
    RETURNING token
""")

_FIND = text("""
    SELECT l.message_id, l.campaign_id, l.destination, c.name AS campaign_name
      FROM tracked_links l
      JOIN campaigns c ON c.shop_id = l.shop_id AND c.id = l.campaign_id
     WHERE l.shop_id = :shop_id AND l.token = :token
""")

_LOCK_MESSAGE = text("SELECT 1 FROM messages WHERE shop_id = :shop_id AND id = :message_id FOR UPDATE")
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


def new_token(shop_id: int) -> str:
    """Return a fresh, unguessable token for one of the shop's links."""
    return f"{shop_id:x}.{secrets.token_urlsafe(16)}"


def shop_of_token(token: str) -> int | None:
    """Return the shop id a well-formed token names, or None for anything else."""
    match = _TOKEN.match(token)
    return int(match.group(1), 16) if match else None


def tracked_suffix(
    session: Session, shop_id: int, campaign_id: int, message_id: int, button_index: int, destination: str
) -> str:
    """Return the token to send as the tracked button's parameter of this message. A resend of
    the same message gets the same token back, so a link already delivered keeps working."""
    return session.execute(
        _REMEMBER,
        {
            "shop_id": shop_id,
            "token": new_token(shop_id),
            "message_id": message_id,
            "campaign_id": campaign_id,
            "button_index": button_index,
            "destination": destination,
        },
    ).scalar_one()


@dataclass(frozen=True)
class Opened:
    destination: str  # with the UTM parameters
    first: bool  # the message's first click


def open_link(session: Session, token: str, at: datetime | None = None) -> Opened | None:
    """Record one open of the link ``token`` and return where it leads; None for a token we
    never gave out. Runs in the caller's transaction, which should commit at once."""
    shop_id = shop_of_token(token)
    if shop_id is None:
        return None
    link = session.execute(_FIND, {"shop_id": shop_id, "token": token}).first()
    if link is None:
        return None
    keys = {"shop_id": shop_id, "message_id": link.message_id}
    session.execute(_LOCK_MESSAGE, keys)
    first = not session.execute(_CLICKED_BEFORE, keys).scalar_one()
    session.execute(_INSERT_CLICK, {**keys, "kind": URL_BUTTON, "clicked_at": at or datetime.now(UTC)})
    if first:
        session.execute(_COUNT_FIRST, {"shop_id": shop_id, "campaign_id": link.campaign_id})
    return Opened(with_utm(link.destination, link.campaign_name), first)


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
