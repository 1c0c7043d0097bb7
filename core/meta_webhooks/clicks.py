"""Quick-reply clicks: a customer answering one of our campaign messages with a button.

A click is keyed by the reply's own wamid (``clicks.source_id``, unique per shop), so a
redelivered reply counts once. The campaign's ``clicked_count`` counts messages with at least
one click: it moves only when a message gets its first click, and the message row is locked
(locked_messages.py) before its clicks are read, so two drains cannot both count the same first click.

A tap on a marketing opt-out button ("Stop promotions", by its text or payload;
core/rules/opt_out.py) is not a click: it is the customer's stop, applied to every customer
of the shop with that number and written back to Shopify, as a ``user_preferences`` stop
(preferences.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.meta_webhooks.counter_changes import CounterChanges
from core.meta_webhooks.locked_messages import LockedMessage, LockedMessages
from core.meta_webhooks.parse import ReplyClick
from core.meta_webhooks.preferences import unsubscribe_recipients
from core.rules.opt_out import is_opt_out

QUICK_REPLY = "quick_reply"

_ALREADY_CLICKED = text(
    """
    SELECT DISTINCT k.shop_id, k.message_id
      FROM clicks k
      JOIN unnest(CAST(:shop_ids AS bigint[]), CAST(:message_ids AS bigint[])) AS w(shop_id, message_id)
        ON k.shop_id = w.shop_id AND k.message_id = w.message_id
     WHERE k.shop_id = :shop_id
    """
)

_INSERT = text(
    """
    INSERT INTO clicks (shop_id, message_id, kind, source_id, clicked_at)
    SELECT shop_id, message_id, :kind, source_id, clicked_at
      FROM unnest(CAST(:shop_ids AS bigint[]), CAST(:message_ids AS bigint[]),
                  CAST(:source_ids AS text[]), CAST(:clicked_at AS timestamptz[]))
           AS c(shop_id, message_id, source_id, clicked_at)
        ON CONFLICT (shop_id, source_id) DO NOTHING
    RETURNING shop_id, message_id
    """
)


def record_clicks(
    session: Session,
    shop_id: int,
    clicks: list[tuple[int, ReplyClick]],
    locked: LockedMessages,
    changes: CounterChanges,
) -> int:
    """Store the clicks (all of ``shop_id``) on our messages (others are ignored); return how
    many were new. Opt-out taps on our messages unsubscribe their customers instead of counting."""
    found: dict[tuple[int, str], tuple[LockedMessage, ReplyClick]] = {}
    stops: dict[str, datetime] = {}
    for _shop_id, click in clicks:
        message = locked.for_wamid(shop_id, click.context_wamid)
        if message is None:
            continue
        if is_opt_out(click.text, click.payload):
            wamid = click.context_wamid
            stops[wamid] = max(stops.get(wamid, click.at), click.at)
        else:
            found.setdefault((shop_id, click.reply_id), (message, click))
    # Customers after messages, before campaigns: the drain's lock order (apply.py).
    unsubscribe_recipients(session, shop_id, stops)
    if not found:
        return 0
    messages = {(m.shop_id, m.id): m for m, _ in found.values()}
    keys = list(messages)
    clicked_before = set(
        map(tuple, session.execute(_ALREADY_CLICKED, {"shop_id": shop_id, **_pairs(keys)}).all())
    )
    inserted = session.execute(
        _INSERT,
        {
            "kind": QUICK_REPLY,
            **_pairs([(m.shop_id, m.id) for m, _ in found.values()]),
            "source_ids": [reply_id for _, reply_id in found],
            "clicked_at": [click.at for _, click in found.values()],
        },
    ).all()
    first_clicks = {(row.shop_id, row.message_id) for row in inserted} - clicked_before
    for key in first_clicks:
        changes.message_clicked(key[0], messages[key].campaign_id, messages[key].variant_id)
    return len(inserted)


def _pairs(keys: list[tuple[int, int]]) -> dict[str, list[int]]:
    return {"shop_ids": [k[0] for k in keys], "message_ids": [k[1] for k in keys]}
