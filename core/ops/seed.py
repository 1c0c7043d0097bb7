"""The seed loader (``flask --app web seed FILE``): a JSON document of shops, customers,
campaigns and messages (CONTRACT.md).

Idempotent by natural keys (shop domain; Shopify customer id; campaign name within a shop; one
message per customer per campaign, and wamid): the loader creates what is missing and never
overwrites what exists, so re-running it after the app has worked (webhooks applied, a phone
fixed, a campaign launched) changes nothing. The whole document loads in one transaction:
a malformed document is refused with every bad field named, and nothing is written.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.bulk import staged
from core.campaigns.audience import estimate
from core.counts.recount import recount
from core.crypto import encrypt_token
from core.models import Campaign, Shop
from core.outcomes.credits import GRANT, record_movement
from core.rules.campaign_states import CampaignStatus, CampaignType, Consent
from core.rules.failure_codes import OurCode, describe
from core.rules.phones import to_e164
from core.rules.statuses import FAILED_STATUSES, RANK, MessageStatus
from core.templates.components import normalise_components


class SeedError(ValueError):
    """The document is malformed; the message names each bad field by its path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SeedCustomer(_Strict):
    shopify_id: int = Field(gt=0)
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    country_code: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    consent: Consent = Consent.UNKNOWN
    tags: list[str] = []


class SeedTemplate(_Strict):
    name: str = Field(min_length=1)
    language: str = Field(min_length=2)
    category: Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
    format: str | None = None


class SeedAudience(_Strict):
    include_tags: list[str] = []
    exclude_tags: list[str] = []


class SeedMessage(_Strict):
    customer: int = Field(gt=0, description="the customer's shopify_id")
    wamid: str | None = None
    status: MessageStatus = MessageStatus.QUEUED
    error_code: str | int | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None

    @model_validator(mode="after")
    def _error_only_on_failure(self):
        if self.error_code is not None and self.status != MessageStatus.FAILED:
            raise ValueError("error_code is only allowed with status 'failed'")
        if self.status == MessageStatus.FAILED and self.error_code is None:
            raise ValueError("a failed message needs its error_code")
        if self.wamid is None and self.status in (
            MessageStatus.SENT,
            MessageStatus.DELIVERED,
            MessageStatus.READ,
            MessageStatus.ACCEPTED,
            MessageStatus.HELD,
            MessageStatus.EXPIRED,
        ):
            raise ValueError(f"a message with status '{self.status}' needs the wamid Meta gave it")
        return self


class SeedCampaign(_Strict):
    name: str = Field(min_length=1)
    type: CampaignType
    status: CampaignStatus = CampaignStatus.DRAFT
    estimated_audience: int | None = Field(default=None, ge=0)
    template: SeedTemplate
    audience: SeedAudience = SeedAudience()
    dispatch_finished: bool | None = None
    created_at: datetime | None = None
    # A SCHEDULED campaign sends this many days after the document is loaded (a fixed date
    # would be in the past for a demo loaded later).
    scheduled_in_days: int | None = Field(default=None, ge=1, le=365)
    messages: list[SeedMessage] | None = None
    # Header, body and button parameters, as in POST /api/campaigns (checked against the
    # template by the launch checks, since loading a document does not ask Meta).
    components: list = []

    @model_validator(mode="after")
    def _components_well_formed(self):
        components, problems = normalise_components(self.components)
        if problems:
            raise ValueError("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.components = components
        return self


class SeedShop(_Strict):
    domain: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
    credits: int = Field(default=0, ge=0)
    timezone: str = "UTC"
    locale: str = "en"
    meta_phone_number_id: str | None = None
    meta_waba_id: str | None = None
    meta_access_token: str | None = None
    messages_per_second: int = Field(default=80, ge=1, le=1000)
    customers: list[SeedCustomer] = []
    campaigns: list[SeedCampaign] = []


class SeedDocument(_Strict):
    shops: list[SeedShop]


def parse_document(raw: object) -> SeedDocument:
    try:
        document = SeedDocument.model_validate(raw)
    except ValidationError as error:
        raise SeedError(_describe(error)) from None
    _check_references(document)
    return document


def _describe(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"])
        lines.append(f"{path.lstrip('.') or 'document'}: {problem['msg']}")
    return "\n".join(lines)


def _check_references(document: SeedDocument) -> None:
    problems = []
    for s, shop in enumerate(document.shops):
        known = {customer.shopify_id for customer in shop.customers}
        for c, campaign in enumerate(shop.campaigns):
            for m, message in enumerate(campaign.messages or []):
                if message.customer not in known:
                    problems.append(
                        f"shops[{s}].campaigns[{c}].messages[{m}].customer: no customer "
                        f"with shopify_id {message.customer} in this shop"
                    )
    if problems:
        raise SeedError("\n".join(problems))


def load(session: Session, document: SeedDocument) -> dict[str, int]:
    """Write what is missing. Return how many rows of each kind were created."""
    created = {"shops": 0, "customers": 0, "campaigns": 0, "messages": 0}
    for seed_shop in document.shops:
        shop, is_new = _shop(session, seed_shop)
        created["shops"] += is_new
        created["customers"] += _customers(session, shop, seed_shop.customers)
        campaign_ids = []
        for seed_campaign in seed_shop.campaigns:
            campaign, is_new = _campaign(session, shop, seed_campaign)
            created["campaigns"] += is_new
            created["messages"] += _messages(session, campaign, seed_campaign)
            campaign_ids.append(campaign.id)
        recount(session, shop.id, campaign_ids)
    return created


def _shop(session: Session, seed: SeedShop) -> tuple[Shop, bool]:
    shop = session.scalar(select(Shop).where(Shop.domain == seed.domain))
    if shop is not None:
        return shop, False
    shop = Shop(
        domain=seed.domain,
        credits=seed.credits,
        timezone=seed.timezone,
        locale=seed.locale,
        meta_phone_number_id=seed.meta_phone_number_id,
        meta_waba_id=seed.meta_waba_id,
        meta_access_token_ciphertext=encrypt_token(seed.meta_access_token),
        messages_per_second=seed.messages_per_second,
    )
    session.add(shop)
    session.flush()
    record_movement(session, shop.id, GRANT, seed.credits, note="opening balance (seed)")
    return shop, True


_CUSTOMER_COLUMNS = (
    ("ord", "integer"),
    ("shopify_customer_id", "bigint"),
    ("first_name", "text"),
    ("last_name", "text"),
    ("phone", "text"),
    ("phone_e164", "text"),
    ("country_code", "text"),
    ("consent", "text"),
    ("tags", "text[]"),
)
_INSERT_CUSTOMERS = text("""
    INSERT INTO customers (shop_id, shopify_customer_id, first_name, last_name, phone, phone_e164,
                           country_code, consent, tags)
    SELECT :shop_id, shopify_customer_id, first_name, last_name, phone, phone_e164, country_code,
           consent, tags
      FROM seed_customers ORDER BY ord
        ON CONFLICT DO NOTHING
""")


def _customers(session: Session, shop: Shop, customers: list[SeedCustomer]) -> int:
    if not customers:
        return 0
    rows = (
        (
            n,
            c.shopify_id,
            c.first_name,
            c.last_name,
            c.phone,
            to_e164(c.phone),
            c.country_code.upper() if c.country_code else None,
            str(c.consent),
            c.tags,
        )
        for n, c in enumerate(customers)
    )
    with staged(session, "seed_customers", _CUSTOMER_COLUMNS, rows):
        return session.execute(_INSERT_CUSTOMERS, {"shop_id": shop.id}).rowcount


def _campaign(session: Session, shop: Shop, seed: SeedCampaign) -> tuple[Campaign, bool]:
    campaign = session.scalar(select(Campaign).where(Campaign.shop_id == shop.id, Campaign.name == seed.name))
    if campaign is not None:
        return campaign, False
    created_at = seed.created_at or datetime.now(UTC)
    finished = seed.dispatch_finished if seed.dispatch_finished is not None else seed.messages is not None
    launched = seed.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.CANCELLED)
    campaign = Campaign(
        shop_id=shop.id,
        name=seed.name,
        type=str(seed.type),
        status=str(seed.status),
        template_name=seed.template.name,
        template_language=seed.template.language,
        template_category=seed.template.category,
        template_format=seed.template.format,
        audience=seed.audience.model_dump(),
        template_components=seed.components,
        created_at=created_at,
        estimated_audience=_estimated_audience(session, shop, seed),
        scheduled_at=_scheduled_at(seed, shop.timezone),
        launched_at=created_at if launched else None,
        dispatch_started_at=created_at if launched else None,
        dispatch_finished_at=created_at + timedelta(minutes=5) if launched and finished else None,
    )
    session.add(campaign)
    session.flush()
    return campaign, True


def _scheduled_at(seed: SeedCampaign, zone: str) -> datetime | None:
    """10:00 in the shop's time zone, ``scheduled_in_days`` from now."""
    if seed.status != CampaignStatus.SCHEDULED or seed.scheduled_in_days is None:
        return None
    day = (datetime.now(ZoneInfo(zone)) + timedelta(days=seed.scheduled_in_days)).date()
    return datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo(zone))


def _estimated_audience(session: Session, shop: Shop, seed: SeedCampaign) -> int:
    if seed.estimated_audience is not None:
        return seed.estimated_audience
    if seed.messages is not None:
        return len(seed.messages)
    return estimate(session, shop.id, seed.audience.model_dump())


# The staged message: the customer by Shopify id (resolved to ours, with the phone we hold,
# by the INSERT's join), the status and the stage times.
_MESSAGE_COLUMNS = (
    ("ord", "integer"),
    ("customer_shopify_id", "bigint"),
    ("wamid", "text"),
    ("status", "text"),
    ("submitted_at", "timestamptz"),
    ("sent_at", "timestamptz"),
    ("delivered_at", "timestamptz"),
    ("read_at", "timestamptz"),
    ("failed_at", "timestamptz"),
    ("expired_at", "timestamptz"),
    ("error_code", "text"),
    ("error_category", "text"),
    ("error_title", "text"),
    ("error_source", "text"),
)
_INSERT_MESSAGES = text("""
    INSERT INTO messages (shop_id, campaign_id, customer_id, phone, wamid, status, submitted_at,
                          accepted_at, sent_at, delivered_at, read_at, failed_at, expired_at,
                          error_code, error_category, error_title, error_source)
    SELECT c.shop_id, :campaign_id, c.id, c.phone, s.wamid, s.status, s.submitted_at,
           s.submitted_at, s.sent_at, s.delivered_at, s.read_at, s.failed_at, s.expired_at,
           s.error_code, s.error_category, s.error_title, s.error_source
      FROM seed_messages s
      JOIN customers c ON c.shop_id = :shop_id AND c.shopify_customer_id = s.customer_shopify_id
     ORDER BY s.ord
        ON CONFLICT DO NOTHING
""")


def _messages(session: Session, campaign: Campaign, seed: SeedCampaign) -> int:
    if not seed.messages:
        return 0
    times = _DefaultTimes.after(campaign.launched_at or campaign.created_at)
    rows = (_message_row(n, m, times) for n, m in enumerate(seed.messages))
    with staged(session, "seed_messages", _MESSAGE_COLUMNS, rows):
        params = {"shop_id": campaign.shop_id, "campaign_id": campaign.id}
        return session.execute(_INSERT_MESSAGES, params).rowcount


@dataclass(frozen=True)
class _DefaultTimes:
    """Stage times the document leaves out are filled so the message reads as if our dispatch
    and Meta's webhooks had produced it: each stage a little after the one before."""

    submitted: datetime
    sent: datetime
    delivered: datetime
    read: datetime
    failed: datetime
    expired: datetime

    @classmethod
    def after(cls, base: datetime) -> _DefaultTimes:
        return cls(
            submitted=base + timedelta(seconds=1),
            sent=base + timedelta(seconds=5),
            delivered=base + timedelta(seconds=20),
            read=base + timedelta(minutes=30),
            failed=base + timedelta(seconds=30),
            expired=base + timedelta(days=30),
        )


def _message_row(n: int, m: SeedMessage, times: _DefaultTimes) -> tuple:
    """The staged row of one message, in _MESSAGE_COLUMNS' order."""
    status = m.status
    failed = status == MessageStatus.FAILED
    sent_at = m.sent_at or (times.sent if m.wamid and (_reached(status, "sent") or failed) else None)
    delivered_at = m.delivered_at or (times.delivered if _reached(status, "delivered") else None)
    read_at = m.read_at or (times.read if _reached(status, "read") else None)
    code = OurCode.MESSAGE_EXPIRED if status == MessageStatus.EXPIRED else m.error_code
    error = _error_columns(str(code) if code is not None else None)
    return (
        n,
        m.customer,
        m.wamid,
        str(status),
        times.submitted if m.wamid else None,
        sent_at,
        delivered_at,
        read_at,
        m.failed_at or (times.failed if failed else None),
        times.expired if status == MessageStatus.EXPIRED else None,
        *error,
    )


@functools.cache
def _error_columns(code: str | None) -> tuple[str | None, ...]:
    """error_code, error_category, error_title and error_source of a code (a few distinct codes
    across a million messages: described once each)."""
    if code is None:
        return (None, None, None, None)
    info = describe(code)
    return (info.code, str(info.category), info.title, "meta" if info.code.isdigit() else "ours")


def _reached(status: MessageStatus, stage: str) -> bool:
    """Whether a message now at ``status`` has passed ``stage`` (read implies delivered)."""
    if status in FAILED_STATUSES:
        return stage == MessageStatus.SENT
    return RANK[status] >= RANK[stage]
