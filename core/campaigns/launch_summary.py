"""What launching a campaign will do, said before the merchant confirms: how many recipients,
how many of them have United States numbers a marketing template will not reach (131049), what
Meta will charge by the shop's rate card, and the credits left after it; a holdout's customers
are counted apart, as they get nothing.

The cost is an estimate: Meta bills a message once it is delivered, so failures cost nothing,
and US numbers of a marketing campaign are left out of it (they fail). It uses the card in force
today in the account's currency (core/outcomes/pricing.py), at list rates: volume tiers only
lower it. Credits are one per
recipient, taken at launch as the launch check counts them (core/campaigns/launch.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from core.campaigns.audience import follow_up_family, recipients_query
from core.campaigns.us_numbers import us_among
from core.experiments.split import bucket_sql
from core.models import Campaign, Shop
from core.outcomes.pricing import shop_pricing
from core.outcomes.rate_card import country_of_prefix

CENTS = Decimal("0.01")


@dataclass(frozen=True)
class LaunchSummary:
    recipients: int
    us_recipients: int  # recipients a marketing template will not reach (0 for utility ones)
    cost: Decimal
    currency: str
    unpriced: int  # recipients whose country the rate card has no price for
    credits: int
    held_out: int = 0  # customers of the audience the campaign's holdout keeps unsent

    def as_json(self) -> dict:
        return {
            "recipients": self.recipients,
            "us_recipients": self.us_recipients,
            "estimated_cost": {
                "amount": f"{self.cost.quantize(CENTS, ROUND_HALF_UP)}",
                "currency": self.currency,
            },
            "unpriced_recipients": self.unpriced,
            "credits": self.credits,
            "credits_needed": self.recipients,
            "credits_after": self.credits - self.recipients,
            "held_out": self.held_out,
        }


def launch_summary(session: Session, shop: Shop, campaign: Campaign) -> LaunchSummary:
    """The campaign's audience as launching it now would reach it, grouped by calling code in
    the database (a few hundred rows for any audience)."""
    rule = campaign.audience or {}
    sent_by = (
        follow_up_family(session, shop.id, campaign.follow_up_of) if campaign.follow_up_of is not None else ()
    )
    everyone = recipients_query(shop.id, rule, sent_by)
    recipients = _without_holdout(everyone, campaign).subquery()
    digits = func.substr(recipients.c.phone_e164, 2, 3)
    rows = session.execute(select(digits, func.count()).select_from(recipients).group_by(digits)).all()
    category = (campaign.template_category or "marketing").lower()
    pricing = shop_pricing(session, shop)
    card = pricing.card_on(datetime.now(UTC).date())
    us = us_among(session, recipients) if category == "marketing" else 0
    cost, unpriced = Decimal(0), 0
    for prefix, count in rows:
        if prefix is None:
            continue  # no usable number: it fails before Meta, and costs nothing
        rate = card.rate(country_of_prefix(prefix), category) if card else None
        if rate is None:
            unpriced += count
        else:
            cost += rate * count
    if us and card:  # +1 is priced as North America above; the US part of it will fail, unbilled
        cost -= (card.rate("US", category) or 0) * us
    total = sum(count for _prefix, count in rows)  # the launch check's estimate, counted once
    held = 0
    if campaign.holdout_share:
        held = session.scalar(select(func.count()).select_from(everyone.subquery())) - total
    currency = pricing.currency or pricing.waba_currency or ""
    return LaunchSummary(total, us, max(cost, Decimal(0)), currency, unpriced, shop.credits, held)


def _without_holdout(recipients: Select, campaign: Campaign) -> Select:
    """The recipients a holdout leaves to be sent: the split is known before launch (its hash
    needs only the campaign and the customer), so the summary counts exactly who will get it."""
    if not campaign.holdout_share:
        return recipients
    drawn = bucket_sql(str(int(campaign.id)), "customers.id")
    return recipients.where(text(f"{drawn} >= {int(campaign.holdout_share)}"))
