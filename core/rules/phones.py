"""Customer phone numbers: E.164 or a precise reason why not, a suggested fix, and which
numbers are United States ones (core/campaigns/us_numbers.py says why that matters).

Shopify stores phones as merchants and customers typed them. We parse with no default region
on purpose: guessing the country would silently send a message to someone else's number.
A number typed without its country calling code is its own failure, because the customer's
address country usually tells us the code and the merchant can fix it in one click.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from core.rules.failure_codes import OurCode

# Shortest and longest national numbers worth treating as a number missing its country code.
MIN_DIGITS, MAX_DIGITS = 6, 15


@dataclass(frozen=True)
class PhoneCheck:
    e164: str | None
    problem: OurCode | None  # None when e164 is set


def check_phone(raw: str | None) -> PhoneCheck:
    if not raw or not raw.strip():
        return PhoneCheck(None, OurCode.CUSTOMER_HAS_NO_PHONE)
    try:
        number = phonenumbers.parse(raw, None)
    except NumberParseException as error:
        if error.error_type == NumberParseException.INVALID_COUNTRY_CODE and _looks_national(raw):
            return PhoneCheck(None, OurCode.CUSTOMER_IS_MISSING_CALLING_CODE)
        return PhoneCheck(None, OurCode.CUSTOMER_PHONE_IS_INVALID)
    if not phonenumbers.is_valid_number(number):
        return PhoneCheck(None, OurCode.CUSTOMER_PHONE_IS_INVALID)
    return PhoneCheck(phonenumbers.format_number(number, PhoneNumberFormat.E164), None)


def _looks_national(raw: str) -> bool:
    digits = phonenumbers.normalize_digits_only(raw)
    return not raw.strip().startswith("+") and MIN_DIGITS <= len(digits) <= MAX_DIGITS


def to_e164(raw: str | None) -> str | None:
    return check_phone(raw).e164


def suggest_e164(raw: str | None, country_code: str | None) -> str | None:
    """The number read as a national number of the customer's address country, when that
    gives a valid number; otherwise None (we never suggest a number we cannot vouch for)."""
    if not raw or not country_code:
        return None
    try:
        number = phonenumbers.parse(raw, country_code.upper())
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


# WhatsApp's id for a number (Meta's ``wa_id``, a status's ``recipient_id``) can differ from the
# number's E.164 digits where a country changed its mobile numbering after WhatsApp accounts were
# made: Mexican mobiles keep the "1" once dialled after 52, Argentine mobiles carry the "9" after
# 54, and a Brazilian mobile registered before the ninth digit lacks it. Meta says only that the
# send answer's ``input`` and ``wa_id`` may differ (reference/whatsapp.md 3.2); these are the
# known cases, and each is reduced to one key so that either form matches the other.
_MOBILE_PREFIXES = (("521", "52"), ("549", "54"))


def whatsapp_number_key(number: str) -> str:
    """The digits of ``number`` with the mobile-prefix differences above taken out."""
    digits = "".join(c for c in number if c.isascii() and c.isdigit())
    if len(digits) == 13:
        for long_form, short_form in _MOBILE_PREFIXES:
            if digits.startswith(long_form):
                return short_form + digits[len(long_form) :]
        if digits.startswith("55") and digits[4] == "9":  # Brazil: 55, area code, 9, 8 digits
            return digits[:4] + digits[5:]
    return digits


def same_whatsapp_number(number: str | None, whatsapp_id: str | None) -> bool:
    """Whether Meta's ``whatsapp_id`` (wa_id, recipient_id) is ``number`` (E.164 or digits)."""
    if not number or not whatsapp_id:
        return False
    key = whatsapp_number_key(number)
    return bool(key) and key == whatsapp_number_key(whatsapp_id)


@cache
def is_us_area_code(area: str) -> bool:
    """True when +1 numbers with this area code are United States numbers (Canada and the
    Caribbean share +1: the area code decides)."""
    try:
        number = phonenumbers.parse(f"+1{area}2345678")
    except NumberParseException:
        return False
    return phonenumbers.region_code_for_number(number) == "US"


@cache
def us_area_codes() -> tuple[str, ...]:
    """Every three-digit area code of the United States, for a query that leaves them out."""
    return tuple(f"{area:03}" for area in range(200, 1000) if is_us_area_code(f"{area:03}"))


def is_us_number(e164: str | None) -> bool:
    return bool(e164) and e164.startswith("+1") and len(e164) == 12 and is_us_area_code(e164[2:5])
