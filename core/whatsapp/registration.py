"""Registering a brand-new number on the Cloud API, and Meta's refusals of it in words.

A number Embedded Signup has just created is not on the Cloud API yet (core/whatsapp/graph.py
``PhoneNumber.needs_registration``): every send from it would fail with 133010 until it is
registered with ``POST /{phone-number-id}/register``. Meta makes two-step verification mandatory
on registration (Meta, .../whatsapp/business-phone-numbers/registration): the 6-digit PIN given
becomes the number's PIN. We make it here, from ``secrets``; the caller keeps it encrypted and
shows it once to the merchant, who needs it to move the number later. It is never logged.

Meta allows 10 registration requests per number in a moving 72-hour window; the 11th is refused
with 133016 and the number cannot be registered for the next 72 hours (Meta,
developers.facebook.com/docs/whatsapp/cloud-api/reference/registration). A number that already
has a PIN someone else set refuses ours with 133005, "Two step verification PIN Mismatch"
(Meta, .../whatsapp/support/error-codes).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from core.whatsapp import graph
from core.whatsapp.graph import GraphRefused, PhoneNumber

PIN_DIGITS = 6
ATTEMPTS_ALLOWED = 10
ATTEMPT_WINDOW = timedelta(hours=72)
ATTEMPT_LIMIT_CODE = 133016
PIN_MISMATCH_CODE = 133005


def new_pin() -> str:
    """Six random digits, leading zeros kept (Meta's pattern ``^[0-9]{6}$``)."""
    return f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"


def register_with_new_pin(phone_number_id: str, token: str) -> str:
    """Register the number with a new PIN and answer the PIN; GraphRefused as Meta answered."""
    pin = new_pin()
    graph.register(phone_number_id, token, pin)
    return pin


def refusal_words(refusal: GraphRefused, number: PhoneNumber, now: datetime | None = None) -> str:
    """What the merchant reads when Meta refuses the registration, and what to do about it."""
    if refusal.code == ATTEMPT_LIMIT_CODE:
        retry_at = (now or datetime.now(UTC)) + ATTEMPT_WINDOW
        return (
            f"Meta allows {ATTEMPTS_ALLOWED} registration attempts per number in 72 hours, and this "
            "number has used them, so Meta will not register it for 72 hours. Connect it again after "
            f"{retry_at:%d %B %Y, %H:%M} UTC."
        )
    if refusal.code == PIN_MISMATCH_CODE:
        return (
            "This number already has a two-step verification PIN, set outside this app, so Meta "
            "refused to register it with a new one. In WhatsApp Manager, open the number's settings, "
            "turn off two-step verification, then connect again: the app sets a new PIN and shows it "
            "to you once. Each attempt counts towards Meta's limit of 10 in 72 hours."
        )
    words = f"Meta refused to register the number on the WhatsApp Cloud API: {refusal.message}"
    if number.code_verification_status not in (None, "VERIFIED"):
        # Meta registers only a number whose ownership was verified with the code it sends.
        words += (
            " Meta has not verified the number yet: in WhatsApp Manager, verify it with the code "
            "Meta sends to it, then connect again."
        )
    return words
