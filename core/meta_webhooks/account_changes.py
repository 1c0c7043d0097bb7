"""Apply Meta's account-level webhook fields (core/rules/account_events.py) to the shops
connected to the account, in the drain's transaction.

- A template PAUSED or DISABLED halts every campaign of the shop still sending it, with the code
  Meta would answer for each further send (132015, 132016): the same halt as a failed send, with
  one alert per campaign, plus one alert about the template itself. FLAGGED, and a quality that
  turns RED, warn. A template approved again after a stop says which campaigns can resume.
- The number's quality events and the portfolio's messaging limit are stored on the connection
  (Settings and launch checks read them); a flag or a lowered limit warns.
- An account restriction on business-initiated messaging, or a disabled account, halts every
  sending campaign of the shop (368).

Meta's webhooks come late, twice and out of order: each stored fact keeps the time Meta gave
it, and an event older than, or the same as, the stored one changes nothing and alerts nobody.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from core.meta_webhooks.halt import HaltReason, halt_sending_campaigns
from core.meta_webhooks.parse import AccountChange
from core.models import ShopAlert
from core.rules import account_events as rules
from core.rules.alert_codes import AlertCode

_NAME, _LANGUAGE, _WORD, _TEXT = 512, 16, 64, 2000


def apply_account_changes(session: Session, changes: list[tuple[int, AccountChange]]) -> int:
    """Apply each change to its shop, oldest first; how many were read."""
    for shop_id, change in sorted(changes, key=lambda item: item[1].at):
        _APPLY[change.field](session, shop_id, change)
    return len(changes)


def _template_status(session: Session, shop_id: int, change: AccountChange) -> None:
    value = change.value
    name, language = _text(value.get("message_template_name"), _NAME), _language(value)
    event = (_text(value.get("event"), _WORD) or "").upper()
    if not name or not event:
        return
    stored = _store(
        session,
        _OLD_STATUS,
        _STORE_STATUS,
        {
            "shop_id": shop_id,
            "name": name,
            "language": language,
            "template_id": _text(value.get("message_template_id"), _WORD),
            "status": event,
            "reason": _reason(value),
            "at": change.at,
        },
    )
    if stored is None:  # older than, or the same as, what Meta said before
        return
    previous = stored.previous
    if event in rules.TEMPLATE_STOPS:
        _template_stopped(session, shop_id, name, language, event, value)
    elif event in rules.TEMPLATE_WARNS:
        _alert(
            session, shop_id, AlertCode.TEMPLATE_FLAGGED, f"Template {name} flagged by Meta", _reason(value)
        )
    elif event in rules.TEMPLATE_BACK and previous in rules.TEMPLATE_STOPS:
        resumable = _campaigns_halted_by_template(session, shop_id, name, language)
        details = "Stopped campaigns that can be resumed: " + ", ".join(resumable) if resumable else ""
        _alert(session, shop_id, AlertCode.TEMPLATE_BACK, f"Template {name} approved again", details)


def _template_stopped(
    session: Session, shop_id: int, name: str, language: str | None, event: str, value: dict
) -> None:
    code = rules.TEMPLATE_STOPS[event]
    said = _reason(value)
    reason = HaltReason(
        code,
        title=f"Template {event.lower()}",
        details=f"Meta {event.lower()} the template {name}" + (f" ({said})" if said else ""),
    )
    halted = halt_sending_campaigns(session, shop_id, reason, template=(name, language))
    details = f"{len(halted)} sending campaign(s) stopped." if halted else "No campaign was sending it."
    _alert(session, shop_id, AlertCode.TEMPLATE_STOPPED, f"Template {name} {event.lower()} by Meta", details)


def _template_quality(session: Session, shop_id: int, change: AccountChange) -> None:
    value = change.value
    name = _text(value.get("message_template_name"), _NAME)
    quality = (_text(value.get("new_quality_score"), 16) or "").upper()
    if not name or not quality:
        return
    stored = _store(
        session,
        _OLD_QUALITY,
        _STORE_QUALITY,
        {
            "shop_id": shop_id,
            "name": name,
            "language": _language(value),
            "template_id": _text(value.get("message_template_id"), _WORD),
            "quality": quality,
            "at": change.at,
        },
    )
    if stored is not None and quality == "RED" and stored.previous != "RED":
        _alert(
            session,
            shop_id,
            AlertCode.TEMPLATE_FLAGGED,
            f"Template {name}: quality low",
            "Meta rates this template's quality low (red); a pause may follow.",
        )


def _number_quality(session: Session, shop_id: int, change: AccountChange) -> None:
    value = change.value
    limit = rules.messaging_limit(value.get("max_daily_conversations_per_business"))
    if limit is None:
        limit = rules.messaging_limit(value.get("current_limit"))
    event = (_text(value.get("event"), 32) or "").upper() or None
    row = _store(
        session,
        _OLD_LIMIT,
        _STORE_NUMBER,
        {"shop_id": shop_id, "event": event, "limit": limit, "at": change.at, "display": _digits(value)},
    )
    if row is None:
        return
    lowered = limit is not None and row.previous is not None and _below(limit, row.previous)
    if event in rules.NUMBER_WARNS or lowered:
        words = f"Meta reported {event.lower() if event else 'a change'} for the number"
        if limit is not None:
            words += f"; the messaging limit is now {_limit_words(limit)}"
        _alert(session, shop_id, AlertCode.NUMBER_QUALITY, "WhatsApp number quality", words + ".")


def _capability(session: Session, shop_id: int, change: AccountChange) -> None:
    value = change.value
    limit = rules.messaging_limit(value.get("max_daily_conversations_per_business"))
    if limit is None:
        limit = rules.messaging_limit(value.get("max_daily_conversation_per_phone"))
    if limit is None:
        return
    row = _store(
        session,
        _OLD_LIMIT,
        _STORE_NUMBER,
        {"shop_id": shop_id, "event": None, "limit": limit, "at": change.at, "display": None},
    )
    if row is not None and row.previous is not None and _below(limit, row.previous):
        words = f"The messaging limit went down to {_limit_words(limit)}."
        _alert(session, shop_id, AlertCode.NUMBER_QUALITY, "WhatsApp messaging limit lowered", words)


def _account(session: Session, shop_id: int, change: AccountChange) -> None:
    value = change.value
    event = _text(value.get("event"), _WORD)
    restrictions = value.get("restriction_info")
    row = session.execute(
        _STORE_ACCOUNT,
        {
            "shop_id": shop_id,
            "event": event,
            "restrictions": _json_list(restrictions),
            "at": change.at,
        },
    )
    if row is None or not event:
        return
    verdict = rules.account_verdict(value)
    title = f"WhatsApp account: {event.replace('_', ' ').lower()}"
    if verdict is rules.AccountVerdict.STOP:
        reason = HaltReason(rules.ACCOUNT_STOP_CODE, title=title, details=_account_details(value))
        halted = halt_sending_campaigns(session, shop_id, reason)
        details = f"{_account_details(value)} {len(halted)} sending campaign(s) stopped."
        _alert(session, shop_id, AlertCode.ACCOUNT_RESTRICTED, title, details)
    elif verdict is rules.AccountVerdict.WARN:
        _alert(session, shop_id, AlertCode.ACCOUNT_NOTICE, title, _account_details(value))


_APPLY: dict[str, Callable[[Session, int, AccountChange], None]] = {
    rules.TEMPLATE_STATUS: _template_status,
    rules.TEMPLATE_QUALITY: _template_quality,
    rules.NUMBER_QUALITY: _number_quality,
    rules.CAPABILITY: _capability,
    rules.ACCOUNT: _account,
}


# The stored value is read (its row locked) before the write, in a statement of its own: on
# Citus an INSERT or UPDATE may not carry a subquery (docs/scaling.md). The write returns no row
# when the stored value is newer, or this very event again (a redelivery).
_OLD_STATUS = text("""
    SELECT status FROM meta_template_states
     WHERE shop_id = :shop_id AND name = :name AND language = coalesce(:language, '')
       FOR UPDATE
""")

_STORE_STATUS = text("""
    INSERT INTO meta_template_states AS t (shop_id, name, language, template_id, status, reason, status_at)
    VALUES (:shop_id, :name, coalesce(:language, ''), :template_id, :status, :reason, :at)
    ON CONFLICT (shop_id, name, language) DO UPDATE
       SET status = EXCLUDED.status, reason = EXCLUDED.reason, status_at = EXCLUDED.status_at,
           template_id = coalesce(EXCLUDED.template_id, t.template_id)
     WHERE t.status_at IS NULL OR t.status_at < EXCLUDED.status_at
        OR (t.status_at = EXCLUDED.status_at AND t.status IS DISTINCT FROM EXCLUDED.status)
    RETURNING t.shop_id
""")

_OLD_QUALITY = text("""
    SELECT quality FROM meta_template_states
     WHERE shop_id = :shop_id AND name = :name AND language = coalesce(:language, '')
       FOR UPDATE
""")

_STORE_QUALITY = text("""
    INSERT INTO meta_template_states AS t (shop_id, name, language, template_id, quality, quality_at)
    VALUES (:shop_id, :name, coalesce(:language, ''), :template_id, :quality, :at)
    ON CONFLICT (shop_id, name, language) DO UPDATE
       SET quality = EXCLUDED.quality, quality_at = EXCLUDED.quality_at,
           template_id = coalesce(EXCLUDED.template_id, t.template_id)
     WHERE t.quality_at IS NULL OR t.quality_at < EXCLUDED.quality_at
        OR (t.quality_at = EXCLUDED.quality_at AND t.quality IS DISTINCT FROM EXCLUDED.quality)
    RETURNING t.shop_id
""")

_OLD_LIMIT = text("""
    SELECT messaging_limit FROM whatsapp_connections
     WHERE shop_id = :shop_id AND disconnected_at IS NULL
       FOR UPDATE
""")

# The shop's live connection. The quality event is the number's own, so it is kept only when
# the body names this number (or names none); the limit is the portfolio's, kept either way.
_STORE_NUMBER = text("""
    UPDATE whatsapp_connections AS c
       SET messaging_limit = coalesce(CAST(:limit AS bigint), c.messaging_limit),
           quality_event = CASE
               WHEN CAST(:event AS text) IS NULL THEN c.quality_event
               WHEN CAST(:display AS text) IS NULL
                 OR regexp_replace(coalesce(c.display_phone_number, ''), '\\D', '', 'g') = :display
               THEN :event ELSE c.quality_event END,
           health_at = :at
     WHERE c.shop_id = :shop_id AND c.disconnected_at IS NULL
       AND (c.health_at IS NULL OR c.health_at <= :at)
    RETURNING c.shop_id
""")


@dataclass(frozen=True)
class _Stored:
    previous: Any  # the value stored before this change


def _store(session: Session, old: TextClause, store: TextClause, params: dict) -> _Stored | None:
    """Read the stored value, then write the change; None when the write changed nothing."""
    previous = session.execute(old, params).scalar()
    if session.execute(store, params).first() is None:
        return None
    return _Stored(previous)


_STORE_ACCOUNT = text("""
    UPDATE whatsapp_connections AS c
       SET account_event = :event, account_restrictions = CAST(:restrictions AS jsonb), health_at = :at
     WHERE c.shop_id = :shop_id AND c.disconnected_at IS NULL
       AND (c.health_at IS NULL OR c.health_at <= :at)
    RETURNING c.shop_id
""")

_HALTED_BY_TEMPLATE = text("""
    SELECT name FROM campaigns
     WHERE shop_id = :shop_id AND template_name = :name
       AND (CAST(:language AS text) IS NULL OR template_language = :language)
       AND halted_code IN ('132015', '132016') AND status <> 'CANCELLED'
     ORDER BY id
""")


def _campaigns_halted_by_template(
    session: Session, shop_id: int, name: str, language: str | None
) -> list[str]:
    rows = session.execute(_HALTED_BY_TEMPLATE, {"shop_id": shop_id, "name": name, "language": language})
    return list(rows.scalars())


def _alert(session: Session, shop_id: int, code: AlertCode, title: str, details: str | None) -> None:
    session.add(
        ShopAlert(shop_id=shop_id, code=str(code), title=title[:_TEXT], details=(details or "")[:_TEXT])
    )


def _reason(value: dict) -> str | None:
    """Meta's words for why: ``reason`` (NONE says nothing), or ``other_info``'s title."""
    reason = _text(value.get("reason"), _TEXT)
    other = value.get("other_info")
    if isinstance(other, dict) and (title := _text(other.get("title"), _TEXT)):
        return title
    return None if reason in (None, "NONE") else reason.replace("_", " ").lower()


def _account_details(value: dict) -> str:
    parts = []
    for item in value.get("restriction_info") or []:
        if isinstance(item, dict) and (kind := _text(item.get("restriction_type"), _WORD)):
            parts.append(kind.replace("_", " ").lower())
    violation = value.get("violation_info")
    if isinstance(violation, dict) and (kind := _text(violation.get("violation_type"), _WORD)):
        parts.append(f"violation: {kind.replace('_', ' ').lower()}")
    ban = value.get("ban_info")
    if isinstance(ban, dict) and (state := _text(ban.get("waba_ban_state"), _WORD)):
        parts.append(f"account state: {state.replace('_', ' ').lower()}")
    return ("Meta says: " + "; ".join(parts) + ".") if parts else "Meta reported it without details."


def _below(limit: int, previous: int) -> bool:
    """``limit`` is lower than ``previous`` (-1, unlimited, is above everything)."""
    if limit == rules.UNLIMITED:
        return False
    return previous == rules.UNLIMITED or limit < previous


def _limit_words(limit: int) -> str:
    return "unlimited" if limit == rules.UNLIMITED else f"{limit:,} customers a day"


def _language(value: dict) -> str | None:
    return _text(value.get("message_template_language"), _LANGUAGE)


def _digits(value: dict) -> str | None:
    shown = _text(value.get("display_phone_number"), _WORD)
    digits = "".join(ch for ch in shown or "" if ch.isdigit())
    return digits or None


def _json_list(value: object) -> str | None:
    return json.dumps(value) if isinstance(value, list) else None


def _text(value: object, limit: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).replace("\x00", "")[:limit] or None
