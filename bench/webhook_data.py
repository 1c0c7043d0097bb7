"""Data for the webhook benchmarks: a shop with a 1,000,000-message table, status bodies shaped
like Meta's, and ways to watch the counters."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

PHONE = "1000000001"
UNKNOWN_PHONE = "1999999999"  # bodies nobody serves: for the pure acknowledgement runs
SHOP_DOMAIN = "bench.myshopify.com"
MESSAGES = 1_000_000
CAMPAIGNS = 10
PRICING = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "marketing"}


def wamid(n: int) -> str:
    return f"wamid.HBgLMzQ2MTIzNDU2NzgVAgARGBI{n:014d}"


def build_table(engine: Engine, *, messages: int = MESSAGES, campaigns: int = CAMPAIGNS) -> None:
    """One shop, ten campaigns, a million messages Meta has accepted (status sent), or as many
    as asked."""
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO shops (domain, meta_phone_number_id, credits) VALUES (:domain, :phone, 0)"),
            {"domain": SHOP_DOMAIN, "phone": PHONE},
        )
        connection.execute(
            text(
                "INSERT INTO campaigns (shop_id, name, type, status, template_name, template_language,"
                " template_category) SELECT 1, 'Bench ' || g, 'PROMOTIONAL', 'PENDING', 'offer', 'en',"
                " 'MARKETING' FROM generate_series(1, :n) g"
            ),
            {"n": campaigns},
        )
        connection.execute(
            text(
                "INSERT INTO messages (shop_id, campaign_id, wamid, status, accepted_at, sent_at)"
                " SELECT 1, 1 + (g % :campaigns), :prefix || lpad(g::text, 14, '0'), 'sent',"
                " now() - interval '1 hour', now() - interval '1 hour'"
                " FROM generate_series(0, :n - 1) g"
            ),
            {"campaigns": campaigns, "n": messages, "prefix": wamid(0)[:-14]},
        )
        connection.execute(
            text(
                "UPDATE campaigns c SET messages_count = t.n, sent_count = t.n"
                " FROM (SELECT campaign_id, count(*) AS n FROM messages GROUP BY campaign_id) t"
                " WHERE c.id = t.campaign_id"
            )
        )
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def status_body(numbers: list[int], seconds: int, phone: str = PHONE, status: str = "delivered") -> bytes:
    """One POST as Meta sends it: each message's status in its own change (Meta's shape varies;
    this is the most verbose one), compact JSON with escaped unicode."""
    statuses = [
        {
            "id": wamid(n),
            "status": status,
            "timestamp": str(seconds),
            "recipient_id": "34612345678",
            "pricing": PRICING,
        }
        for n in numbers
    ]
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "5550001",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone},
                            "statuses": statuses,
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def bodies(numbers: list[int], per_body: int, phone: str = PHONE) -> Iterator[bytes]:
    """Bodies of ``per_body`` delivered statuses for the messages ``numbers``, in order."""
    seconds = int(time.time())
    for start in range(0, len(numbers), per_body):
        yield status_body(numbers[start : start + per_body], seconds, phone)


def store_bodies(engine: Engine, raw: list[bytes]) -> None:
    """Put bodies straight into the inbox, as the endpoint would (not timed)."""
    import hashlib

    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO inbox_events (source, digest, body) SELECT 'meta', d, b"
                " FROM unnest(CAST(:digests AS bytea[]), CAST(:bodies AS bytea[])) AS t(d, b)"
            ),
            {"digests": [hashlib.sha256(b).digest() for b in raw], "bodies": raw},
        )


def delivered(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT sum(delivered_count) FROM campaigns")).scalar() or 0


def waiting(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM inbox_events WHERE processed_at IS NULL")
        ).scalar()


def now() -> datetime:
    return datetime.now(UTC)
