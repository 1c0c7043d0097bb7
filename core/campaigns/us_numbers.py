"""United States numbers and marketing templates.

Since 1 April 2025 WhatsApp has paused the delivery of marketing template messages to users
with United States phone numbers (+1 calling code and a US area code); such sends fail with
131049, the per-user marketing limit, and are not charged. Utility templates are not affected.
Meta announced the pause as temporary and has not given an end date. Sources:
reference/whatsapp.md 3.4 (131049); Meta's "Per-user marketing template message limits"
(developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates), as relayed by
AWS End User Messaging's WhatsApp template guide ("Starting on 4/1/2025 Meta will block
marketing message templates sent to the US country code of +1") and by Zoho's notice to its
merchants ("if you send a marketing template to a US number, it will fail ... failure reason
... USER_MARKETING_TEMPLATE_LIMIT"), both checked 2026-11-29, with no lifting announced.

So a marketing campaign says beforehand how many of its recipients have US numbers, and the
131049 remedy names them. Canada and the Caribbean share +1 and are not paused: the area code
decides, read with ``phonenumbers``.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.campaigns.audience import recipients_query
from core.rules.phones import is_us_area_code
from core.rules.wording import plural

US_REMEDY = (
    "WhatsApp has not delivered marketing templates to United States (+1) numbers since "
    "1 April 2025: customers with US numbers cannot be reached by a marketing campaign; use a "
    "utility template or another channel for them."
)


def us_recipients(session: Session, shop_id: int, rule: dict) -> int:
    """How many of the audience's recipients have a United States number (grouped by area
    code in the database, so a large audience reads a few hundred rows at most)."""
    return us_among(session, recipients_query(shop_id, rule).subquery())


def us_among(session: Session, recipients) -> int:
    """How many rows of ``recipients`` (a subquery with ``phone_e164``) are United States
    numbers, counted by area code in the database."""
    area = func.substr(recipients.c.phone_e164, 3, 3)
    rows = session.execute(
        select(area, func.count())
        .select_from(recipients)
        .where(recipients.c.phone_e164.like("+1%"), func.length(recipients.c.phone_e164) == 12)
        .group_by(area)
    )
    return sum(count for code, count in rows if is_us_area_code(code))


def marketing_us_warning(category: str | None, us_count: int) -> str | None:
    """The sentence a marketing campaign with US recipients shows before launch."""
    if (category or "").upper() != "MARKETING" or not us_count:
        return None
    return (
        plural(
            us_count,
            "{n} recipient has a United States (+1) number.",
            "{n} recipients have United States (+1) numbers.",
        )
        + " WhatsApp does not deliver "
        "marketing templates to US numbers (paused since 1 April 2025): they will fail with 131049."
    )
