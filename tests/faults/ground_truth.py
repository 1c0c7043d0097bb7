"""What every fault test ends with: the app's messages and metrics equal the Meta stand-in's
ground truth, and nobody was sent a message twice."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.counts.recount import recount
from core.models import InboxEvent, Message
from tests.tokens import bearer
from tests.waiting import wait_for

DEADLINE_S = 120
# A killed worker can leave at most its sends in flight unconfirmed (threads of its lanes).
THREADS_PER_KILL = 64


def recipients(make, shop, count: int) -> list[str]:
    """``count`` subscribed customers with good numbers; answers their numbers."""
    phones = [f"+3462{n:07d}" for n in range(count)]
    for n, phone in enumerate(phones):
        make.customer(shop, first_name=f"F{n}", phone=phone, phone_e164=phone)
    return phones


def fast_webhooks(meta, app_url: str, **changes) -> None:
    """Point the stand-in's webhooks at the app, posted quickly, duplicated and shuffled."""
    meta.configure(
        webhook_url=f"{app_url}/webhooks/meta",
        adversity={"duplicates": 0.2, "max_batch": 10, "post_delay_s": [0, 0.3], "time_scale": 1e5},
        **changes,
    )


def settled(make, shop_id: int, campaign_id: int, meta, *, killed: bool = False) -> bool:
    """Every message answered by Meta or failed before send, every webhook posted and applied.
    After a kill, a send whose request left but whose answer never came stays unconfirmed (it
    is never sent again blindly): only messages never handed to Meta count as waiting."""
    waiting_for = Message.submitted_at.is_(None) if killed else Message.wamid.is_(None)
    with Session(make.engine) as session:
        waiting = session.scalar(
            select(Message.id).where(
                Message.shop_id == shop_id,
                Message.campaign_id == campaign_id,
                Message.status == "queued",
                waiting_for,
            )
        )
        unprocessed = session.scalar(select(InboxEvent.id).where(InboxEvent.processed_at.is_(None)))
    return waiting is None and unprocessed is None and meta.stats()["pending_webhooks"] == 0


def run_until_settled(make, run_jobs, shop_id: int, campaign_id: int, meta, *, killed: bool = False) -> None:
    """Burst workers and the reconciler, round after round, until the campaign has settled in flight."""
    from jobs.reconcile import reconcile_campaigns

    def one_round() -> bool:
        run_jobs()
        if settled(make, shop_id, campaign_id, meta, killed=killed):
            return True
        reconcile_campaigns()
        return False

    wait_for(one_round, DEADLINE_S, "every send, webhook and stored webhook to be done", every_s=0.3)


def assert_ground_truth(
    client, make, shop, campaign_id: int, meta, phones: list[str], *, killed: bool = False
) -> None:
    """Per message and per metric, the app agrees with what the stand-in decided; each number
    was sent exactly once; the counters equal a GROUP BY of the messages. After a kill, a send
    cut off before Meta got it is the one allowed gap: never sent, and never sent twice."""
    truth = meta.truth()["messages"]
    sent_to = [fate["to"] for fate in truth.values()]
    assert len(sent_to) == len(set(sent_to)), "nobody was sent a message twice"
    with Session(make.engine) as session:
        messages = list(session.scalars(select(Message).where(Message.campaign_id == campaign_id)))
    cut_off = [m for m in messages if m.wamid is None and m.submitted_at is not None]
    assert sorted(sent_to) == sorted(set(phones) - {m.phone for m in cut_off})
    assert len(cut_off) <= (THREADS_PER_KILL if killed else 0)
    by_wamid = {m.wamid: m for m in messages if m.wamid}
    assert set(by_wamid) == set(truth)
    for wamid, fate in truth.items():
        message = by_wamid[wamid]
        assert (message.delivered_at is not None) == fate["delivered"], (wamid, fate)
        assert (message.read_at is not None) == fate["read"], (wamid, fate)
        assert (message.status == "failed") == (fate["failed"] and not fate["delivered"]), (wamid, fate)
    fates = list(truth.values())
    expected = {
        "messages": len(phones),
        "sent": len(fates),
        "delivered": sum(f["delivered"] for f in fates),
        "read": sum(f["read"] for f in fates),
        "failed": sum(bool(f["failed"]) and not f["delivered"] for f in fates),
        "clicked": 0,
    }
    metrics = client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json["metrics"]
    assert {name: metrics[name] for name in expected} == expected
    with Session(make.engine) as session, session.begin():
        assert recount(session, shop.id, [campaign_id]) == []
