"""A campaign's holdout: a reproducible random share of the audience kept unsent, listed for the
merchant, left out of a send again, and the baseline of the incremental revenue the campaign
page reports with its interval (core/experiments/). The statistics are checked against
simulated campaigns whose true effect is known."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.campaigns.audience import recipients_query
from core.experiments.split import bucket, bucket_sql, held_out
from core.experiments.stats import MIN_GROUP, Group, incremental
from core.models import CampaignHoldout, Customer, Message
from jobs.shopify import drain_shopify_inbox
from tests import shopify_webhooks
from tests.meta_stand_in import whatsapp_shop
from tests.orders import order_body
from tests.tokens import bearer


@pytest.mark.citus  # also on the Citus cluster (make citus-test)
def test_the_split_is_the_same_in_sql_and_python_and_near_its_share(make):
    pairs = [(campaign, customer) for campaign in (7, 1234, 98765) for customer in range(1, 2001)]
    with Session(make.engine) as session:
        sql = text(
            "SELECT k, c, "
            + bucket_sql("k", "c")
            + " FROM unnest(CAST(:ks AS bigint[]), CAST(:cs AS bigint[])) AS t(k, c)"
        )
        rows = session.execute(sql, {"ks": [p[0] for p in pairs], "cs": [p[1] for p in pairs]}).all()
    assert {(k, c): b for k, c, b in rows} == {(k, c): bucket(k, c) for k, c in pairs}
    # 6,000 draws at 10%: the binomial's standard deviation is 23; 5 of them either side.
    held = sum(held_out(k, c, 10) for k, c in pairs)
    assert 600 - 115 < held < 600 + 115
    # The campaign is in the seed: the same customers are not held out of every campaign.
    first = {c for c in range(1, 2001) if held_out(7, c, 10)}
    second = {c for c in range(1, 2001) if held_out(1234, c, 10)}
    assert len(first & second) < len(first) / 3


def _simulated(rng: random.Random, n: int, p_order: float, mean_value: float) -> Group:
    total = squares = 0.0
    for _ in range(n):
        value = rng.expovariate(1 / mean_value) if rng.random() < p_order else 0.0
        total, squares = total + value, squares + value * value
    return Group(n, total, squares)


@pytest.mark.citus  # also on the Citus cluster (make citus-test)
def test_the_interval_covers_the_true_effect_about_as_often_as_it_says():
    """400 simulated campaigns with a known effect (8% of treated customers order against 5%
    held out, orders of 60 on average, so 1.80 per treated customer): a 95% interval must
    cover the truth in about 95% of them (binomial bounds for 400 draws), and the estimate must
    be unbiased."""
    rng = random.Random(20261207)
    treated_n, held_n = 4000, 1000
    truth = (0.08 - 0.05) * 60 * treated_n
    covered, estimates = 0, []
    for _ in range(400):
        effect = incremental(_simulated(rng, treated_n, 0.08, 60), _simulated(rng, held_n, 0.05, 60))
        covered += effect.low <= truth <= effect.high
        estimates.append(effect.amount)
    assert 0.92 <= covered / 400 <= 0.98
    mean_estimate = sum(estimates) / len(estimates)
    assert abs(mean_estimate - truth) < 0.1 * truth


@pytest.mark.citus  # also on the Citus cluster (make citus-test)
def test_with_no_effect_the_interval_holds_zero_as_often_as_it_says():
    rng = random.Random(7)
    covered = 0
    for _ in range(400):
        effect = incremental(_simulated(rng, 2000, 0.05, 40), _simulated(rng, 500, 0.05, 40))
        covered += effect.low <= 0 <= effect.high
    assert 0.92 <= covered / 400 <= 0.98


@pytest.mark.citus  # also on the Citus cluster (make citus-test)
def test_small_groups_give_no_interval():
    assert incremental(Group(MIN_GROUP - 1, 10.0, 100.0), Group(500, 10.0, 100.0)) is None
    assert incremental(Group(500, 10.0, 100.0), Group(MIN_GROUP - 1, 10.0, 100.0)) is None
    assert incremental(Group(MIN_GROUP, 0.0, 0.0), Group(MIN_GROUP, 0.0, 0.0)) is not None


def _order(client, order_id: int, customer: Customer, total: str, at: datetime, **fields) -> None:
    body = order_body(order_id, customer.shopify_customer_id, total, at) | fields
    assert shopify_webhooks.post(client, "orders/create", body).status_code == 200


@pytest.mark.citus  # also on the Citus cluster (make citus-test)
def test_a_campaign_with_a_holdout_sends_to_the_rest_and_reports_what_it_earned_beyond_it(
    client, make, meta, run_jobs
):
    shop = whatsapp_shop(make, currency="EUR")
    people = [
        make.customer(
            shop, shopify_customer_id=70_000 + i, phone=f"+3461880{i:04d}", phone_e164=f"+3461880{i:04d}"
        )
        for i in range(240)
    ]
    refused = client.post(
        "/api/campaigns",
        json={
            "name": "Too much",
            "template": {"name": "weekly_offer", "language": "en"},
            "holdout": {"share": 60},
        },
        headers=bearer(),
    )
    assert refused.status_code == 422
    assert refused.json["errors"] == [
        {"field": "holdout.share", "message": "Hold out at most 50% of the audience."}
    ]

    created = client.post(
        "/api/campaigns",
        json={
            "name": "Held",
            "template": {"name": "weekly_offer", "language": "en"},
            "holdout": {"share": 25},
        },
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    assert created.json["holdout"] == {"share": 25}
    assert client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json["holdout"]["customers"] is None
    # Before launch, the confirmation counts exactly who will be held out (the split is known).
    summary = client.get(f"/api/campaigns/{campaign_id}/launch-summary", headers=bearer()).json
    will_hold = sum(held_out(campaign_id, p.id, 25) for p in people)
    assert (summary["recipients"], summary["held_out"]) == (240 - will_hold, will_hold)
    assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202
    run_jobs()

    with Session(make.engine) as session:
        held = set(
            session.scalars(
                select(CampaignHoldout.customer_id).where(CampaignHoldout.campaign_id == campaign_id)
            )
        )
        sent = set(session.scalars(select(Message.customer_id).where(Message.campaign_id == campaign_id)))
    assert held == {p.id for p in people if held_out(campaign_id, p.id, 25)}
    assert sent == {p.id for p in people} - held
    assert 30 <= len(held) <= 90  # 25% of 240, give or take

    # Orders inside the window: every third treated customer spends 50, every fifth held-out one
    # 50 too; a test order and an order from before the campaign count for nobody.
    now = datetime.now(UTC) + timedelta(minutes=1)
    treated = [p for p in people if p.id in sent]
    kept = [p for p in people if p.id in held]
    buyers = treated[::3] + kept[::5]
    for n, person in enumerate(buyers):
        _order(client, 80_000 + n, person, "50.00", now)
    _order(client, 89_000, kept[1], "900.00", now, test=True)
    _order(client, 89_001, kept[2], "900.00", now - timedelta(days=3))
    drain_shopify_inbox()

    body = client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json
    holdout = body["holdout"]
    treated_revenue = Decimal(50) * len(treated[::3])
    held_revenue = Decimal(50) * len(kept[::5])
    assert (holdout["share"], holdout["customers"], holdout["orders"]) == (25, len(kept), len(kept[::5]))
    assert holdout["revenue"] == {"amount": f"{held_revenue:.2f}", "currency": "EUR"}
    assert holdout["treated"]["customers"] == len(treated)
    assert holdout["treated"]["revenue"]["amount"] == f"{treated_revenue:.2f}"
    expected = (treated_revenue / len(treated) - held_revenue / len(kept)) * len(treated)
    gain = holdout["incremental_revenue"]
    assert gain["currency"] == "EUR"
    assert Decimal(gain["amount"]) == expected.quantize(Decimal("0.01"))
    assert Decimal(gain["low"]) < Decimal(gain["amount"]) < Decimal(gain["high"])
    assert holdout["window"]["open"] is True and "Welch" in holdout["method"]
    assert holdout["meta_experiment"] == {"code": "130472", "customers": 0}
    gap = body["audience_gap"]
    assert (gap["held_out"], gap["not_created"]) == (len(kept), 0)

    # The held-out customers, a page at a time and as a spreadsheet.
    listed, cursor = [], None
    while True:
        page = client.get(
            f"/api/campaigns/{campaign_id}/holdout",
            query_string={"limit": 20, "cursor": cursor or ""},
            headers=bearer(),
        ).json
        listed += page["customers"]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(c["shopify_id"] for c in listed) == sorted(p.shopify_customer_id for p in kept)
    assert listed[0]["admin_url"] == f"shopify://admin/customers/{listed[0]['shopify_id']}"
    export = client.get(f"/api/campaigns/{campaign_id}/holdout.csv", headers=bearer())
    assert export.headers["Content-Disposition"] == 'attachment; filename="held-holdout.csv"'
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert {int(r["shopify_customer_id"]) for r in rows} == {p.shopify_customer_id for p in kept}
    assert all(r["phone"].startswith("+34618") for r in rows)

    # A send again of the campaign never messages its baseline, even when named.
    with Session(make.engine) as session:
        rule = {"customer_ids": [p.id for p in kept[:5]] + [treated[0].id]}
        again = session.scalars(recipients_query(shop.id, rule, sent_by=[campaign_id])).all()
    assert again == []


@pytest.mark.citus  # also on the Citus cluster (make citus-test)
def test_another_shop_cannot_read_the_holdout(client, make, meta, run_jobs):
    other = make.shop("other.myshopify.com")
    theirs = make.campaign(other, "Theirs", holdout_share=10)
    whatsapp_shop(make)
    assert client.get(f"/api/campaigns/{theirs.id}/holdout", headers=bearer()).status_code == 404
    assert client.get(f"/api/campaigns/{theirs.id}/holdout.csv", headers=bearer()).status_code == 404
