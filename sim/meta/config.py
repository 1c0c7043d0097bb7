"""The stand-in's configuration: accounts, templates, and how adversarial delivery should be.

Everything has a default that suits the demo (``make run``); tests replace parts of it with
``PUT /sim/config`` or a JSON file given to ``python -m sim.meta --config``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

TRACKED_URL = "http://127.0.0.1:8000/r/{{1}}"

DEMO_TEMPLATES = [
    {
        "name": "weekly_offer",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "components": [
            {"type": "BODY", "text": "This week only: 20% off everything in store. Tap below to shop."},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "URL", "text": "Shop now", "url": "https://example.com"}],
            },
        ],
    },
    {
        "name": "personal_offer",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Hi {{1}}, your code {{2}} takes 15% off today."}],
    },
    {
        "name": "order_update",
        "language": "en",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Some orders are delayed by a day. Sorry for the wait!"}],
    },
    {
        "name": "new_arrivals_catalog",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "components": [
            {"type": "BODY", "text": "New arrivals are in. Browse the catalog."},
            {"type": "BUTTONS", "buttons": [{"type": "CATALOG", "text": "View catalog"}]},
        ],
    },
    {
        "name": "spring_lookbook",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "components": [
            {
                "type": "HEADER",
                "format": "IMAGE",
                "example": {"header_handle": ["https://example.com/a.jpg"]},
            },
            {"type": "BODY", "text": "Hi {{1}}, the spring collection is here. Use {{2}} for 10% off."},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "text": "See the looks", "url": "https://shop.example.com/{{1}}"},
                    {"type": "QUICK_REPLY", "text": "Not interested"},
                ],
            },
        ],
    },
    {
        "name": "member_welcome",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "parameter_format": "NAMED",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Welcome, {{first_name}}"},
            {"type": "BODY", "text": "Your member code {{code}} is ready, {{first_name}}."},
            {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "WELCOME10"}]},
        ],
    },
    {
        "name": "video_drop",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "components": [
            {"type": "HEADER", "format": "VIDEO"},
            {"type": "BODY", "text": "Watch the new drop."},
        ],
    },
    {
        "name": "picks_for_you",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Picks for you"},
            {"type": "BODY", "text": "We chose these for you."},
            {"type": "BUTTONS", "buttons": [{"type": "MPM", "text": "View items"}]},
        ],
    },
    {
        # A tracked link (core/campaigns/tracking.py): the button's URL is the app's /r/{{1}}, so
        # each message carries its own token and a tap is counted before the redirect. The URL is
        # where `make run` serves the app; a real template names the app's SHOPIFY_APP_URL.
        "name": "tracked_offer",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "components": [
            {"type": "BODY", "text": "Hi {{1}}, the spring edit is live: tap to see it."},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "URL", "text": "See the edit", "url": TRACKED_URL}],
            },
        ],
    },
    {
        "name": "paused_promo",
        "language": "en",
        "status": "PAUSED",
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Flash sale!"}],
    },
    {
        "name": "rejected_promo",
        "language": "en",
        "status": "REJECTED",
        "category": "MARKETING",
        "rejected_reason": "INVALID_FORMAT",
        "components": [{"type": "BODY", "text": "WIN WIN WIN"}],
    },
    {
        "name": "login_code",
        "language": "en",
        "status": "APPROVED",
        "category": "AUTHENTICATION",
        "components": [{"type": "BODY", "text": "{{1}} is your code."}],
    },
]

# Phone number id -> the number's account, token and what Meta says about it (sim/meta/accounts.py).
# The second number is the one the demo's Embedded Signup code ("demo-signup-code") connects; the
# third is brand new, as Embedded Signup leaves one ("demo-new-number-code"): PENDING, on no
# platform until it is registered; the fourth is shared with the WhatsApp Business app
# (coexistence, "demo-business-app-code"), which Meta registers itself.
DEMO_ACCOUNTS = {
    "1234567890": {"token": "demo-meta-access-token", "waba_id": "5550001", "display": "15550001234"},
    "1234567891": {
        "token": "demo-signup-token",
        "waba_id": "5550002",
        "display": "15550005678",
        "verified_name": "Demo Shop Outlet",
    },
    "1234567892": {
        "token": "demo-new-number-token",
        "waba_id": "5550003",
        "display": "15550009012",
        "verified_name": "Demo Shop Studio",
        "status": "PENDING",
        "platform_type": "NOT_APPLICABLE",
        "quality_rating": "NA",
        "name_status": "PENDING_REVIEW",
    },
    "1234567893": {
        "token": "demo-business-app-token",
        "waba_id": "5550004",
        "display": "15550003456",
        "verified_name": "Demo Shop Corner",
        "is_on_biz_app": True,
    },
}
DEMO_SIGNUP_CODES = {
    "demo-signup-code": "demo-signup-token",
    "demo-new-number-code": "demo-new-number-token",
    "demo-business-app-code": "demo-business-app-token",
}
DEMO_APP_ID = "1000000000000001"


@dataclass
class Delivery:
    """What happens to accepted messages, as shares of them (the rest are delivered only)."""

    read: float = 0.55
    sent_only: float = 0.05  # never delivered (phone off): expires after the TTL
    failed: float = 0.15
    read_without_delivered: float = 0.05  # the user was in the chat: Meta skips "delivered"
    failed_then_delivered: float = 0.03  # one device failed, another got it
    held: float = 0.05  # answered held_for_quality_assessment, then released
    username_share: float = 0.1  # recipients with a username: statuses by BSUID, no recipient_id
    # Shares of messages Meta prices free (pricing.type; reference/whatsapp.md 1.3): inside a
    # customer service window, or a free entry point (a click-to-WhatsApp ad). The rest: regular.
    free_customer_service: float = 0.0
    free_entry_point: float = 0.0
    # Weights of the per-recipient failure codes a campaign meets at random. Template-wide and
    # account-wide codes are not drawn at random: on Meta they hit every message of a template
    # or number at once, so a stray one would be a scenario Meta never plays (and would trip the
    # campaign's circuit breaker). A scenario asks for them explicitly, e.g. {"132015": 1}
    # (dropped by pacing: answered as held at send time, then failed).
    failure_codes: dict = field(default_factory=lambda: {"131026": 4, "131049": 3, "131050": 1, "130472": 1})


@dataclass
class Adversity:
    """How the webhooks misbehave (Meta documents every one of these)."""

    duplicates: float = 0.10  # share of status events posted twice
    max_batch: int = 5  # statuses per body: 1 to max_batch
    multi_entry: float = 0.2  # share of bodies split across several entries / changes
    post_delay_s: tuple = (0.0, 1.0)  # each event is posted after a random delay: shuffled order
    time_scale: float = 600.0  # Meta timestamps run this much faster than the posting


@dataclass
class SimConfig:
    seed: int = 1
    accounts: dict = field(default_factory=lambda: dict(DEMO_ACCOUNTS))
    templates: list = field(default_factory=lambda: list(DEMO_TEMPLATES))
    webhook_url: str | None = None
    app_secret: str = "dev-only-meta-app-secret-not-for-production"
    app_id: str = DEMO_APP_ID  # the Meta app whose tokens these are (client_id of the code exchange)
    # The WhatsApp Business Account webhook fields the Meta app is subscribed to
    # (GET /{app-id}/subscriptions, asked with the app's own token).
    app_webhook_fields: list = field(
        default_factory=lambda: [
            "messages",
            "user_preferences",
            "message_template_status_update",
            "message_template_quality_update",
            "phone_number_quality_update",
            "account_update",
            "business_capability_update",
        ]
    )
    signup_codes: dict = field(default_factory=lambda: dict(DEMO_SIGNUP_CODES))
    management_delay_s: float = 0.0  # a slow Meta: seconds before each account endpoint answers
    cap: int = 80  # accepted sends per second per phone number; above it: 130429
    cap_tolerance: float = 0.02
    posters: int = 2
    delivery: Delivery = field(default_factory=Delivery)
    adversity: Adversity = field(default_factory=Adversity)
    # Per-recipient rules: {"to": "+34...", "error": 131056, "times": 1} answers that error to
    # the first sends (with "http_status": 500, as Meta answers its transient 131000), with
    # Meta's title and details (sim/meta/error_texts.py); "to": "*" answers every recipient
    # (header media 131053, a deleted number 33, a throttling 80008...); {"to": ...,
    # "disconnect": true} accepts, then drops the connection (the caller's read times out);
    # {"to": ..., "answer_without_id": true} accepts, then answers 200 without a message id.
    rules: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def update(self, changes: dict) -> None:
        """Apply a partial update; nested sections are merged, unknown keys refused."""
        for key, value in changes.items():
            if key not in {f.name for f in fields(self)}:
                raise KeyError(key)
            current = getattr(self, key)
            if isinstance(current, Delivery | Adversity):
                known = {f.name for f in fields(current)}
                for inner, inner_value in value.items():
                    if inner not in known:
                        raise KeyError(f"{key}.{inner}")
                    setattr(current, inner, tuple(inner_value) if inner == "post_delay_s" else inner_value)
            else:
                setattr(self, key, value)
