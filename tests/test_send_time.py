"""Send time per customer: each customer is sent at the hour (in the shop's zone) they usually
read, within the window the merchant picks; customers without history at the shop's hour. The
composer's preview counts the same plan per hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Message
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

MADRID = ZoneInfo("Europe/Madrid")


def _read_at(days_ago: int, hour: int, weekday: int | None = None) -> datetime:
    """A read ``days_ago`` days back (moved to ``weekday``, Monday 0, when given) at ``hour`` in Madrid."""
    day = datetime.now(MADRID) - timedelta(days=days_ago)
    if weekday is not None:
        day -= timedelta(days=(day.weekday() - weekday) % 7)
    return day.replace(hour=hour, minute=15, second=0, microsecond=0).astimezone(UTC)


@pytest.fixture
def readers(make):
    """Ana reads in the evening (20:00, three times), Bo on Tuesday mornings (09:00, twice), Cy
    never got a message: the shop's hour is Ana's 20:00."""
    shop = whatsapp_shop(make, timezone="Europe/Madrid")
    ana, bo, cy = (
        make.customer(shop, first_name=name, phone=f"+3461777000{n}", phone_e164=f"+3461777000{n}")
        for n, name in enumerate(("Ana", "Bo", "Cy"))
    )
    reads = [(ana, _read_at(days, 20)) for days in (3, 10, 17)] + [
        (bo, _read_at(days, 9, weekday=1)) for days in (7, 14)
    ]
    for n, (person, at) in enumerate(reads):
        before = make.campaign(shop, f"Before {n}", status="SENT")  # one message per customer a campaign
        make.message(before, person, wamid=f"w.before.{n}", status="read", delivered_at=at, read_at=at)
    return shop, {"Ana": ana, "Bo": bo, "Cy": cy}


def test_each_customer_is_planned_at_the_hour_they_read(client, make, meta, run_jobs, readers):
    shop, people = readers
    created = client.post(
        "/api/campaigns",
        json={
            "name": "Evening",
            "template": {"name": "weekly_offer", "language": "en"},
            "send_time": {"mode": "per_customer", "window_hours": 24},
        },
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    assert created.json["send_time"] == {"mode": "per_customer", "window_hours": 24}
    launched_at = datetime.now(UTC)
    assert client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer()).status_code == 202
    run_jobs()
    with Session(make.engine) as session:
        messages = {
            m.customer_id: m
            for m in session.scalars(select(Message).where(Message.campaign_id == created.json["id"]))
        }
    planned = {name: messages[person.id].retry_at for name, person in people.items()}
    assert all(at is not None for at in planned.values()), planned
    # Each lands on its hour, within the window from the launch hour.
    assert {name: at.astimezone(MADRID).hour for name, at in planned.items()} == {
        "Ana": 20,
        "Bo": 9,
        "Cy": 20,
    }
    start = launched_at.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    assert all(start <= at < start + timedelta(hours=26) for at in planned.values()), planned
    # Not yet due: still queued, never sent early.
    due_later = [name for name, at in planned.items() if at > datetime.now(UTC)]
    assert all(messages[people[name].id].wamid is None for name in due_later)


def test_the_preview_counts_the_audience_per_hour(client, make, meta, readers):
    answer = client.post(
        "/api/audience/send-times", json={"audience": {}, "window_hours": 24}, headers=bearer()
    )
    assert answer.status_code == 200, answer.json
    hours = {
        datetime.fromisoformat(h["at"]).astimezone(MADRID).hour: h["recipients"] for h in answer.json["hours"]
    }
    assert hours == {20: 2, 9: 1}
    assert answer.json["zone"] == "Europe/Madrid" and answer.json["window_hours"] == 24


def test_a_short_window_sends_at_its_nearest_end(client, make, meta, readers):
    """A one-hour window holds nobody's hour unless it is now: everyone goes in it."""
    answer = client.post(
        "/api/audience/send-times", json={"audience": {}, "window_hours": 1}, headers=bearer()
    )
    assert [h["recipients"] for h in answer.json["hours"]] == [3]


def test_a_window_past_a_week_is_refused_in_words(client, make, meta):
    whatsapp_shop(make)
    answer = client.post(
        "/api/campaigns",
        json={
            "name": "Late",
            "template": {"name": "weekly_offer", "language": "en"},
            "send_time": {"mode": "per_customer", "window_hours": 200},
        },
        headers=bearer(),
    )
    assert answer.status_code == 422
    assert answer.json["errors"] == [
        {"field": "send_time.window_hours", "message": "The window is at most 168 hours."}
    ]
