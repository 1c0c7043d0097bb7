"""Claim a batch of queued messages for sending, in one short transaction.

Each claimed message is checked once more against the customer as we hold them now: consent
withdrawn since launch, no phone, a phone without its country calling code, an impossible
number, or no credit left all fail the message here, with our own code, and it never reaches
Meta. The others are marked as handed to Meta (``submitted_at``) before any request leaves, so a
worker that dies mid-batch can never cause the same message to be sent twice: a retry of the job
claims only messages that were never handed over.

Nothing is handed out for a shop that can no longer send (it uninstalled the app, or its WhatsApp
number was disconnected or changed): the claim reads the shop's row under the lock it takes anyway
to reserve credits, so an uninstall or a disconnect committed before that lock is always seen,
and one committed after it waits for the claim (its messages count as already in flight).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.campaigns.audience import OPTED_IN_SQL
from core.campaigns.tracking import tracked_suffix
from core.counts.failures import FailureChanges, entered_sql
from core.counts.variants import VariantChanges
from core.dispatch.stop import SendingStopped, refusal
from core.outcomes.credits import RESERVE, record_movement
from core.rules.failure_codes import OurCode, describe
from core.rules.phones import check_phone
from core.templates.render import Recipient, send_components
from core.whatsapp.callback import callback_for
from core.whatsapp.send import send_request_body


@dataclass(frozen=True)
class CampaignTemplate:
    """What every message of a campaign shares."""

    shop_id: int
    campaign_id: int
    name: str
    language: str
    components: list  # normalised (core/templates/components.py): rendered per recipient
    phone_number_id: str | None = None  # the number the lane sends from (None: not checked)
    # An A/B campaign's variants, by id: (template name, language, components) each.
    variants: tuple[tuple[int, str, str, list], ...] = ()

    def for_variant(self, variant_id: int | None) -> tuple[str, str, list]:
        """The template name, language and components a message of ``variant_id`` is sent."""
        for number, name, language, components in self.variants:
            if number == variant_id:
                return name, language, components
        return self.name, self.language, self.components


@dataclass(frozen=True)
class Outbound:
    message_id: int
    attempt: int  # 1 for the first send, 2 for the first retry ...
    body: dict  # the Graph API request body


@dataclass(frozen=True)
class _Refusal:
    message_id: int
    code: OurCode
    phone: str | None
    country_code: str | None


_PICK = text(f"""
    SELECT m.id, m.send_attempts, m.variant_id, c.phone, c.country_code, {OPTED_IN_SQL} AS opted_in,
           c.first_name, c.last_name
      FROM messages m
      LEFT JOIN customers c ON c.shop_id = m.shop_id AND c.id = m.customer_id
     WHERE m.shop_id = :shop_id AND m.campaign_id = :campaign_id
       AND m.status = 'queued' AND m.submitted_at IS NULL
       AND (m.retry_at IS NULL OR m.retry_at <= now())
       AND EXISTS (SELECT 1 FROM campaigns k
                    WHERE k.shop_id = m.shop_id AND k.id = m.campaign_id
                      AND k.status = 'PENDING' AND k.halted_reason IS NULL)
     ORDER BY m.id
     LIMIT :limit
       FOR UPDATE OF m SKIP LOCKED
""")

_LOCK_CAMPAIGN = text("SELECT 1 FROM campaigns WHERE shop_id = :shop_id AND id = :campaign_id FOR UPDATE")

# The shop's row, locked as the credit reservation below would lock it: a concurrent uninstall or
# disconnect either committed before (and is seen here) or waits until this claim commits.
_LOCK_SHOP = text("""
    SELECT uninstalled_at IS NOT NULL AS uninstalled, meta_phone_number_id
      FROM shops WHERE id = :shop_id
       FOR UPDATE
""")

# Credits are reserved for the batch before it is sent, and given back for every message Meta
# does not take (record.py): the balance can never go negative, whatever the concurrency. The
# balance is read under its row lock, then taken: two statements rather than one whose CTE
# Citus would run apart from the UPDATE.
_LOCK_BALANCE = text("SELECT credits FROM shops WHERE id = :shop_id FOR UPDATE")
_TAKE_CREDITS = text("UPDATE shops SET credits = credits - :granted WHERE id = :shop_id")

# The claimed messages were queued (_PICK): each enters the failure breakdown (core/counts/failures.py).
_FAIL = text(f"""
    UPDATE messages m
       SET status = 'failed', failed_at = now(), error_code = f.code, error_category = f.category,
           error_title = f.title, error_details = NULL, error_source = 'ours',
           phone = f.phone, country_code = f.country_code, retry_at = NULL
      FROM unnest(CAST(:ids AS bigint[]), CAST(:codes AS text[]), CAST(:categories AS text[]),
                  CAST(:titles AS text[]), CAST(:phones AS text[]), CAST(:countries AS text[]))
           AS f(id, code, category, title, phone, country_code)
     WHERE m.shop_id = :shop_id AND m.id = f.id
    RETURNING {entered_sql("m")}
""")

_SUBMIT = text("""
    UPDATE messages m
       SET submitted_at = now(), send_attempts = m.send_attempts + 1, retry_at = NULL,
           phone = s.phone, country_code = s.country_code
      FROM unnest(CAST(:ids AS bigint[]), CAST(:phones AS text[]), CAST(:countries AS text[]))
           AS s(id, phone, country_code)
     WHERE m.shop_id = :shop_id AND m.id = s.id
""")

_COUNT = text("""
    UPDATE campaigns
       SET failed_count = failed_count + :failed,
           failed_before_send_count = failed_before_send_count + :failed,
           submitted_count = submitted_count + :submitted
     WHERE shop_id = :shop_id AND id = :campaign_id
""")


def claim_batch(session: Session, campaign: CampaignTemplate, limit: int) -> list[Outbound]:
    """Claim up to ``limit`` due messages; fail those that must not be sent; return the rest,
    ready to send. Runs in the caller's transaction, which should commit at once."""
    keys = {"shop_id": campaign.shop_id, "campaign_id": campaign.campaign_id}
    rows = session.execute(_PICK, {**keys, "limit": limit}).all()
    if not rows:
        return []
    session.execute(_LOCK_CAMPAIGN, keys)
    _require_shop_sending(session, campaign)
    refusals, sendable = _presend_checks(rows)
    granted = _reserve_credits(session, campaign.shop_id, len(sendable))
    record_movement(session, campaign.shop_id, RESERVE, -granted, campaign.campaign_id)
    for row, _e164 in sendable[granted:]:
        refusals.append(_Refusal(row.id, OurCode.INSUFFICIENT_CREDITS, row.phone, row.country_code))
    sendable = sendable[:granted]
    failures, variants = FailureChanges(), VariantChanges()
    refused = _write_refusals(session, campaign.shop_id, refusals)
    failures.entered(campaign.shop_id, refused)
    variants.failed(campaign.shop_id, refused)
    _write_submitted(session, campaign.shop_id, sendable)
    session.execute(_COUNT, {**keys, "failed": len(refusals), "submitted": len(sendable)})
    failures.apply(session)
    variants.apply(session)
    return [_outbound(campaign, row, e164) for row, e164 in sendable]


def _require_shop_sending(session: Session, campaign: CampaignTemplate) -> None:
    """Raise SendingStopped when the shop may not send from the lane's number any more; the
    caller's transaction must then roll back, so the picked messages stay queued."""
    shop = session.execute(_LOCK_SHOP, {"shop_id": campaign.shop_id}).one()
    reason = refusal(shop.uninstalled, shop.meta_phone_number_id)  # the lane holds its own token
    if reason is not None:
        raise SendingStopped(reason)
    if campaign.phone_number_id is not None and shop.meta_phone_number_id != campaign.phone_number_id:
        raise SendingStopped(None)


def _reserve_credits(session: Session, shop_id: int, wanted: int) -> int:
    """Take up to ``wanted`` credits from the balance; answer how many were granted."""
    balance = session.execute(_LOCK_BALANCE, {"shop_id": shop_id}).scalar_one()
    granted = min(max(balance, 0), wanted)
    if granted:
        session.execute(_TAKE_CREDITS, {"shop_id": shop_id, "granted": granted})
    return granted


def _presend_checks(rows) -> tuple[list[_Refusal], list[tuple]]:
    refusals, sendable = [], []
    for row in rows:
        if not row.opted_in:  # also a customer deleted since launch
            refusals.append(_Refusal(row.id, OurCode.CUSTOMER_IS_NOT_OPTED_IN, row.phone, row.country_code))
            continue
        check = check_phone(row.phone)
        if check.problem is not None:
            refusals.append(_Refusal(row.id, check.problem, row.phone, row.country_code))
        else:
            sendable.append((row, check.e164))
    return refusals, sendable


def _write_refusals(session: Session, shop_id: int, refusals: list[_Refusal]) -> list:
    if not refusals:
        return []
    infos = [describe(r.code) for r in refusals]
    return session.execute(
        _FAIL,
        {
            "shop_id": shop_id,
            "ids": [r.message_id for r in refusals],
            "codes": [i.code for i in infos],
            "categories": [str(i.category) for i in infos],
            "titles": [i.title for i in infos],
            "phones": [r.phone for r in refusals],
            "countries": [r.country_code for r in refusals],
        },
    ).all()


def _write_submitted(session: Session, shop_id: int, sendable: list[tuple]) -> None:
    if not sendable:
        return
    session.execute(
        _SUBMIT,
        {
            "shop_id": shop_id,
            "ids": [row.id for row, _ in sendable],
            "phones": [e164 for _, e164 in sendable],
            "countries": [row.country_code for row, _ in sendable],
        },
    )


def _outbound(campaign: CampaignTemplate, row, e164: str) -> Outbound:
    recipient = Recipient(row.first_name or "", row.last_name or "")
    track = functools.partial(tracked_suffix, campaign.shop_id, row.id)
    name, language, components = campaign.for_variant(row.variant_id)
    body = send_request_body(
        e164,
        name,
        language,
        send_components(components, recipient, track),
        # Our message id, signed, echoed in every status webhook: it ties a status to its message
        # even when the webhook arrives before we have stored the wamid (core/whatsapp/callback.py).
        callback=callback_for(campaign.shop_id, row.id),
    )
    return Outbound(row.id, row.send_attempts + 1, body)
