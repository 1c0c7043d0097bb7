"""Meta's title and details for each error code the stand-in can play, in a send answer or a
failed status: Meta's error-code page
(https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes)
as the team's reference notes record it (reference/whatsapp.md 3.4), and for the Graph API's
throttling codes Meta's rate-limiting page
(https://developers.facebook.com/docs/graph-api/overview/rate-limiting/). Where the notes give
a meaning but not Meta's exact title (131063, 131064, 80008), the title is that meaning.
"""

from __future__ import annotations

ERROR_TEXTS = {
    # per recipient
    131026: ("Message undeliverable", "Unable to deliver message. The number may not be on WhatsApp."),
    131049: (
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131050: (
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages.",
        "The user has opted out of marketing messages from this business.",
    ),
    130472: (
        "User's number is part of an experiment",
        "Failed to send message because this user's phone number is part of an experiment",
    ),
    131052: ("Media download error", "Unable to download the media sent by the user."),
    # the template or its parameters
    132015: ("Template is paused", "The message was dropped while the template was paced for quality."),
    131053: ("Media upload error", "Unable to upload the media used in the message."),
    100: ("Invalid parameter", "The request included one or more unsupported or misspelled parameters."),
    # the account or the number
    131048: (
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent "
        "from this phone number.",
    ),
    131042: (
        "Business eligibility payment issue",
        "Message failed to send because there were one or more errors related to your payment method.",
    ),
    133010: (
        "Phone number Not Registered",
        "Phone number is not registered on the WhatsApp Business Platform.",
    ),
    33: ("Parameter value is not valid", "The business phone number has been deleted."),
    131037: (
        "WhatsApp provided number needs display name approval before message can be sent.",
        "The 555 business phone number needs an approved display name before it can send messages.",
    ),
    131063: (
        "Marketing templates are disabled on Cloud API",
        "Marketing template messages are turned off on Cloud API for this WhatsApp Business Account.",
    ),
    131064: (
        "Messaging limit reached for template classification violations",
        "This account's messaging limit was lowered for template classification violations.",
    ),
    # throttling
    17: ("User request limit reached", "The account's call limit was reached. Try again later."),
    32: ("Page request limit reached", "The page's call limit was reached. Try again later."),
    613: ("Calls to this api have exceeded the rate limit.", "Try again later."),
    80008: ("Rate limit issues", "The business use case's rate limit was reached. Try again later."),
}
