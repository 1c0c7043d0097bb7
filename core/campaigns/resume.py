"""Resuming a halted campaign once the merchant has removed the cause (Meta approved the
template again, the payment method is fixed, the account was reconnected).

Only messages that never reached a customer go out again: those the halt kept from Meta
(``error_source = 'ours'``, never submitted) and those Meta refused at the send with the very
code that halted the campaign (an answer with an error: Meta did not accept them). Neither has
a wamid. Every message Meta accepted keeps its fate, so nothing is ever sent twice. The launch
checks Meta answers (the number is connected, the template is approved and fits) run again, and
the credits must cover what is left. The campaign goes back to PENDING with its halt cleared
and its halt alerts resolved, and dispatch picks the messages up as queued ones (consent is
checked again as each is claimed).

Lock order, as every writer keeps it: the messages first, then the campaign row, then the kept
failure breakdown.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.campaigns.launch import CheckFailure, CheckResult, LifecycleError, MetaAnswer, uninstalled
from core.counts.failures import FailureChanges, FailureKey
from core.counts.variants import VariantChanges
from core.models import Campaign, Shop
from core.rules.campaign_states import CampaignStatus

_NEVER_SENT = """
    shop_id = :shop_id AND campaign_id = :campaign_id AND status = 'failed' AND wamid IS NULL
    AND error_code = :code
    AND ((error_source = 'ours' AND submitted_at IS NULL) OR error_source = 'meta')
"""

_HELD = text(f"SELECT count(*) FROM messages WHERE {_NEVER_SENT}")

# Which counter each message leaves: failed before send (ours), or submitted (Meta refused it);
# per variant of an A/B campaign (core/counts/variants.py; one group of NULL without variants).
_REQUEUE = text(f"""
    WITH held AS (
        SELECT id, error_source = 'ours' AS ours, variant_id FROM messages
         WHERE {_NEVER_SENT}
         ORDER BY id
           FOR UPDATE
    ), requeued AS (
        UPDATE messages m
           SET status = 'queued', failed_at = NULL, error_code = NULL, error_category = NULL,
               error_title = NULL, error_details = NULL, error_source = NULL, retry_at = NULL,
               submitted_at = NULL
          FROM held
         WHERE m.shop_id = :shop_id AND m.id = held.id
        RETURNING held.ours, held.variant_id
    )
    SELECT variant_id, count(*) AS requeued, count(*) FILTER (WHERE ours) AS ours FROM requeued
     GROUP BY variant_id
""")

_REOPEN = text("""
    UPDATE campaigns
       SET status = 'PENDING', halted_reason = NULL, halted_code = NULL, completed_at = NULL,
           dispatch_finished_at = NULL,
           failed_count = failed_count - :requeued,
           failed_before_send_count = failed_before_send_count - :ours,
           submitted_count = submitted_count - (:requeued - :ours)
     WHERE shop_id = :shop_id AND id = :campaign_id AND halted_code = :code
    RETURNING id
""")

_RESOLVE_ALERTS = text("""
    UPDATE shop_alerts SET resolved_at = :now
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id AND code = :code AND resolved_at IS NULL
""")


def held_back(session: Session, campaign: Campaign) -> int:
    """How many of the campaign's messages never reached a customer because of its halt: what
    a resume would send."""
    if not campaign.halted_code or campaign.status == CampaignStatus.CANCELLED:
        return 0
    keys = {"shop_id": campaign.shop_id, "campaign_id": campaign.id, "code": campaign.halted_code}
    return session.execute(_HELD, keys).scalar_one()


def resume(session: Session, shop: Shop, campaign: Campaign, meta: MetaAnswer) -> CheckResult:
    """Send what the halt kept back, in the caller's transaction (the caller commits, then
    starts dispatch). Failed checks come back as the result's failures and change nothing;
    a campaign that cannot be resumed raises LifecycleError."""
    code = campaign.halted_code
    if not code:
        raise LifecycleError("Only a campaign that stopped sending can be resumed.")
    if campaign.status == CampaignStatus.CANCELLED:
        raise LifecycleError("A cancelled campaign cannot be resumed.")
    if uninstalled(session, shop):
        raise LifecycleError("The app was uninstalled from this shop: no campaign can be resumed.")
    left = held_back(session, campaign)
    if left == 0:
        raise LifecycleError(
            "Every message of this campaign reached WhatsApp already: nothing is left to send."
        )
    failures = list(meta.failures)
    if shop.credits < left:
        failures.append(
            CheckFailure(
                "credits",
                f"Resuming sends {left:,} messages (one credit each) and the balance is {shop.credits:,}. "
                "Top up before resuming.",
            )
        )
    if failures:
        return CheckResult(failures, meta.template, left)
    keys = {"shop_id": campaign.shop_id, "campaign_id": campaign.id, "code": code}
    groups = session.execute(_REQUEUE, keys).all()
    requeued, ours = sum(group.requeued for group in groups), sum(group.ours for group in groups)
    if session.execute(_REOPEN, {**keys, "requeued": requeued, "ours": ours}).first() is None:
        raise LifecycleError("The campaign was resumed meanwhile.")
    breakdown, variants = FailureChanges(), VariantChanges()
    breakdown.add(campaign.shop_id, campaign.id, FailureKey(code, False), -requeued)
    breakdown.apply(session)
    for group in groups:
        variants.add(campaign.shop_id, campaign.id, group.variant_id, failed=-group.requeued)
    variants.apply(session)
    session.execute(_RESOLVE_ALERTS, {**keys, "now": datetime.now(UTC)})
    session.expire(campaign)
    return CheckResult([], meta.template, requeued)
