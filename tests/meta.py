"""Meta webhook bodies as Meta builds them, signed as Meta signs them, and a drain to apply them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.meta_webhooks.signature import HEADER, sign
from core.models import Campaign, Message
from core.settings import get_settings

URL = "/webhooks/meta"


def ts(when: datetime | int) -> str:
    """Meta's timestamp: Unix seconds as a string."""
    return str(int(when.timestamp()) if isinstance(when, datetime) else when)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def status(wamid: str, name: str, seconds: int, **fields) -> dict:
    item = {"id": wamid, "status": name, "timestamp": ts(seconds), "recipient_id": "34600000000"}
    item.update(fields)
    return item


def failed(wamid: str, seconds: int, code: int, title: str = "Failure", details: str = "", **fields) -> dict:
    error = {"code": code, "title": title, "message": title, "error_data": {"details": details}}
    error["href"] = fields.pop("href", "/documentation/business-messaging/whatsapp/support/error-codes")
    return status(wamid, "failed", seconds, errors=[error], **fields)


def change(phone_number_id: str, **value) -> dict:
    return {
        "field": value.pop("field", "messages"),
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
            **value,
        },
    }


def envelope(*entries: Iterable[dict]) -> dict:
    """A body of several entries, each a list of changes."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "5550001", "changes": list(changes)} for changes in entries],
    }


def statuses_body(phone_number_id: str, *statuses: dict) -> dict:
    return envelope([change(phone_number_id, statuses=list(statuses))])


def encode(body: dict | bytes) -> bytes:
    if isinstance(body, bytes):
        return body
    # Meta's own serialisation escapes non-ASCII characters.
    return json.dumps(body, ensure_ascii=True).encode()


def post(client, body: dict | bytes, *, signature: str | None = None, secret: str | None = None):
    raw = encode(body)
    header = signature if signature is not None else sign(secret or get_settings().meta_app_secret, raw)
    return client.post(URL, data=raw, headers={HEADER: header, "Content-Type": "application/json"})


def drain() -> dict:
    """Run the drain job's function in this process (the job itself, minus RQ's fork, and
    without watching the empty inbox afterwards).

    The pending flag's deadline is set back to 0 first (when the flag is there): each POST
    moved it PROMISE_S ahead, a promise to web processes that skip Redis for a while that the
    drain looks again after it (jobs/drain_flag.py). Here every body was committed before
    the POST returned, in this process, and no web process is left to keep it for, so the
    drain need not sleep out the rest of it (0.27 s a call; most of a property test's time).
    tests/test_meta_webhook_endpoint.py tests the promise itself, through drain_meta_inbox."""
    from core.redis import get_redis
    from jobs.drain_flag import DRAIN_PENDING_KEY
    from jobs.webhooks import drain_meta_inbox

    get_redis().set(DRAIN_PENDING_KEY, 0, xx=True, keepttl=True)
    return drain_meta_inbox(linger_s=0)


def message(engine, shop_id: int, wamid: str) -> Message:
    with Session(engine) as session:
        return session.query(Message).filter_by(shop_id=shop_id, wamid=wamid).one()


def counters(engine, campaign: Campaign) -> dict[str, int]:
    with Session(engine) as session:
        c = session.get(Campaign, (campaign.shop_id, campaign.id))
        return {
            "messages": c.messages_count,
            "sent": c.sent_count,
            "delivered": c.delivered_count,
            "read": c.read_count,
            "failed": c.failed_count,
            "clicked": c.clicked_count,
        }


def inbox_rows(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT id, outcome, processed_at, attempts, last_error FROM inbox_events ORDER BY id")
        ).all()


def drift(engine, campaign: Campaign) -> list[dict]:
    """How the campaign's counters differ from the GROUP BY of its messages (empty: exact)."""
    from core.counts.recount import recount

    with Session(engine) as session:
        drifts = recount(session, campaign.shop_id, [campaign.id])
        session.rollback()
    return drifts
