"""Turn a launched campaign's audience into message rows, once.

The audience is taken at launch (not at estimate time): segment membership and consent change
in between, which is why the sent count can differ from the estimate. Consent is checked once
more for each message just before it is sent (claim.py).

A campaign with a holdout keeps its share of the audience unsent (core/experiments/holdout.py):
who is kept follows from a hash of the campaign and the customer (core/experiments/split.py),
and is written to ``campaign_holdouts`` in the same transaction as the others' messages.

A "send again" leaves out the customers its family of campaigns sent to
(core/campaigns/audience.py). Two of them launched together must not both take the same
customer, so each takes the lock of the family's first campaign before it reads who was sent
to: the second waits, then sees the first one's messages.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, literal, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.campaigns.audience import follow_up_family, recipients_query
from core.campaigns.messaging_limit import WAVE_GAP, room
from core.counts.variants import VariantChanges
from core.experiments.send_time import per_customer_variants, plan_send_times
from core.experiments.split import bucket_sql, variant_sql
from core.experiments.test_then_send import in_test_sql
from core.models import CampaignHoldout, Message, Shop

# What materialising a campaign's audience reads of it (and of its shop), read by name.
_PLAN_COLUMNS = """
    audience, follow_up_of, holdout_share, variants, send_time_mode, send_time_window_hours,
    (SELECT timezone FROM shops WHERE id = :shop_id) AS zone,
    CASE WHEN upper(template_category) = 'MARKETING'
         THEN (SELECT marketing_cap_hours FROM shops WHERE id = :shop_id) END AS cap_hours
"""

_LOCK_UNSTARTED = text(f"""
    SELECT {_PLAN_COLUMNS}, test_then_send
      FROM campaigns
     WHERE shop_id = :shop_id AND id = :campaign_id AND status = 'PENDING' AND dispatch_started_at IS NULL
       FOR UPDATE
""")

# A message row per recipient of ``recipients`` (a subquery of the audience), in this order.
_MESSAGE_COLUMNS = ["shop_id", "campaign_id", "customer_id", "phone", "country_code", "variant_id"]


def _message_rows(recipients, campaign_id: int, variant):
    """The rows _MESSAGE_COLUMNS names: each recipient's message of ``campaign_id``, of ``variant``."""
    return select(
        recipients.c.shop_id,
        literal(campaign_id),
        recipients.c.id,
        recipients.c.phone,
        recipients.c.country_code,
        variant,
    )


_LOCK_FAMILY = text("SELECT 1 FROM campaigns WHERE shop_id = :shop_id AND id = :first FOR UPDATE")

# A campaign spread over Meta's messaging limit (core/campaigns/messaging_limit.py): the messages
# past the first wave wait, wave by wave, for their day.
# Each wave's time is worked out in the CTE, not in the UPDATE's SET: Citus refuses a STABLE
# function (timestamptz + interval) over column references in an UPDATE (docs/scaling.md).
_PLAN_WAVES = text("""
    WITH waves AS (
        SELECT r.id,
               c.launched_at + CAST(:gap AS interval) * (1 + (r.n - c.spread_first_wave) / c.spread_wave_size)
                   AS at
          FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM messages
                 WHERE shop_id = :shop_id AND campaign_id = :campaign_id AND status = 'queued') AS r
          JOIN campaigns c ON c.shop_id = :shop_id AND c.id = :campaign_id
         WHERE c.spread_wave_size > 0 AND r.n >= c.spread_first_wave
    )
    UPDATE messages m SET retry_at = w.at
      FROM waves w
     WHERE m.shop_id = :shop_id AND m.id = w.id
""")

_HELD_OUT = text("UPDATE campaigns SET held_out_count = :held WHERE shop_id = :shop_id AND id = :campaign_id")

_MARK_STARTED = text("""
    UPDATE campaigns SET dispatch_started_at = now(), messages_count = messages_count + :created
     WHERE shop_id = :shop_id AND id = :campaign_id
""")


def materialise_audience(session: Session, shop_id: int, campaign_id: int) -> int | None:
    """Insert one queued message per recipient and mark dispatch as started. Return how many
    messages were created, or None when another worker did it already (or the campaign is not
    launched). Locking the campaign row first makes concurrent callers wait, then find it done;
    the messages do not exist yet, so no other transaction can hold their locks."""
    params = {"shop_id": shop_id, "campaign_id": campaign_id}
    campaign = session.execute(_LOCK_UNSTARTED, params).one_or_none()
    if campaign is None:
        return None
    recipients = recipients_query(
        shop_id, campaign.audience, _family_sent_by(session, shop_id, campaign), campaign.cap_hours
    ).subquery("r")
    drawn = bucket_sql(str(int(campaign_id)), "r.id")
    kept = literal_column(f"{drawn} < {int(campaign.holdout_share)}")
    if campaign.holdout_share:
        held = select(recipients.c.shop_id, literal(campaign_id), recipients.c.id).where(kept)
        columns = ["shop_id", "campaign_id", "customer_id"]
        kept_back = insert(CampaignHoldout).from_select(columns, held).returning(CampaignHoldout.customer_id)
        held_count = session.scalar(select(func.count()).select_from(kept_back.cte("kept_back")))
        session.execute(_HELD_OUT, {**params, "held": held_count})
    variant = (
        literal_column(variant_sql(drawn, campaign.holdout_share, campaign.variants))
        if campaign.variants
        else literal(None)
    )
    source = _message_rows(recipients, campaign_id, variant)
    if campaign.holdout_share:
        source = source.where(literal_column(f"{drawn} >= {int(campaign.holdout_share)}"))
    if campaign.test_then_send:
        # Test then send: only the test share now; the rest waits for the winner (materialise_rest).
        share = campaign.test_then_send["share"]
        source = source.where(literal_column(in_test_sql(campaign_id, share, "r.id")))
    inserted = (
        insert(Message)
        .from_select(_MESSAGE_COLUMNS, source)
        .on_conflict_do_nothing()
        .returning(Message.variant_id)
    ).cte("created")
    # Per variant of an A/B campaign, whose funnel counts its messages (core/counts/variants.py).
    per_variant = session.execute(
        select(inserted.c.variant_id, func.count()).group_by(inserted.c.variant_id)
    ).all()
    created = sum(n for _, n in per_variant)
    session.execute(_PLAN_WAVES, {**params, "gap": WAVE_GAP})
    timed = per_customer_variants(campaign.send_time_mode, campaign.variants)
    if campaign.send_time_window_hours and timed != []:
        plan_send_times(session, shop_id, campaign_id, campaign.zone, campaign.send_time_window_hours, timed)
    session.execute(_MARK_STARTED, {**params, "created": created})
    variants = VariantChanges()
    for variant_id, n in per_variant:
        variants.add(shop_id, campaign_id, variant_id, messages=n)
    variants.apply(session)
    return created


_LOCK_TESTED = text(f"""
    SELECT {_PLAN_COLUMNS}, spread_over_limit
      FROM campaigns
     WHERE shop_id = :shop_id AND id = :campaign_id AND status = 'PENDING' AND test_then_send IS NOT NULL
       FOR UPDATE
""")

_MARK_REST = text("""
    UPDATE campaigns SET dispatch_finished_at = NULL, messages_count = messages_count + :created
     WHERE shop_id = :shop_id AND id = :campaign_id
""")


def materialise_rest(session: Session, shop_id: int, campaign_id: int, winner: int) -> int | None:
    """The rest of a test-then-send campaign's audience (core/experiments/test_then_send.py),
    as of now, sent the ``winner`` variant: one queued message per recipient the test did not
    message and the holdout does not keep, and dispatch open again. None when the campaign is not
    a PENDING test then send. The caller holds the campaign's lock and records that the rest
    went, in the same transaction: a second call would find everyone messaged and add none."""
    params = {"shop_id": shop_id, "campaign_id": campaign_id}
    campaign = session.execute(_LOCK_TESTED, params).one_or_none()
    if campaign is None:
        return None
    # The campaign itself is in the family: who its test messaged (or held out) is left out, as
    # a send again leaves out who its family messaged.
    family = [*_family_sent_by(session, shop_id, campaign), campaign_id]
    recipients = recipients_query(shop_id, campaign.audience, family, campaign.cap_hours).subquery("r")
    drawn = bucket_sql(str(int(campaign_id)), "r.id")
    if campaign.holdout_share:
        # Customers who joined the audience since the launch are held out by the same rule.
        _hold_out(session, params, recipients, literal_column(f"{drawn} < {int(campaign.holdout_share)}"))
    source = _message_rows(recipients, campaign_id, literal(int(winner))).where(
        literal_column(f"{drawn} >= {int(campaign.holdout_share)}")
    )
    inserted = (
        insert(Message).from_select(_MESSAGE_COLUMNS, source).on_conflict_do_nothing().returning(Message.id)
    )
    created = session.scalar(select(func.count()).select_from(inserted.cte("created")))
    if campaign.spread_over_limit:
        _plan_rest_waves(session, params, int(winner))
    timed = per_customer_variants(campaign.send_time_mode, campaign.variants)
    if campaign.send_time_window_hours and (timed is None or int(winner) in timed):
        # The winner goes at each customer's hour as it did in the test, within a window from now
        # (a test message of the winner still waiting for its hour keeps it: the plan only delays).
        zone, hours = campaign.zone, campaign.send_time_window_hours
        plan_send_times(session, shop_id, campaign_id, zone, hours, [int(winner)])
    session.execute(_MARK_REST, {**params, "created": created})
    variants = VariantChanges()
    variants.add(shop_id, campaign_id, int(winner), messages=created)
    variants.apply(session)
    return created


# The rest of a campaign spread over Meta's messaging limit: the room left now goes now, the
# others wave by wave (as _PLAN_WAVES, from now). The winner's test messages still waiting count
# first (lower ids), and keep their own later time (GREATEST ignores a null).
_PLAN_REST_WAVES = text("""
    WITH waves AS (
        SELECT r.id, CAST(:start AS timestamptz) + CAST(:gap AS interval) * (1 + (r.n - :first) / :size) AS at
          FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM messages
                 WHERE shop_id = :shop_id AND campaign_id = :campaign_id AND status = 'queued'
                   AND submitted_at IS NULL AND variant_id = :winner) AS r
         WHERE r.n >= :first
    )
    UPDATE messages m SET retry_at = GREATEST(m.retry_at, w.at)
      FROM waves w
     WHERE m.shop_id = :shop_id AND m.id = w.id
""")


def _plan_rest_waves(session: Session, params: dict, winner: int) -> None:
    shop = session.get(Shop, params["shop_id"])
    space = room(session, shop)
    if space is None:
        return
    waves = {"start": datetime.now(UTC), "gap": WAVE_GAP, "first": space.left, "size": space.limit}
    session.execute(_PLAN_REST_WAVES, {**params, **waves, "winner": winner})


_MORE_HELD_OUT = text("""
    UPDATE campaigns SET held_out_count = held_out_count + :held
     WHERE shop_id = :shop_id AND id = :campaign_id
""")


def _hold_out(session: Session, params: dict, recipients, kept) -> None:
    """Write the held-out customers among ``recipients`` not written yet, and count them."""
    held = select(recipients.c.shop_id, literal(params["campaign_id"]), recipients.c.id).where(kept)
    columns = ["shop_id", "campaign_id", "customer_id"]
    statement = insert(CampaignHoldout).from_select(columns, held).on_conflict_do_nothing()
    written = session.scalar(
        select(func.count()).select_from(statement.returning(CampaignHoldout.customer_id).cte("held"))
    )
    session.execute(_MORE_HELD_OUT, {**params, "held": written})


def _family_sent_by(session: Session, shop_id: int, campaign) -> list[int]:
    """For a send again, its family's campaigns, once their first one is locked; else none."""
    if campaign.follow_up_of is None:
        return []
    family = follow_up_family(session, shop_id, campaign.follow_up_of)
    session.execute(_LOCK_FAMILY, {"shop_id": shop_id, "first": family[0]})
    return family
