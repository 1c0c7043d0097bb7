"""Parse a Meta webhook body into what we use: statuses, quick-reply clicks, marketing
preference changes and account-level errors, grouped by the business phone number they concern.

Meta batches: one body can hold several ``entry`` items, each with several ``changes``, each
with several statuses and messages, and libraries that read only ``[0]`` silently lost data. So
every level is a loop, and every item is parsed on its own: one malformed status is noted and
skipped, never allowed to lose the rest of the body. Nothing here touches the database.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.rules.account_events import FIELDS as ACCOUNT_FIELDS
from core.rules.statuses import META_STATUS_ALIASES, MessageStatus

WHATSAPP_OBJECT = "whatsapp_business_account"
APPLIED_STATUSES = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    **META_STATUS_ALIASES,
}
MAX_ID_LENGTH = 255  # our wamid and click source columns
MAX_CALLBACK = 512  # Meta's limit on biz_opaque_callback_data: anything longer is not an echo


# PostgreSQL's text and jsonb cannot hold NUL: one in an id or in a status we park would fail
# the whole batch it is in. It becomes the replacement character, which cannot match an id of
# ours and is stored as it is.
NUL_ESCAPE = b"\\u0000"
REPLACEMENT = "\ufffd"


def without_nul(value: Any) -> Any:
    """``value`` (a parsed JSON document) with every NUL in its strings and keys replaced."""
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


class BadItem(ValueError):
    """One status, message or preference we cannot use; the rest of the body still counts."""


@dataclass(slots=True)
class MetaError:
    code: str | None
    title: str | None
    details: str | None
    href: str | None  # newer payloads give a relative path: stored as given, never validated


@dataclass(slots=True)
class StatusEvent:
    wamid: str
    status: MessageStatus
    at: datetime  # Meta's own time of the event
    raw: dict  # the status object as Meta sent it, kept for parking
    error: MetaError | None = None
    # biz_opaque_callback_data as Meta echoed it: ours (core/whatsapp/callback.py) or another
    # app's; which shop's message it names is read once the status is routed to its shop.
    callback: str | None = None
    recipient_id: str | None = None  # the number Meta delivered to (its wa_id), when it says
    pricing_category: str | None = None
    pricing_type: str | None = None
    pricing_billable: bool | None = None
    conversation_id: str | None = None
    conversation_origin: str | None = None
    recipient_user_id: str | None = None


@dataclass(slots=True)
class ReplyClick:
    """A quick-reply (template button) or reply-button answer to one of our messages."""

    context_wamid: str  # the message it answers
    reply_id: str  # the reply's own wamid: a redelivery carries the same one
    at: datetime
    text: str | None = None  # the button's text as the customer saw it ("Stop promotions")
    payload: str | None = None  # the button's payload (a template quick reply's, or its id)


@dataclass(slots=True)
class PreferenceChange:
    wa_id: str | None  # the customer's number, digits only; absent for some username users
    value: str  # "stop", "resume", "signup"
    at: datetime
    user_id: str | None = None  # the business-scoped user id (2026), when Meta gives one


@dataclass
class PhoneNumberUpdates:
    """Everything one body says about one business phone number (Meta's ``phone_number_id``)."""

    phone_number_id: str
    statuses: list[StatusEvent] = field(default_factory=list)
    clicks: list[ReplyClick] = field(default_factory=list)
    preferences: list[PreferenceChange] = field(default_factory=list)
    errors: list[MetaError] = field(default_factory=list)

    def has_items(self) -> bool:
        return bool(self.statuses or self.clicks or self.preferences or self.errors)


@dataclass(slots=True)
class AccountChange:
    """One change of an account-level field (core/rules/account_events.py): about the WhatsApp
    Business Account ``waba_id`` (the entry's id), not one message or number."""

    waba_id: str
    field: str
    value: dict
    at: datetime  # the entry's time


@dataclass
class ParsedBody:
    updates: list[PhoneNumberUpdates] = field(default_factory=list)
    account: list[AccountChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    outcome: str | None = None  # set when the body as a whole holds nothing we can use


def parse_body(raw: bytes, received_at: datetime) -> ParsedBody:
    """Parse one stored body. ``received_at`` stands in for a missing or unreadable timestamp."""
    parsed = ParsedBody()
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        parsed.outcome = "not_json"
        return parsed
    if NUL_ESCAPE in raw:  # JSON can carry NUL only escaped; a body without it needs no walk
        document = without_nul(document)
    entries = document.get("entry") if isinstance(document, dict) else None
    if document_object(document) != WHATSAPP_OBJECT or not isinstance(entries, list):
        parsed.outcome = "not_whatsapp"
        return parsed
    for e, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for c, change in enumerate(changes if isinstance(changes, list) else []):
            where = f"entry[{e}].changes[{c}]"
            if isinstance(change, dict) and change.get("field") in ACCOUNT_FIELDS:
                _parse_account_change(entry, change, where, received_at, parsed)
            else:
                _parse_change(change, where, received_at, parsed)
    if not parsed.account and not any(update.has_items() for update in parsed.updates):
        parsed.outcome = "nothing_used"
    return parsed


def document_object(document: Any) -> Any:
    return document.get("object") if isinstance(document, dict) else None


_ITEMS = ("statuses", "messages", "user_preferences", "errors")


def _parse_change(change: Any, where: str, received_at: datetime, parsed: ParsedBody) -> None:
    value = change.get("value") if isinstance(change, dict) else None
    if not isinstance(value, dict):
        return
    metadata = value.get("metadata")
    phone_number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    if not isinstance(phone_number_id, (str, int)) or phone_number_id == "":
        if any(value.get(key) for key in _ITEMS):
            parsed.problems.append(f"{where}: no metadata.phone_number_id to route by")
        return
    update = PhoneNumberUpdates(str(phone_number_id))
    for key, parse_item, target in (
        ("statuses", parse_status, update.statuses),
        ("messages", _parse_click, update.clicks),
        ("user_preferences", _parse_preference, update.preferences),
        ("errors", _parse_account_error, update.errors),
    ):
        items = value.get(key)
        if not items or not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            try:
                found = parse_item(item, received_at)
            except BadItem as problem:
                parsed.problems.append(f"{where}.value.{key}[{i}]: {problem}")
                continue
            if found is not None:
                target.append(found)
    parsed.updates.append(update)


def _parse_account_change(
    entry: dict, change: dict, where: str, received_at: datetime, parsed: ParsedBody
) -> None:
    waba_id, value = entry.get("id"), change.get("value")
    if not isinstance(waba_id, (str, int)) or isinstance(waba_id, bool) or str(waba_id) == "":
        parsed.problems.append(f"{where}: no entry id (the WhatsApp Business Account) to route by")
        return
    if not isinstance(value, dict):
        parsed.problems.append(f"{where}.value: not an object")
        return
    at = meta_time(entry.get("time"), received_at)
    parsed.account.append(AccountChange(str(waba_id)[:MAX_ID_LENGTH], change["field"], value, at))


def parse_status(item: Any, fallback_at: datetime) -> StatusEvent | None:
    """One status object; None for a status we store but do not apply (``deleted``, ...)."""
    if not isinstance(item, dict):
        raise BadItem("not an object")
    wamid = item.get("id")
    if not isinstance(wamid, str) or not wamid or len(wamid) > MAX_ID_LENGTH:
        raise BadItem("id is missing or not an id")
    name = item.get("status")
    if not isinstance(name, str):
        raise BadItem("status is missing")
    status = APPLIED_STATUSES.get(name)
    if status is None:  # On-Premises-only "deleted", "warning", or a status Meta adds later
        return None
    event = StatusEvent(wamid, status, meta_time(item.get("timestamp"), fallback_at), item)
    if status is MessageStatus.FAILED:
        event.error = _first_error(item.get("errors"))
    if isinstance(opaque := item.get("biz_opaque_callback_data"), str) and len(opaque) <= MAX_CALLBACK:
        event.callback = opaque
    if (recipient := item.get("recipient_id")) is not None:
        event.recipient_id = _text(recipient, MAX_ID_LENGTH)
    if isinstance(pricing := item.get("pricing"), dict):
        event.pricing_category = _text(pricing.get("category"), 32)
        event.pricing_type = _text(pricing.get("type"), 32)
        billable = pricing.get("billable")
        event.pricing_billable = billable if isinstance(billable, bool) else None
    if isinstance(conversation := item.get("conversation"), dict):
        event.conversation_id = _text(conversation.get("id"), 255)
        event.conversation_origin = _text(_object(conversation.get("origin")).get("type"), 32)
    if (user_id := item.get("recipient_user_id")) is not None:
        event.recipient_user_id = _text(user_id, 160)
    return event


def _parse_click(item: Any, fallback_at: datetime) -> ReplyClick | None:
    """A message is a click only when it answers one of ours with a button: a template quick
    reply (``type: button``) or an interactive reply button. Other inbound messages are kept
    in the inbox but not used."""
    if not isinstance(item, dict):
        raise BadItem("not an object")
    context = _object(item.get("context"))
    interactive = _object(item.get("interactive"))
    is_button = item.get("type") == "button" or (
        item.get("type") == "interactive" and interactive.get("type") == "button_reply"
    )
    if not is_button or not context.get("id"):
        return None
    # A template quick reply says {"button": {"text", "payload"}}; a reply button
    # {"interactive": {"button_reply": {"title", "id"}}} (Meta's messages webhook reference).
    button = _object(item.get("button")) or _object(interactive.get("button_reply"))
    text, payload = button.get("text", button.get("title")), button.get("payload", button.get("id"))
    return ReplyClick(
        context_wamid=_identifier(context.get("id"), "context.id"),
        reply_id=_identifier(item.get("id"), "id"),
        at=meta_time(item.get("timestamp"), fallback_at),
        text=text if isinstance(text, str) else None,
        payload=payload if isinstance(payload, str) else None,
    )


def _parse_preference(item: Any, fallback_at: datetime) -> PreferenceChange | None:
    if not isinstance(item, dict):
        raise BadItem("not an object")
    if item.get("category", "marketing_messages") != "marketing_messages":
        return None
    wa_id, user_id, value = item.get("wa_id"), item.get("user_id"), item.get("value")
    wa_id = str(wa_id) if isinstance(wa_id, (str, int)) and str(wa_id).isdigit() else None
    user_id = _text(user_id, 160) if isinstance(user_id, str) and user_id else None
    if (wa_id is None and user_id is None) or not isinstance(value, str):
        raise BadItem("needs a numeric wa_id or a user_id, and a value")
    return PreferenceChange(wa_id, value, meta_time(item.get("timestamp"), fallback_at), user_id)


def _parse_account_error(item: Any, _fallback_at: datetime) -> MetaError:
    error = _meta_error(item)
    if error is None:
        raise BadItem("not an error object")
    return error


def meta_time(value: Any, fallback: datetime) -> datetime:
    """Meta's timestamps are Unix seconds, as a string in statuses and a number elsewhere."""
    try:
        return _from_seconds(int(value))
    except (TypeError, ValueError, OverflowError, OSError):
        return fallback


@functools.lru_cache(maxsize=4096)
def _from_seconds(seconds: int) -> datetime:
    # A busy second brings thousands of statuses with the same timestamp.
    return datetime.fromtimestamp(seconds, UTC)


def _first_error(errors: Any) -> MetaError | None:
    if isinstance(errors, list):
        for item in errors:
            if (error := _meta_error(item)) is not None:
                return error
    return None


def _meta_error(item: Any) -> MetaError | None:
    if not isinstance(item, dict):
        return None
    code = item.get("code")
    details = _object(item.get("error_data")).get("details")
    return MetaError(
        code=_text(code, 64) if isinstance(code, (int, str)) and not isinstance(code, bool) else None,
        title=_text(item.get("title") or item.get("message"), 10_000),
        details=_text(details, 10_000),
        href=_text(item.get("href"), 2_000),
    )


def _identifier(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise BadItem(f"{name} is missing or not an id")
    return value


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).replace("\x00", "")[:limit]  # PostgreSQL text cannot hold NUL


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}
