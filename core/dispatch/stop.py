"""When a shop can no longer send, and stopping its campaigns.

A shop that uninstalled the app sends nothing more, and one without a connected WhatsApp number
cannot send: each of their pending campaigns halts through the halt mechanism (halt.py) with our
own code (``APP_UNINSTALLED``, ``WHATSAPP_DISCONNECTED``), which says why on the campaign and
fails its unsent messages; an uninstall also cancels the scheduled ones. The same rule is checked
where a message could leave: the lane when it starts and every half second (jobs/dispatch.py),
and the claim itself (claim.py), so a race with the uninstall or the disconnect hands nothing out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.db import session_scope
from core.dispatch.materialise import materialise_audience
from core.dispatch.progress import finish_if_done
from core.meta_webhooks.halt import APP_UNINSTALLED, WHATSAPP_DISCONNECTED, HaltReason, halt_campaign
from core.models import Campaign, Shop
from core.rules.campaign_states import CampaignStatus


def refusal(uninstalled: bool, phone_number_id: str | None, has_token: bool = True) -> HaltReason | None:
    """Why a shop in this state may not send, or None when it may."""
    if uninstalled:
        return APP_UNINSTALLED
    if not (phone_number_id and has_token):
        return WHATSAPP_DISCONNECTED
    return None


def shop_refusal(shop: Shop) -> HaltReason | None:
    return refusal(
        shop.uninstalled_at is not None,
        shop.meta_phone_number_id,
        shop.meta_access_token_ciphertext is not None,
    )


class SendingStopped(Exception):
    """A lane must stop: ``reason`` halts the campaign (or halted it already); None means only
    that the shop's number changed, so this run ends and the next one loads the new number."""

    def __init__(self, reason: HaltReason | None):
        super().__init__(reason.code if reason else "the shop's WhatsApp number changed")
        self.reason = reason


def halt_pending(session: Session, shop_id: int, campaign_id: int, reason: HaltReason) -> bool:
    """Halt a pending campaign in the caller's transaction. Its messages are materialised first
    (if no lane has done it yet), so every recipient it would have reached is recorded as not
    sent and why, and dispatch can be marked over for the monitor to settle the campaign."""
    materialise_audience(session, shop_id, campaign_id)
    halted = halt_campaign(session, shop_id, campaign_id, reason)
    finish_if_done(session, shop_id, campaign_id)
    return halted


_SENDING_STATE = text("""
    SELECT k.status, k.halted_code, s.uninstalled_at IS NOT NULL AS uninstalled,
           s.meta_phone_number_id, s.meta_access_token_ciphertext IS NOT NULL AS has_token
      FROM campaigns k JOIN shops s ON s.id = k.shop_id
     WHERE k.shop_id = :shop_id AND k.id = :campaign_id
""")


def check_sending(
    session: Session, shop_id: int, campaign_id: int, phone_number_id: str | None
) -> SendingStopped | None:
    """For a lane sending from ``phone_number_id``: None while it may go on; otherwise why it
    must stop, having halted the campaign when the shop can no longer send."""
    state = session.execute(_SENDING_STATE, {"shop_id": shop_id, "campaign_id": campaign_id}).first()
    if state is None or state.status != CampaignStatus.PENDING:
        return SendingStopped(None)
    if state.halted_code:  # halted elsewhere: a send answer of another lane, an uninstall ...
        return SendingStopped(HaltReason(state.halted_code))
    reason = refusal(state.uninstalled, state.meta_phone_number_id, state.has_token)
    if reason is not None:
        halt_pending(session, shop_id, campaign_id, reason)
        return SendingStopped(reason)
    if phone_number_id is not None and state.meta_phone_number_id != phone_number_id:
        return SendingStopped(None)
    return None


_CANCEL_SCHEDULED = text("""
    UPDATE campaigns SET status = 'CANCELLED'
     WHERE shop_id = :shop_id AND id = :campaign_id AND status = 'SCHEDULED'
    RETURNING id
""")


@dataclass(frozen=True)
class Stopped:
    campaign_id: int
    outcome: str  # halted, cancelled, or left (settled or halted already)


def stop_campaign(
    session: Session, shop_id: int, campaign_id: int, reason: HaltReason, *, cancel_scheduled: bool
) -> Stopped:
    """Stop one open campaign in the caller's transaction: cancel it if it is scheduled (and
    ``cancel_scheduled``), halt it if it is pending."""
    keys = {"shop_id": shop_id, "campaign_id": campaign_id}
    if cancel_scheduled and session.execute(_CANCEL_SCHEDULED, keys).first() is not None:
        return Stopped(campaign_id, "cancelled")
    status = session.scalar(
        select(Campaign.status).where(Campaign.shop_id == shop_id, Campaign.id == campaign_id)
    )
    if status == CampaignStatus.PENDING and halt_pending(session, shop_id, campaign_id, reason):
        return Stopped(campaign_id, "halted")
    return Stopped(campaign_id, "left")


def stop_shop_campaigns(shop_id: int, reason: HaltReason) -> list[Stopped]:
    """Stop every open campaign of a shop that can no longer send, one transaction each (a halt
    rewrites every unsent message of its campaign). An uninstall also cancels the scheduled
    ones; a disconnect leaves them to their launch checks."""
    with session_scope() as session:
        open_ids = session.scalars(
            select(Campaign.id)
            .where(
                Campaign.shop_id == shop_id,
                Campaign.status.in_([CampaignStatus.PENDING, CampaignStatus.SCHEDULED]),
            )
            .order_by(Campaign.id)
        ).all()
    stopped = []
    for campaign_id in open_ids:
        with session_scope() as session:
            stopped.append(
                stop_campaign(
                    session, shop_id, campaign_id, reason, cancel_scheduled=reason == APP_UNINSTALLED
                )
            )
    return stopped


def count_outcomes(stopped: list[Stopped]) -> dict:
    return dict(Counter(s.outcome for s in stopped))
