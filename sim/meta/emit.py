"""Webhooks that are not message statuses, posted on request (``POST /sim/emit``).

Meta also tells a business about marketing consent (``user_preferences``: stop, resume; since
2026 possibly without the phone number, by business-scoped user id only), about problems of the
whole account or app (``value.errors``, with no statuses) and about its templates
(``message_template_status_update``, ``message_template_quality_update``), its number
(``phone_number_quality_update``), its limits (``business_capability_update``) and the account
itself (``account_update``). Shapes follow Meta's published examples (tests/fixtures/meta/pywa,
reference/whatsapp.md 1.4 and 1.5) and Meta's webhook references
(developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/<field>).

A template status is also the stand-in's own truth: after a PAUSED or DISABLED event every send
of that template is refused with 132015 or 132016, as Meta does, until an APPROVED or
REINSTATED event.
"""

from __future__ import annotations

import json
import time

import requests

from sim.meta.webhooks import sign


class BadEmit(ValueError):
    pass


def emit(state, request: dict) -> dict:
    """Build the body ``request`` asks for and post it, signed, to the app. Return the body."""
    kind = request.get("kind")
    if kind not in BUILDERS:
        raise BadEmit(f"kind must be one of {', '.join(BUILDERS)}")
    account_id, account = _account(state, request.get("phone_number_id"))
    field, value = BUILDERS[kind](request, account_id, account)
    if kind == "template_status":
        _set_template_status(state, value)
    body = {"object": "whatsapp_business_account", "entry": [_entry(account, field, value)]}
    _post(state.config, body)
    return body


def _account(state, phone_number_id: object) -> tuple[str, dict]:
    account = state.config.accounts.get(phone_number_id)
    if account is None:
        raise BadEmit(f"unknown phone_number_id {phone_number_id!r}")
    return str(phone_number_id), account


def _entry(account: dict, field: str, value: dict) -> dict:
    return {
        "id": account.get("waba_id", ""),
        "time": int(time.time()),
        "changes": [{"field": field, "value": value}],
    }


def _metadata(phone_number_id: str, account: dict) -> dict:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": account.get("display", ""), "phone_number_id": phone_number_id},
    }


def _preferences(request: dict, phone_number_id: str, account: dict) -> tuple[str, dict]:
    """A stop or resume, by ``wa_id`` (digits) and/or ``user_id`` (a BSUID). Without a wa_id
    the preference and the contact carry the user id only."""
    wa_id, user_id = request.get("wa_id"), request.get("user_id")
    if not wa_id and not user_id:
        raise BadEmit("a preference needs wa_id or user_id")
    value = request.get("value", "stop")
    preference = {
        "detail": f"User requested to {value} marketing messages",
        "category": "marketing_messages",
        "value": value,
        "timestamp": int(request.get("timestamp") or time.time()),
    }
    contact = {"profile": {"name": "Customer"}}
    for key, given in (("wa_id", wa_id), ("user_id", user_id)):
        if given:
            preference[key] = contact[key] = str(given)
    return "user_preferences", {
        **_metadata(phone_number_id, account),
        "contacts": [contact],
        "user_preferences": [preference],
    }


# Source: Meta's errors webhook reference (webhooks/reference/messages/errors), as recorded in
# reference/whatsapp.md 1.5: value.errors beside the metadata, no statuses; each error is
# checked against the OpenAPI's StatusError in tests/test_sim_meta_webhooks.py.
def _account_error(request: dict, phone_number_id: str, account: dict) -> tuple[str, dict]:
    code = int(request.get("code", 131042))
    error = {
        "code": code,
        "title": request.get("title", "Business eligibility payment issue"),
        "message": request.get("title", "Business eligibility payment issue"),
        "error_data": {"details": request.get("details", "The account cannot send messages.")},
        "href": "/documentation/business-messaging/whatsapp/support/error-codes",
    }
    return "messages", {**_metadata(phone_number_id, account), "errors": [error]}


# Source: Meta's message_template_status_update reference; pywa's real example
# (tests/fixtures/meta/pywa/template_status_update.json, "approved"); the PAUSED event that
# goes with pacing's 132015 drops: reference/whatsapp.md 3.4. Shape checked against the pywa
# example in tests/test_sim_meta_webhooks.py.
def _template_status(request: dict, _phone_number_id: str, _account: dict) -> tuple[str, dict]:
    value = {
        "event": request.get("event", "PAUSED"),
        "message_template_id": int(request.get("template_id", 1000)),
        "message_template_name": request.get("name", ""),
        "message_template_language": request.get("language", "en"),
        "reason": request.get("reason", "NONE"),
    }
    if request.get("category"):
        value["message_template_category"] = request["category"]
    return "message_template_status_update", value


# What a template event leaves the template's status at, when it changes what sends.
_STATUS_AFTER = {"PAUSED": "PAUSED", "DISABLED": "DISABLED", "APPROVED": "APPROVED", "REINSTATED": "APPROVED"}


def _set_template_status(state, value: dict) -> None:
    after = _STATUS_AFTER.get(value["event"])
    if after is None:
        return
    name, language = value["message_template_name"], value.get("message_template_language")
    with state.lock:  # a new dict: the configured ones are shared with the defaults
        state.config.templates = [
            {**t, "status": after} if t["name"] == name and t["language"] == language else t
            for t in state.config.templates
        ]


# Source: Meta's message_template_quality_update reference; pywa's real example
# (tests/fixtures/meta/pywa/template_quality_update.json, "yellow"), checked against it in
# tests/test_sim_meta_webhooks.py.
def _template_quality(request: dict, _phone_number_id: str, _account: dict) -> tuple[str, dict]:
    return "message_template_quality_update", {
        "previous_quality_score": request.get("previous", "GREEN"),
        "new_quality_score": request.get("quality", "RED"),
        "message_template_id": int(request.get("template_id", 1000)),
        "message_template_name": request.get("name", ""),
        "message_template_language": request.get("language", "en"),
    }


# Source: Meta's phone_number_quality_update reference (reference/whatsapp.md 3.5 names its
# THROUGHPUT_UPGRADE event). Neither the vendored OpenAPI (no webhook
# schemas) nor the pywa examples hold one, so this shape is checked against nothing local.
def _number_quality(request: dict, _phone_number_id: str, account: dict) -> tuple[str, dict]:
    """``old_limit`` only for messaging limit changes, as Meta's reference says."""
    value = {
        "display_phone_number": "".join(ch for ch in account.get("display", "") if ch.isdigit()),
        "event": request.get("event", "FLAGGED"),
        "current_limit": request.get("current_limit", "TIER_2K"),
        "max_daily_conversations_per_business": str(request.get("limit", 2000)),
    }
    if request.get("old_limit"):
        value["old_limit"] = request["old_limit"]
    return "phone_number_quality_update", value


# Source: Meta's business_capability_update reference (the portfolio's messaging limit,
# reference/whatsapp.md 3.5). Like the number's quality event, no local example to check it by.
def _capability(request: dict, _phone_number_id: str, _account: dict) -> tuple[str, dict]:
    limit = int(request.get("limit", 2000))
    return "business_capability_update", {
        "max_daily_conversation_per_phone": limit,
        "max_daily_conversations_per_business": limit,
        "max_phone_numbers_per_business": 2,
        "max_phone_numbers_per_waba": 2,
    }


# Source: Meta's account_update reference; pywa's real examples
# (tests/fixtures/meta/pywa/account_update.json: account_restriction, account_violation,
# account_disabled), checked against them in tests/test_sim_meta_webhooks.py.
def _account_update(request: dict, _phone_number_id: str, _account: dict) -> tuple[str, dict]:
    event = request.get("event", "ACCOUNT_RESTRICTION")
    value: dict = {"event": event}
    if event == "ACCOUNT_RESTRICTION":
        value["restriction_info"] = [
            {
                "restriction_type": request.get("restriction", "RESTRICTED_BIZ_INITIATED_MESSAGING"),
                "expiration": int(time.time()) + 86400,
            }
        ]
    elif event == "ACCOUNT_VIOLATION":
        value["violation_info"] = {"violation_type": request.get("violation", "SCAM")}
    elif event == "DISABLED_UPDATE":
        value["ban_info"] = {"waba_ban_state": request.get("ban_state", "DISABLE"), "waba_ban_date": "today"}
    return "account_update", value


def _post(config, body: dict) -> None:
    if not config.webhook_url:
        raise BadEmit("no webhook_url configured")
    raw = json.dumps(body).encode()
    response = requests.post(
        config.webhook_url,
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(config.app_secret, raw)},
        timeout=30,
    )
    if response.status_code != 200:
        raise BadEmit(f"the app answered {response.status_code}")


# Every kind of body POST /sim/emit builds: (request, phone number id, account) -> (field, value).
BUILDERS = {
    "user_preferences": _preferences,
    "account_error": _account_error,
    "template_status": _template_status,
    "template_quality": _template_quality,
    "number_quality": _number_quality,
    "capability": _capability,
    "account_update": _account_update,
}
