"""Tracked URL buttons: each message's own link, and what opening it does.

A template whose URL button is ``{SHOPIFY_APP_URL}/r/{{1}}`` can be tracked: the draft names
the destination (``{"track": "https://..."}``, kept in the campaign's components), dispatch
calls ``tracked_suffix`` once per message and tracked button while it builds the send body and
sends the token as the button's parameter, and ``GET /r/<token>`` records the click and
redirects to the destination with UTM parameters naming the campaign.

A token is opaque: the shop, the message and the button index encrypted together with
AES-SIV, a deterministic authenticated cipher, under a key derived from the app's secret
(44 characters). Nobody can read a message id out of a link, nor make or guess another
message's link (the cipher's 128-bit tag authenticates it); a retried send carries the same
token, and dispatch stores nothing per message (the redirect decrypts the key, finds the
message and reads the destination in its campaign's components). A token made under the
previous ``FLASK_SECRET_KEY`` (``FLASK_SECRET_KEY_PREVIOUS``, during a rotation) still opens.

Links sent before tokens became opaque read ``<shop>.<message>.<button index>.<mac>`` (ids in
hex, the mac an HMAC of the rest): they were sent to customers, so they keep working.

Opens are kept (``clicks``, for the timeline), at most ``OPENS_KEPT_PER_MINUTE`` a minute per
message: a link opened in a loop still redirects, but cannot flood the timeline. The campaign's
``clicked`` counts messages with at least one click, so the message row is locked before its
clicks are read: two opens at the same moment cannot both count as the first, nor both slip
under the minute's cap (the drain's quick-reply clicks lock the same row:
core/meta_webhooks/clicks.py).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.variants import VariantChanges
from core.settings import get_settings

URL_BUTTON = "url_button"
# Opens of one message's tracked links kept in any minute; more still redirect, unrecorded.
OPENS_KEPT_PER_MINUTE = 5
MAC_BYTES = 16
_KEY = struct.Struct(">QQB")  # shop id, message id, button index
_OPAQUE = re.compile(r"^[A-Za-z0-9_-]{44}$")  # base64 of a 16-byte tag and the 17-byte key
_LEGACY = re.compile(r"^([0-9a-f]{1,15})\.([0-9a-f]{1,15})\.([0-9]{1,2})\.([A-Za-z0-9_-]{22})$")

_FIND = text("""
    SELECT m.campaign_id, m.variant_id, c.name AS campaign_name, c.template_components AS components
      FROM messages m
      JOIN campaigns c ON c.shop_id = m.shop_id AND c.id = m.campaign_id
     WHERE m.shop_id = :shop_id AND m.id = :message_id
       FOR UPDATE OF m
""")
_CLICKED_BEFORE = text(
    "SELECT EXISTS (SELECT 1 FROM clicks WHERE shop_id = :shop_id AND message_id = :message_id)"
)
# Opens kept in the minute before this one, counted no further than the cap.
_RECENT_OPENS = text("""
    SELECT count(*) FROM (
        SELECT 1 FROM clicks
         WHERE shop_id = :shop_id AND message_id = :message_id AND kind = :kind
           AND clicked_at > :since AND clicked_at <= :clicked_at
         LIMIT :cap
    ) AS recent
""")
_INSERT_CLICK = text("""
    INSERT INTO clicks (shop_id, message_id, kind, clicked_at)
    VALUES (:shop_id, :message_id, :kind, :clicked_at)
""")
_COUNT_FIRST = text(
    "UPDATE campaigns SET clicked_count = clicked_count + 1 WHERE shop_id = :shop_id AND id = :campaign_id"
)


@dataclass(frozen=True)
class TokenKey:
    shop_id: int
    message_id: int
    index: str


def tracked_suffix(shop_id: int, message_id: int, index: str, destination: str) -> str:
    """Return the URL suffix (the token) for message ``message_id``'s tracked button ``index``.
    The destination is not in the token: the redirect reads it from the campaign."""
    sealed = _cipher(get_settings().flask_secret_key).encrypt(
        _KEY.pack(shop_id, message_id, int(index)), [_AD]
    )
    return base64.urlsafe_b64encode(sealed).decode()


def read_token(token: str) -> TokenKey | None:
    """Return what a token names, or None unless it is one we made, under the app's secret or
    the previous one."""
    secrets = get_settings().flask_secret_keys
    if _OPAQUE.match(token):
        return _read_opaque(token, secrets)
    if match := _LEGACY.match(token):
        return _read_legacy(match, secrets)
    return None


_AD = b"tracked link"  # binds a sealed key to this use of the secret


@functools.lru_cache(maxsize=4)
def _cipher(secret: str) -> AESSIV:
    """AES-SIV under a key derived from ``secret`` (derived, so the token's key is not the key
    Flask signs with)."""
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"tracked links v2").derive(
        secret.encode()
    )
    return AESSIV(key)


def _read_opaque(token: str, secrets: tuple[str, ...]) -> TokenKey | None:
    sealed = base64.urlsafe_b64decode(token)
    for secret in secrets:
        try:
            shop_id, message_id, index = _KEY.unpack(_cipher(secret).decrypt(sealed, [_AD]))
        except InvalidTag:
            continue
        return TokenKey(shop_id, message_id, str(index))
    return None


def _read_legacy(match: re.Match, secrets: tuple[str, ...]) -> TokenKey | None:
    key = TokenKey(int(match.group(1), 16), int(match.group(2), 16), match.group(3))
    for secret in secrets:
        if hmac.compare_digest(_legacy_mac(secret, key), match.group(4)):
            return key
    return None


def _legacy_mac(secret: str, key: TokenKey) -> str:
    message = f"click:{key.shop_id}:{key.message_id}:{key.index}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode().rstrip("=")


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
    """Record one open of the link ``token`` (unless the message's opens this minute reached
    the cap) and return where it leads; None for a token we never gave out. Runs in the
    caller's transaction, which should commit at once."""
    key = read_token(token)
    if key is None:
        return None
    keys = {"shop_id": key.shop_id, "message_id": key.message_id}
    link = session.execute(_FIND, keys).first()  # locks the message: see the module's docstring
    destination = destination_of(link.components, key.index) if link else None
    if destination is None:
        return None
    first = not session.execute(_CLICKED_BEFORE, keys).scalar_one()
    clicked_at = at or datetime.now(UTC)
    if first or _may_keep_open(session, keys, clicked_at):
        session.execute(_INSERT_CLICK, {**keys, "kind": URL_BUTTON, "clicked_at": clicked_at})
    if first:
        session.execute(_COUNT_FIRST, {"shop_id": key.shop_id, "campaign_id": link.campaign_id})
        variants = VariantChanges()  # after the campaign row, as every writer (core/counts/variants.py)
        variants.add(key.shop_id, link.campaign_id, link.variant_id, clicked=1)
        variants.apply(session)
    return Opened(with_utm(destination, link.campaign_name), first)


def _may_keep_open(session: Session, keys: dict, clicked_at: datetime) -> bool:
    """Whether the message's link opens kept in the minute up to ``clicked_at`` are under the cap."""
    recent = session.execute(
        _RECENT_OPENS,
        {
            **keys,
            "kind": URL_BUTTON,
            "since": clicked_at - timedelta(minutes=1),
            "clicked_at": clicked_at,
            "cap": OPENS_KEPT_PER_MINUTE,
        },
    ).scalar_one()
    return recent < OPENS_KEPT_PER_MINUTE


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
