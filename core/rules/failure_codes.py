"""The one place that maps a failure code to its category, meaning and remedy.

Codes are strings: our own pre-send names (``CUSTOMER_IS_MISSING_CALLING_CODE``) or Meta's
numeric codes in decimal (``"131026"``). Each code belongs to exactly one category; a code we
do not know falls in ``unknown`` with the category's generic remedy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Meta kept the message back because the customer is in one of its own experiments: not a
# failure of the campaign (the monitor settles as if it were not there; the holdout read-out
# reports it beside the campaign's own holdout).
META_EXPERIMENT = "130472"


class Category(StrEnum):
    CONSENT = "consent"
    CREDIT = "credit"
    DATA_QUALITY = "data_quality"
    DELIVERY = "delivery"
    RATE_LIMIT = "rate_limit"
    TEMPLATE = "template"
    ACCOUNT = "account"
    UNKNOWN = "unknown"


class OurCode(StrEnum):
    """Failures decided before a message reaches Meta (and expiry, decided after)."""

    CUSTOMER_IS_NOT_OPTED_IN = "CUSTOMER_IS_NOT_OPTED_IN"
    CUSTOMER_HAS_NO_PHONE = "CUSTOMER_HAS_NO_PHONE"
    CUSTOMER_IS_MISSING_CALLING_CODE = "CUSTOMER_IS_MISSING_CALLING_CODE"
    CUSTOMER_PHONE_IS_INVALID = "CUSTOMER_PHONE_IS_INVALID"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    MESSAGE_EXPIRED = "MESSAGE_EXPIRED"
    SEND_UNCONFIRMED = "SEND_UNCONFIRMED"
    # The shop can no longer send: these halt the campaign (core/meta_webhooks/halt.py).
    APP_UNINSTALLED = "APP_UNINSTALLED"
    WHATSAPP_DISCONNECTED = "WHATSAPP_DISCONNECTED"


@dataclass(frozen=True)
class ErrorInfo:
    code: str
    category: Category
    title: str
    remedy: str


CATEGORY_REMEDIES: dict[Category, str] = {
    Category.CONSENT: "Send only to customers who opted in to WhatsApp marketing; check where "
    "your audience's consent comes from.",
    Category.CREDIT: "Buy credits in Settings (Credits), then relaunch.",
    Category.DATA_QUALITY: "Correct the customers' phone numbers in Shopify.",
    Category.DELIVERY: "Nothing to fix on your side for most of these; avoid resending to the "
    "same customers within 24 hours.",
    Category.RATE_LIMIT: "Sends went faster than WhatsApp allows; the app retries these by itself.",
    Category.TEMPLATE: "Fix or replace the message template in WhatsApp Manager, then relaunch.",
    Category.ACCOUNT: "Your WhatsApp Business account needs attention in WhatsApp Manager before "
    "any campaign can send.",
    Category.UNKNOWN: "WhatsApp did not say why. If it keeps happening, contact support with the error code.",
}


_RECONNECT = "Reconnect WhatsApp in the app's settings."
_RECONNECT_WITH_PERMISSIONS = "Reconnect WhatsApp in the app's settings and grant every permission asked."


def _info(code: str, category: Category, title: str, remedy: str | None = None) -> ErrorInfo:
    return ErrorInfo(code, category, title, remedy or CATEGORY_REMEDIES[category])


_KNOWN: dict[str, ErrorInfo] = {
    info.code: info
    for info in (
        _info(
            OurCode.CUSTOMER_IS_NOT_OPTED_IN,
            Category.CONSENT,
            "The customer withdrew consent before the message was sent",
            "Nothing to do: the app skipped a customer who is no longer subscribed.",
        ),
        _info(
            OurCode.CUSTOMER_HAS_NO_PHONE,
            Category.DATA_QUALITY,
            "The customer has no phone number",
            "Ask the customer for a WhatsApp number, or add it to their Shopify profile.",
        ),
        _info(
            OurCode.CUSTOMER_IS_MISSING_CALLING_CODE,
            Category.DATA_QUALITY,
            "The phone number has no country calling code",
            "Open the customer in Shopify and add the country code (the app suggests it from "
            "their address), then resend.",
        ),
        _info(
            OurCode.CUSTOMER_PHONE_IS_INVALID,
            Category.DATA_QUALITY,
            "The phone number is not a valid number",
            "Correct the number in the customer's Shopify profile.",
        ),
        _info(
            OurCode.INSUFFICIENT_CREDITS, Category.CREDIT, "Your balance ran out before this message was sent"
        ),
        _info(
            OurCode.MESSAGE_EXPIRED,
            Category.DELIVERY,
            "Not delivered within WhatsApp's 30-day window",
            "The phone was probably off or the app uninstalled; the message was dropped.",
        ),
        _info(
            OurCode.SEND_UNCONFIRMED,
            Category.UNKNOWN,
            "WhatsApp never confirmed this message",
            "The send request timed out and WhatsApp never reported on the message. The app did "
            "not resend it, so the customer cannot get it twice; send it again if it matters.",
        ),
        _info(
            OurCode.APP_UNINSTALLED,
            Category.ACCOUNT,
            "The app was uninstalled from the shop",
            "Nothing is sent for a shop without the app. Reinstall it and launch a new campaign "
            "to reach the customers who were not messaged.",
        ),
        _info(
            OurCode.WHATSAPP_DISCONNECTED,
            Category.ACCOUNT,
            "WhatsApp was disconnected from the app",
            "Reconnect WhatsApp in the app's settings, then launch a new campaign to reach the "
            "customers who were not messaged.",
        ),
        _info(
            "131050",
            Category.CONSENT,
            "The customer stopped marketing messages from you",
            "The app unsubscribed this customer; do not message them again unless they opt back in.",
        ),
        _info(
            "131042",
            Category.CREDIT,
            "Payment method problem on the WhatsApp Business account",
            "Fix the payment method or credit line in WhatsApp Manager, then relaunch.",
        ),
        _info(
            "131026",
            Category.DATA_QUALITY,
            "The number cannot receive WhatsApp messages",
            "The number is not on WhatsApp or uses an outdated app; reach this customer another way.",
        ),
        _info(
            "131021",
            Category.DATA_QUALITY,
            "The recipient is your own business number",
            "Remove your business number from the customer list.",
        ),
        _info(
            "131049",
            Category.DELIVERY,
            "Held back by WhatsApp to keep engagement healthy",
            "WhatsApp limits marketing messages per person; wait at least 24 hours before "
            "messaging these customers again. Customers with United States (+1) numbers get no "
            "marketing templates at all: WhatsApp paused them for US numbers on 1 April 2025.",
        ),
        _info(
            META_EXPERIMENT,
            Category.DELIVERY,
            "The customer is part of a WhatsApp experiment",
            "Nothing to do: WhatsApp withheld the message and does not charge for it.",
        ),
        _info("130429", Category.RATE_LIMIT, "Sending rate limit reached"),
        _info("131056", Category.RATE_LIMIT, "Too many messages to the same customer too quickly"),
        _info("4", Category.RATE_LIMIT, "Too many API calls from the app"),
        _info("80007", Category.RATE_LIMIT, "WhatsApp Business account rate limit reached"),
        # Graph API throttling codes (Meta's rate-limiting page): retried by dispatch.
        _info("17", Category.RATE_LIMIT, "Too many API calls for the account"),
        _info("32", Category.RATE_LIMIT, "Too many API calls for the page"),
        _info("613", Category.RATE_LIMIT, "An API call limit was reached"),
        _info("80008", Category.RATE_LIMIT, "WhatsApp Business account rate limit reached"),
        _info("132000", Category.TEMPLATE, "The template's parameters do not match"),
        _info("132001", Category.TEMPLATE, "The template does not exist in this language or is not approved"),
        _info("132005", Category.TEMPLATE, "The translated template text is too long"),
        _info("132007", Category.TEMPLATE, "The template breaks WhatsApp's content policy"),
        _info("132012", Category.TEMPLATE, "A template parameter is formatted wrongly"),
        _info(
            "132015",
            Category.TEMPLATE,
            "The template is paused for low quality, or WhatsApp "
            "dropped the message while pacing the campaign",
            "Improve the template (WhatsApp paused it for low quality) or wait for pacing to "
            "end, then relaunch to the customers who did not receive it.",
        ),
        _info(
            "132016",
            Category.TEMPLATE,
            "The template is permanently disabled",
            "Create a new template; this one cannot be used again.",
        ),
        _info(
            "131048",
            Category.ACCOUNT,
            "Sending is restricted because too many messages were blocked or reported",
            "Check your number's quality rating in WhatsApp Manager and send to fewer, more "
            "engaged customers.",
        ),
        _info("368", Category.ACCOUNT, "The WhatsApp Business account is restricted for a policy violation"),
        _info("131031", Category.ACCOUNT, "The WhatsApp Business account is locked"),
        _info("190", Category.ACCOUNT, "The WhatsApp access token expired", _RECONNECT),
        _info("131045", Category.ACCOUNT, "The business phone number is not registered correctly"),
        _info(
            "133010",
            Category.ACCOUNT,
            "The business phone number is not registered on WhatsApp",
            # Meta: registration is an API call (POST /{phone-number-id}/register with the
            # number's two-step verification PIN); it cannot be done in WhatsApp Manager.
            "Register the number with the WhatsApp Cloud API: whoever manages your WhatsApp "
            "Business account sends POST /{phone-number-id}/register with the number's six-digit "
            "two-step verification PIN (Meta does not offer this in WhatsApp Manager). Then "
            "relaunch.",
        ),
        _info(
            "33",
            Category.ACCOUNT,
            "The business phone number was deleted",
            "Connect a WhatsApp number that is in use in the app's settings, then relaunch.",
        ),
        _info(
            "131037",
            Category.ACCOUNT,
            "The business phone number needs an approved display name",
            "Submit a display name for the number in WhatsApp Manager and wait for Meta to approve "
            "it, then relaunch.",
        ),
        _info(
            "131063",
            Category.ACCOUNT,
            "Marketing templates are turned off for this WhatsApp Business account",
            "Meta does not take marketing templates through the Cloud API for this account. Turn "
            "them back on for the account (or ask Meta support why they are off), then relaunch.",
        ),
        _info(
            "131064",
            Category.ACCOUNT,
            "Meta limited the account for templates in the wrong category",
            "Meta cut the account's messaging limit because templates were sent in a category "
            "that did not match their content. Review your templates' categories in WhatsApp "
            "Manager; the limit lifts when Meta's enforcement period ends.",
        ),
        _info("0", Category.ACCOUNT, "WhatsApp could not authenticate the app", _RECONNECT),
        _info(
            "3", Category.ACCOUNT, "The app lacks a permission WhatsApp requires", _RECONNECT_WITH_PERMISSIONS
        ),
        _info("10", Category.ACCOUNT, "WhatsApp denied the app's permission", _RECONNECT_WITH_PERMISSIONS),
        _info("131008", Category.TEMPLATE, "A parameter the template requires is missing"),
        _info("131009", Category.TEMPLATE, "A parameter value is not valid"),
        _info(
            "100",
            Category.TEMPLATE,
            "WhatsApp refused a parameter of the message",
            "Check the campaign's texts: no line breaks, tabs or runs of more than four spaces, "
            "and within WhatsApp's lengths. The app cleans customers' names the same way; if "
            "this repeats, edit the campaign and relaunch.",
        ),
        _info(
            "131053",
            Category.TEMPLATE,
            "WhatsApp could not fetch the header image, video or document",
            "Make sure the header's link is public, over https, and a file type and size "
            "WhatsApp accepts, then relaunch to the customers who did not receive it.",
        ),
        _info(
            "131052",
            Category.DELIVERY,
            "WhatsApp could not download a file the customer sent",
            "Nothing to fix in the campaign: this concerns a file a customer sent you, not your message.",
        ),
        _info("131000", Category.UNKNOWN, "WhatsApp failed to send for an unknown reason"),
    )
}


def describe(code: str | int | None) -> ErrorInfo:
    """What a failure code means and what to do about it; unknown codes say so."""
    key = str(code) if code is not None else ""
    known = _KNOWN.get(key)
    if known:
        return known
    if key.isdigit() and 200 <= int(key) <= 299:  # Graph API permission errors
        return _info(
            key,
            Category.ACCOUNT,
            "WhatsApp denied the app a permission",
            _RECONNECT_WITH_PERMISSIONS,
        )
    return _info(key, Category.UNKNOWN, f"WhatsApp error {key}" if key else "Unknown error")


def category_of(code: str | int | None) -> Category:
    return describe(code).category


def known_codes() -> list[ErrorInfo]:
    """Every code with its own description: the CSV export ships them to PostgreSQL."""
    return list(_KNOWN.values())
