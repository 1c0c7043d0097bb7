"""The fix loop: from a campaign's phone failures to fixed contacts to a message that arrives.

1. Preview (``fix_candidates``): every customer whose message failed for
   ``CUSTOMER_IS_MISSING_CALLING_CODE``, and for ``CUSTOMER_PHONE_IS_INVALID`` where the number
   read in the address country is valid, with the number we suggest (core/rules/phones.py).
2. Fix all (``request_fixes`` then ``apply_fixes`` in a job): one ``phone_fixes`` row per
   customer, written to Shopify one by one through the Admin client (which keeps to Shopify's
   rate limits), each row marked ``fixed`` or ``refused`` with Shopify's reason as it goes, so
   the page shows progress from the database alone.
3. Send again (``follow_up_draft``): a draft with the same template and parameters whose
   audience is exactly the customers fixed since the campaign: those of its phone failures
   whose number in Shopify is now valid and differs from the one we tried, less those an
   earlier send again already sent to. Pressed twice, it never messages anyone twice: the
   audience of a send again leaves out whoever its family of campaigns sent to, at the
   estimate, at the launch checks and when dispatch makes its messages
   (core/campaigns/audience.py, core/dispatch/materialise.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.campaigns.audience import estimate, follow_up_family, sent_to_customers
from core.db import session_scope
from core.models import Campaign, Customer, Message, PhoneFix
from core.rules.campaign_states import CampaignStatus
from core.rules.failure_codes import OurCode
from core.rules.phones import suggest_e164
from core.shopify.admin import (
    AdminClient,
    ReauthorizationRequired,
    ShopifyError,
    ShopifyUnavailable,
    UserErrors,
)
from core.shopify.phone_fix import write_phone

FIXABLE = (OurCode.CUSTOMER_IS_MISSING_CALLING_CODE, OurCode.CUSTOMER_PHONE_IS_INVALID)
PENDING, FIXED, REFUSED = "pending", "fixed", "refused"


@dataclass(frozen=True)
class Candidate:
    customer_id: int
    shopify_customer_id: int
    name: str
    phone: str | None
    country_code: str | None
    error_code: str
    suggested_phone: str | None


def _failed_customers(shop_id: int, campaign_id: int):
    return (
        select(Customer, Message.error_code, Message.phone.label("tried"))
        .join(Message, (Message.shop_id == Customer.shop_id) & (Message.customer_id == Customer.id))
        .where(
            Message.shop_id == shop_id,
            Message.campaign_id == campaign_id,
            Message.status == "failed",
            Message.error_code.in_([str(c) for c in FIXABLE]),
        )
        .order_by(Customer.id)
    )


def fix_candidates(session: Session, shop_id: int, campaign_id: int) -> list[Candidate]:
    """Return the campaign's phone failures still to fix, each with our suggestion (None when
    nothing valid follows from the stored number and address country)."""
    found = []
    for customer, code, _tried in session.execute(_failed_customers(shop_id, campaign_id)):
        if customer.phone_e164 is not None:
            continue  # fixed already (one by one, or in Shopify itself)
        suggestion = suggest_e164(customer.phone, customer.country_code)
        if code == OurCode.CUSTOMER_PHONE_IS_INVALID and suggestion is None:
            continue  # nothing to offer: only a person can find the right number
        found.append(
            Candidate(
                customer.id,
                customer.shopify_customer_id,
                customer.name,
                customer.phone,
                customer.country_code,
                code,
                suggestion,
            )
        )
    return found


def request_fixes(session: Session, shop_id: int, campaign_id: int) -> int:
    """Queue a fix for every candidate with a suggestion (again for rows Shopify refused
    before); answer how many rows are pending now."""
    rows = [
        {
            "shop_id": shop_id,
            "campaign_id": campaign_id,
            "customer_id": c.customer_id,
            "error_code": str(c.error_code),
            "old_phone": c.phone,
            "suggested_phone": c.suggested_phone,
        }
        for c in fix_candidates(session, shop_id, campaign_id)
        if c.suggested_phone
    ]
    if rows:
        table = PhoneFix.__table__
        statement = insert(table).values(rows)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.shop_id, table.c.campaign_id, table.c.customer_id],
                set_={
                    "state": PENDING,
                    "reason": None,
                    "done_at": None,
                    "suggested_phone": statement.excluded.suggested_phone,
                },
                where=table.c.state != FIXED,
            )
        )
    return _count(session, shop_id, campaign_id).get(PENDING, 0)


def _count(session: Session, shop_id: int, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(PhoneFix.state, func.count())
        .where(PhoneFix.shop_id == shop_id, PhoneFix.campaign_id == campaign_id)
        .group_by(PhoneFix.state)
    )
    return dict(rows.all())


def last_fix_done(session: Session, shop_id: int) -> datetime | None:
    """When the shop's latest phone fix got Shopify's answer: a fix of one campaign's customer
    changes the "now valid" count of every campaign that failed to reach them, so the pages'
    cached counts are keyed on it (web/reports.py)."""
    return session.scalar(select(func.max(PhoneFix.done_at)).where(PhoneFix.shop_id == shop_id))


def fix_progress(session: Session, shop_id: int, campaign_id: int) -> dict:
    """Return the counts by state and every row with its outcome, for the page."""
    counts = _count(session, shop_id, campaign_id)
    rows = session.execute(
        select(PhoneFix, Customer)
        .join(Customer, (Customer.shop_id == PhoneFix.shop_id) & (Customer.id == PhoneFix.customer_id))
        .where(PhoneFix.shop_id == shop_id, PhoneFix.campaign_id == campaign_id)
        .order_by(PhoneFix.id)
    ).all()
    return {
        "total": sum(counts.values()),
        **{state: counts.get(state, 0) for state in (PENDING, FIXED, REFUSED)},
        "rows": [
            {
                "customer": {"shopify_id": c.shopify_customer_id, "name": c.name},
                "old_phone": f.old_phone,
                "suggested_phone": f.suggested_phone,
                "state": f.state,
                "reason": f.reason,
            }
            for f, c in rows
        ],
    }


def _finish(session: Session, fix: PhoneFix, state: str, reason: str | None) -> None:
    session.execute(
        update(PhoneFix)
        .where(PhoneFix.shop_id == fix.shop_id, PhoneFix.id == fix.id)
        .values(state=state, reason=reason, done_at=datetime.now(UTC))
    )


def _pending(shop_id: int, campaign_id: int) -> list[tuple[PhoneFix, Customer]]:
    with session_scope() as session:
        rows = session.execute(
            select(PhoneFix, Customer)
            .join(Customer, (Customer.shop_id == PhoneFix.shop_id) & (Customer.id == PhoneFix.customer_id))
            .where(
                PhoneFix.shop_id == shop_id, PhoneFix.campaign_id == campaign_id, PhoneFix.state == PENDING
            )
            .order_by(PhoneFix.id)
        ).all()
        session.expunge_all()
        return [(f, c) for f, c in rows]


def apply_fixes(shop_id: int, campaign_id: int) -> dict[str, int]:
    """Write every pending fix to Shopify, one by one, each outcome committed as it comes.
    Shopify down or access lapsed stops the run with the rest still pending (it can be asked
    again); a number Shopify refuses is that row's outcome, with Shopify's words."""
    done = {FIXED: 0, REFUSED: 0}
    with AdminClient(shop_id) as client:
        for fix, customer in _pending(shop_id, campaign_id):
            state, reason = _write(client, customer, fix.suggested_phone)
            with session_scope() as session:
                _finish(session, fix, state, reason)
            done[state] += 1
    return done


def _write(client: AdminClient, customer: Customer, phone: str) -> tuple[str, str | None]:
    """The row's outcome: fixed (with what the fix cost, such as consent Shopify dropped with
    the old number), or refused with Shopify's words."""
    try:
        fixed = write_phone(client, customer, phone)
    except UserErrors as refused:
        return REFUSED, "; ".join(str(e.get("message")) for e in refused.errors)[:1000] or "refused"
    except (ReauthorizationRequired, ShopifyUnavailable):
        raise
    except ShopifyError as error:
        return REFUSED, str(error)[:1000]
    if fixed.customer is None:
        return REFUSED, "The customer was deleted in Shopify."
    return FIXED, " ".join(w["message"] for w in fixed.warnings)[:1000] or None


_FIXED_SINCE = text("""
    SELECT DISTINCT c.id FROM messages m
      JOIN customers c ON c.shop_id = m.shop_id AND c.id = m.customer_id
     WHERE m.shop_id = :shop_id AND m.campaign_id = :campaign_id AND m.status = 'failed'
       AND m.error_code = ANY(CAST(:codes AS text[]))
       AND c.phone_e164 IS NOT NULL AND c.phone IS DISTINCT FROM m.phone
""")


def fixed_customers(session: Session, shop_id: int, campaign_id: int) -> list[int]:
    """Return the customers of the campaign's phone failures whose number is fixed since."""
    params = {"shop_id": shop_id, "campaign_id": campaign_id, "codes": [str(c) for c in FIXABLE]}
    return sorted(session.execute(_FIXED_SINCE, params).scalars())


class NothingToSendAgain(ValueError):
    """No customer of the campaign's phone failures has been fixed yet."""


def follow_up_draft(session: Session, campaign: Campaign) -> Campaign:
    """Create the "send again" draft: same template and parameters, audience exactly the
    customers fixed since ``campaign``. Raises NothingToSendAgain."""
    customers = fixed_customers(session, campaign.shop_id, campaign.id)
    if not customers:
        raise NothingToSendAgain("No customer of this campaign's phone failures has a fixed number yet.")
    family = follow_up_family(session, campaign.shop_id, campaign.id)
    sent_to = sent_to_customers(session, campaign.shop_id, family)
    customers = [customer_id for customer_id in customers if customer_id not in sent_to]
    if not customers:
        raise NothingToSendAgain(
            "Every customer fixed since this campaign was already sent it again: nobody is left to send to."
        )
    audience = {"include_tags": [], "exclude_tags": [], "customer_ids": customers}
    draft = Campaign(
        shop_id=campaign.shop_id,
        name=_free_name(session, campaign.shop_id, f"{campaign.name} (sent again)"),
        type=campaign.type,
        status=str(CampaignStatus.DRAFT),
        template_name=campaign.template_name,
        template_language=campaign.template_language,
        template_category=campaign.template_category,
        template_format=campaign.template_format,
        template_parameters=campaign.template_parameters,
        template_components=campaign.template_components,
        audience=audience,
        estimated_audience=estimate(session, campaign.shop_id, audience, campaign.id),
        follow_up_of=campaign.id,
    )
    session.add(draft)
    session.flush()
    return draft


def _free_name(session: Session, shop_id: int, name: str) -> str:
    taken = set(
        session.scalars(
            select(Campaign.name).where(Campaign.shop_id == shop_id, Campaign.name.like(f"{name}%"))
        )
    )
    n, candidate = 1, name
    while candidate in taken:
        n += 1
        candidate = f"{name} {n}"
    return candidate
