"""A/B variants: the split, the read-out's statistics against simulated experiments whose truth
is known (false winners, power, no winner before the horizon), and a campaign of two variants
and a holdout through the API, dispatch and the Meta stand-in."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.experiments.readout import MIN_TRIALS, Arm, readout, winning_line
from core.experiments.split import bucket_sql, variant_of, variant_sql
from core.meta_webhooks.halt import HaltReason, halt_sending_campaigns
from core.models import Campaign, CampaignHoldout, Message
from tests.browser import serve
from tests.meta import drift as kept_drift
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

VARIANTS = [{"id": 1, "share": 30}, {"id": 2, "share": 30}, {"id": 3, "share": 30}]


def test_variants_take_their_shares_in_sql_as_in_python(make):
    customers = list(range(1, 3001))
    with Session(make.engine) as session:
        drawn = bucket_sql("42", "c")
        sql = text(
            f"SELECT c, CASE WHEN {drawn} < 10 THEN NULL ELSE {variant_sql(drawn, 10, VARIANTS)} END"
            " FROM unnest(CAST(:cs AS bigint[])) AS t(c)"
        )
        found = dict(session.execute(sql, {"cs": customers}).all())
    assert found == {c: variant_of(42, c, 10, VARIANTS) for c in customers}
    counts = {v: sum(1 for c in customers if found[c] == v) for v in (None, 1, 2, 3)}
    assert 300 - 90 < counts[None] < 300 + 90
    assert all(900 - 130 < counts[v] < 900 + 130 for v in (1, 2, 3))


def _rate_arm(rng: random.Random, number: int, trials: int, rate: float) -> Arm:
    return Arm(number, trials, sum(rng.random() < rate for _ in range(trials)))


def test_with_no_true_difference_a_winner_is_declared_in_about_five_percent_or_fewer():
    """300 simulated A/A tests of 2 and of 3 variants (every variant read at 40%): at the
    horizon, the share that names a winner stays near the 5% the method promises (binomial
    bounds for 300 draws at 5%: under 10%)."""
    rng = random.Random(11)
    for variants in (2, 3):
        winners = 0
        for seed in range(300):
            arms = [_rate_arm(rng, n, 600, 0.40) for n in range(1, variants + 1)]
            answer = readout(arms, "read_rate", at_horizon=True, seed=seed, draws=2000)
            winners += answer["winner"] is not None
        assert winners / 300 < 0.10, (variants, winners)


def test_a_real_difference_is_found_and_the_right_variant_named():
    """A variant read at 46% against 40%, 1,500 delivered each: found in most experiments, and
    never the wrong one."""
    rng = random.Random(12)
    right = wrong = 0
    for seed in range(200):
        arms = [_rate_arm(rng, 1, 1500, 0.40), _rate_arm(rng, 2, 1500, 0.46)]
        winner = readout(arms, "read_rate", at_horizon=True, seed=seed, draws=2000)["winner"]
        right += winner == 2
        wrong += winner == 1
    assert right / 200 > 0.85 and wrong == 0


def test_no_winner_before_the_horizon_or_with_too_little_data():
    clear = [Arm(1, 5000, 1000), Arm(2, 5000, 2500)]
    early = readout(clear, "read_rate", at_horizon=False, seed=1)
    assert (early["status"], early["winner"], early["provisional"]) == ("provisional", None, True)
    assert early["probabilities"][2] > 0.99
    done = readout(clear, "read_rate", at_horizon=True, seed=1)
    assert (done["status"], done["winner"], done["line"]) == ("winner", 2, round(winning_line(2), 4))
    small = readout([Arm(1, MIN_TRIALS - 1, 10), Arm(2, 5000, 2500)], "read_rate", at_horizon=True, seed=1)
    assert (small["status"], small["winner"]) == ("not_enough_data", None)


def test_amounts_per_recipient_compare_by_their_means():
    """Revenue per recipient: 2,000 recipients each, one variant's buyers spend more."""
    rng = random.Random(5)

    def arm(number: int, mean_order: float) -> Arm:
        values = [rng.expovariate(1 / mean_order) if rng.random() < 0.1 else 0.0 for _ in range(2000)]
        return Arm(number, 2000, sum(values), sum(v * v for v in values))

    answer = readout([arm(1, 40.0), arm(2, 80.0)], "revenue_per_recipient", at_horizon=True, seed=3)
    assert answer["winner"] == 2 and "normal posterior" in answer["method"]


def _variant(name: str, template: str, share: int, components: list | None = None) -> dict:
    return {
        "name": name,
        "template": {"name": template, "language": "en"},
        "components": components or [],
        "share": share,
    }


PERSONAL = [{"type": "body", "parameters": [{"field": "first_name", "fallback": "there"}, {"text": "AB15"}]}]


@pytest.mark.parametrize(
    ("variants", "holdout", "field", "words"),
    [
        (
            [_variant("A", "weekly_offer", 50), _variant("B", "personal_offer", 40, PERSONAL)],
            None,
            "variants",
            "add up to 90%",
        ),
        (
            [_variant("A", "weekly_offer", 50), _variant("a", "personal_offer", 50, PERSONAL)],
            None,
            "variants",
            "its own name",
        ),
        (
            [_variant("A", "weekly_offer", 50), _variant("B", "order_update", 50)],
            None,
            "variants",
            "one category",
        ),
        (
            [_variant("A", "weekly_offer", 50), _variant("B", "personal_offer", 50)],
            None,
            "variants[1].components.body",
            "",
        ),
        ([_variant("A", "weekly_offer", 100)], None, "variants", ""),
    ],
)
def test_variants_are_checked_before_a_draft_is_saved(client, make, meta, variants, holdout, field, words):
    whatsapp_shop(make)
    body = {"name": "AB", "variants": variants, **({"holdout": {"share": holdout}} if holdout else {})}
    answer = client.post("/api/campaigns", json=body, headers=bearer())
    assert answer.status_code == 422, answer.json
    assert any(e["field"].startswith(field) and words in e["message"] for e in answer.json["errors"]), (
        answer.json
    )


def test_an_experiment_needs_variants(client, make, meta):
    whatsapp_shop(make)
    body = {
        "name": "Lone",
        "template": {"name": "weekly_offer", "language": "en"},
        "experiment": {"metric": "read_rate"},
    }
    answer = client.post("/api/campaigns", json=body, headers=bearer())
    assert answer.status_code == 422 and answer.json["errors"][0]["field"] == "experiment"


def test_a_campaign_of_two_variants_and_a_holdout_sends_each_its_template(app, client, make, meta, run_jobs):
    shop = whatsapp_shop(make)
    people = [
        make.customer(shop, first_name=f"C{i}", phone=f"+3461990{i:04d}", phone_e164=f"+3461990{i:04d}")
        for i in range(300)
    ]
    created = client.post(
        "/api/campaigns",
        json={
            "name": "Which offer",
            "variants": [
                _variant("Plain", "weekly_offer", 45),
                _variant("Personal", "personal_offer", 45, PERSONAL),
            ],
            "holdout": {"share": 10},
            "experiment": {"metric": "click_rate"},
        },
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    assert created.json["variants"] == [
        {"id": 1, "name": "Plain", "share": 45},
        {"id": 2, "name": "Personal", "share": 45},
    ]
    assert created.json["experiment"] == {"metric": "click_rate"}
    assert created.json["template"]["name"] == "weekly_offer"
    with serve(app) as app_url:  # Meta posts its statuses to the app, signed
        # Statuses shuffled and duplicated as Meta posts them, their posting not stretched over
        # Meta's minutes (time_scale): the read-outs, not the delays, are what this test reads.
        meta.configure(
            webhook_url=f"{app_url}/webhooks/meta",
            delivery={"failed": 0.0},
            adversity={"post_delay_s": [0, 0.5], "time_scale": 1e5},
        )
        assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202
        run_jobs()
        meta.wait_until_posted()
        run_jobs()

    with Session(make.engine) as session:
        campaign = session.get(Campaign, (shop.id, campaign_id))
        messages = session.scalars(select(Message).where(Message.campaign_id == campaign_id)).all()
        held = set(
            session.scalars(
                select(CampaignHoldout.customer_id).where(CampaignHoldout.campaign_id == campaign_id)
            )
        )
    expected = {p.id: variant_of(campaign_id, p.id, 10, campaign.variants) for p in people}
    assert {m.customer_id: m.variant_id for m in messages} == {
        c: v for c, v in expected.items() if v is not None
    }
    assert held == {c for c, v in expected.items() if v is None}
    sent = meta.truth()["messages"]
    templates = {m.variant_id: set() for m in messages}
    for message in messages:
        templates[message.variant_id].add(sent[message.wamid]["template"]["name"])
    assert templates == {1: {"weekly_offer"}, 2: {"personal_offer"}}

    body = client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json
    variants = body["variants"]
    assert [v["id"] for v in variants] == [1, 2]
    assert sum(v["metrics"]["messages"] for v in variants) == body["metrics"]["messages"] == len(messages)
    assert sum(v["metrics"]["delivered"] for v in variants) == body["metrics"]["delivered"]
    for variant in variants:
        assert set(variant["rates"]) >= {
            "delivery_rate",
            "read_rate",
            "click_through_rate",
            "failure_rate",
            "click_rate",
        }
        assert variant["revenue"]["currency"] == shop.currency
    # Each variant's cost is priced as the campaign's: together they are the campaign's cost.
    assert body["cost"] is not None, (body["billed_messages"], body["unpriced_messages"], body["rate_card"])
    assert sum(Decimal(v["cost"]["amount"]) for v in variants) == Decimal(body["cost"]["amount"])
    assert {v["cost"]["currency"] for v in variants} == {body["cost"]["currency"]}
    experiment = body["experiment"]
    assert experiment["metric"] == "click_rate" and experiment["method"].startswith("Bayesian")
    assert experiment["status"] in ("not_enough_data", "provisional", "no_clear_winner", "winner")
    # The kept funnels (written at launch, by dispatch and by the drain) are the messages' own.
    for variant in variants:
        mine = [m for m in messages if m.variant_id == variant["id"]]
        assert variant["metrics"]["messages"] == len(mine) > 0
        assert variant["metrics"]["sent"] == sum(1 for m in mine if m.wamid is not None)
        assert variant["metrics"]["delivered"] == sum(1 for m in mine if m.delivered_at or m.read_at)
    assert kept_drift(make.engine, campaign) == []


def test_a_paused_template_of_any_variant_halts_the_campaign(make):
    shop = whatsapp_shop(make)
    variants = [
        {
            "id": 1,
            "name": "A",
            "share": 50,
            "template": {"name": "weekly_offer", "language": "en"},
            "components": [],
        },
        {
            "id": 2,
            "name": "B",
            "share": 50,
            "template": {"name": "personal_offer", "language": "en"},
            "components": [],
        },
    ]
    ab = make.campaign(
        shop, "AB", status="PENDING", template_name="weekly_offer", template_language="en", variants=variants
    )
    other = make.campaign(
        shop, "Other", status="PENDING", template_name="order_update", template_language="en"
    )
    with Session(make.engine) as session:
        halted = halt_sending_campaigns(
            session, shop.id, HaltReason("TEMPLATE_PAUSED"), ("personal_offer", "en")
        )
        session.commit()
    assert halted == [ab.id] and other.id not in halted
