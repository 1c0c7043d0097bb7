"""The seed loader: the contract's document loads, idempotently, and bad documents write nothing."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.crypto import decrypt_token
from core.models import Campaign, Customer, Message, Shop

CONTRACT_DOCUMENT = {
    "shops": [
        {
            "domain": "demo.myshopify.com",
            "credits": 1000,
            "meta_phone_number_id": "1234567890",
            "meta_waba_id": "5550001",
            "meta_access_token": "EAAG-secret",
            "customers": [
                {
                    "shopify_id": 101,
                    "first_name": "Ana",
                    "last_name": "Lopez",
                    "phone": "+34612345678",
                    "country_code": "ES",
                    "consent": "SUBSCRIBED",
                    "tags": ["vip"],
                }
            ],
            "campaigns": [
                {
                    "name": "Spring sale",
                    "type": "PROMOTIONAL",
                    "status": "PENDING",
                    "estimated_audience": 1,
                    "template": {"name": "spring_sale", "language": "en", "category": "MARKETING"},
                    "dispatch_finished": True,
                    "messages": [
                        {"customer": 101, "wamid": "wamid.ABC", "status": "accepted", "error_code": None}
                    ],
                }
            ],
        }
    ]
}
DEMO = Path(__file__).resolve().parent.parent / "sim" / "demo_seed.json"


def _write(tmp_path, document) -> str:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document))
    return str(path)


def _count(make, model) -> int:
    with Session(make.engine) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.smoke
def test_the_contract_document_loads_and_reloading_changes_nothing(runner, make, tmp_path):
    """`flask seed FILE` loads the contract's example; a second run creates nothing more."""
    path = _write(tmp_path, CONTRACT_DOCUMENT)
    first = runner.invoke(args=["seed", path])
    assert first.exit_code == 0, first.output
    assert "created 1 shops, 1 customers, 1 campaigns, 1 messages" in first.output
    second = runner.invoke(args=["seed", path])
    assert "created 0 shops, 0 customers, 0 campaigns, 0 messages" in second.output
    with Session(make.engine) as session:
        shop = session.scalar(select(Shop))
        message = session.scalar(select(Message))
        campaign = session.scalar(select(Campaign))
    assert shop.meta_access_token_ciphertext and b"EAAG-secret" not in shop.meta_access_token_ciphertext
    assert decrypt_token(shop.meta_access_token_ciphertext) == "EAAG-secret"
    assert (message.wamid, message.status, message.sent_at) == ("wamid.ABC", "accepted", None)
    assert (campaign.messages_count, campaign.sent_count, campaign.delivered_count) == (1, 1, 0)


def test_reseeding_never_overwrites_what_the_app_changed(runner, make, tmp_path):
    """Re-running the seed after a webhook moved a message leaves the message where it is."""
    path = _write(tmp_path, CONTRACT_DOCUMENT)
    runner.invoke(args=["seed", path])
    with Session(make.engine) as session, session.begin():
        session.execute(Message.__table__.update().values(status="read"))
    runner.invoke(args=["seed", path])
    with Session(make.engine) as session:
        assert session.scalar(select(Message.status)) == "read"


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["shops"][0].update(domain="not a shop"), "shops[0].domain"),
        (lambda d: d["shops"][0]["customers"][0].update(consent="MAYBE"), "shops[0].customers[0].consent"),
        (lambda d: d["shops"][0]["campaigns"][0].update(type="SPAM"), "shops[0].campaigns[0].type"),
        (
            lambda d: d["shops"][0]["campaigns"][0]["messages"][0].update(customer=999),
            "shops[0].campaigns[0].messages[0].customer",
        ),
        (
            lambda d: d["shops"][0]["campaigns"][0]["messages"][0].update(status="failed"),
            "shops[0].campaigns[0].messages[0]",
        ),
        (lambda d: d["shops"][0].update(surprise=True), "shops[0].surprise"),
        (
            lambda d: d["shops"][0]["campaigns"][0].update(components=[{"type": "body", "parameters": [{}]}]),
            "components.body.parameters[0]",
        ),
        (lambda d: d.pop("shops"), "shops"),
    ],
)
def test_a_malformed_document_names_the_field_and_writes_nothing(runner, make, tmp_path, mutate, expected):
    """Each bad field is named by its path, and not one row is written."""
    document = copy.deepcopy(CONTRACT_DOCUMENT)
    mutate(document)
    result = runner.invoke(args=["seed", _write(tmp_path, document)])
    assert result.exit_code != 0
    assert expected in result.output
    assert _count(make, Shop) == 0 and _count(make, Customer) == 0


def test_a_file_that_is_not_json_is_refused_clearly(runner, make, tmp_path):
    """Not JSON at all: a one-line error, nothing written."""
    path = tmp_path / "seed.json"
    path.write_text("{not json")
    result = runner.invoke(args=["seed", str(path)])
    assert result.exit_code != 0 and "is not JSON" in result.output
    assert _count(make, Shop) == 0


def test_the_demo_document_covers_every_type_status_and_failure_category(runner, make):
    """The demo shop `make run` loads shows every campaign type and status and every failure
    category, with missing-calling-code customers whose country is known."""
    result = runner.invoke(args=["seed", str(DEMO)])
    assert result.exit_code == 0, result.output
    with Session(make.engine) as session:
        kinds = set(session.scalars(select(Campaign.type)))
        statuses = set(session.scalars(select(Campaign.status)))
        categories = set(
            session.scalars(select(Message.error_category).where(Message.error_category.isnot(None)))
        )
        missing_code_countries = session.scalars(
            select(Customer.country_code)
            .join(Message, Message.customer_id == Customer.id)
            .where(Message.error_code == "CUSTOMER_IS_MISSING_CALLING_CODE")
        ).all()
        customers = session.scalar(select(func.count()).select_from(Customer))
    assert kinds == {"PROMOTIONAL", "INFORMATIONAL", "CATALOG"}
    assert statuses == {"DRAFT", "SCHEDULED", "PENDING", "SENT", "PARTIALLY_SENT", "FAILED", "CANCELLED"}
    assert categories == {
        "consent",
        "credit",
        "data_quality",
        "delivery",
        "rate_limit",
        "template",
        "account",
        "unknown",
    }
    assert missing_code_countries and all(missing_code_countries)
    assert 200 <= customers <= 1000


def test_the_demo_schedules_at_ten_in_the_shops_zone_and_has_a_tracked_link(runner, make):
    """The demo's scheduled campaign says when it sends (10:00 in the shop's zone, a week after
    loading), and one draft sends a tracked link with the stand-in's tracked_offer template."""
    result = runner.invoke(args=["seed", str(DEMO)])
    assert result.exit_code == 0, result.output
    with Session(make.engine) as session:
        scheduled = session.scalar(select(Campaign).where(Campaign.name == "New year greetings"))
        tracked = session.scalar(select(Campaign).where(Campaign.name == "Spring edit (tracked link)"))
        zone = ZoneInfo(session.scalar(select(Shop.timezone).where(Shop.id == scheduled.shop_id)))
    local = scheduled.scheduled_at.astimezone(zone)
    assert (local.hour, local.minute) == (10, 0) and local > datetime.now(UTC) + timedelta(days=6)
    assert tracked.template_name == "tracked_offer"
    assert tracked.template_components[1]["parameters"][0]["track"].startswith("https://")


def test_seeded_counters_equal_the_metric_definitions(runner, make):
    """Counters after seeding equal DESIGN.md's definitions computed from the messages."""
    runner.invoke(args=["seed", str(DEMO)])
    with Session(make.engine) as session:
        for campaign in session.scalars(select(Campaign)):
            rows = session.scalars(select(Message).where(Message.campaign_id == campaign.id)).all()
            assert campaign.messages_count == len(rows)
            assert campaign.sent_count == sum(1 for m in rows if m.wamid)
            assert campaign.delivered_count == sum(1 for m in rows if m.delivered_at or m.read_at)
            assert campaign.read_count == sum(1 for m in rows if m.read_at)
            assert campaign.failed_count == sum(1 for m in rows if m.status in ("failed", "expired"))


def _large_document(size: int) -> dict:
    document = copy.deepcopy(CONTRACT_DOCUMENT)
    shop = document["shops"][0]
    shop["customers"] = [
        {"shopify_id": n, "first_name": f"C{n}", "phone": f"+3461{n:07d}", "consent": "SUBSCRIBED"}
        for n in range(1, size + 1)
    ]
    shop["campaigns"][0]["messages"] = [
        {"customer": n, "wamid": f"wamid.big.{n}", "status": "read" if n % 2 else "delivered"}
        for n in range(1, size + 1)
    ]
    return document


def test_a_document_larger_than_one_statement_can_bind_loads_idempotently(runner, make, tmp_path):
    """8,000 customers and messages (more cells than PostgreSQL binds in one statement) load,
    in document order, with exact counters, and a second run creates nothing."""
    path = _write(tmp_path, _large_document(8000))
    first = runner.invoke(args=["seed", path])
    assert first.exit_code == 0, first.output
    assert "created 1 shops, 8000 customers, 1 campaigns, 8000 messages" in first.output
    second = runner.invoke(args=["seed", path])
    assert "created 0 shops, 0 customers, 0 campaigns, 0 messages" in second.output
    with Session(make.engine) as session:
        campaign = session.scalar(select(Campaign))
        first_ids = session.execute(
            select(Message.wamid, Customer.shopify_customer_id, Message.phone)
            .join(Customer, Customer.id == Message.customer_id)
            .order_by(Message.id)
            .limit(2)
        ).all()
    assert (campaign.messages_count, campaign.delivered_count, campaign.read_count) == (8000, 8000, 4000)
    assert first_ids == [("wamid.big.1", 1, "+34610000001"), ("wamid.big.2", 2, "+34610000002")]


def test_a_draft_in_the_document_carries_its_components(runner, make, tmp_path):
    """A seeded draft keeps its header, body and button components in Meta's shape."""
    document = copy.deepcopy(CONTRACT_DOCUMENT)
    components = [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/a.jpg"}}],
        },
        {"type": "body", "parameters": [{"field": "first_name", "fallback": "there"}, {"text": "SPRING10"}]},
        {"type": "button", "sub_type": "url", "index": 0, "parameters": [{"type": "text", "text": "spring"}]},
    ]
    draft = {
        "name": "Lookbook",
        "type": "PROMOTIONAL",
        "status": "DRAFT",
        "template": {"name": "spring_lookbook", "language": "en", "category": "MARKETING"},
        "components": components,
    }
    document["shops"][0]["campaigns"].append(draft)
    result = runner.invoke(args=["seed", _write(tmp_path, document)])
    assert result.exit_code == 0, result.output
    with Session(make.engine) as session:
        stored = session.scalar(select(Campaign).where(Campaign.name == "Lookbook")).template_components
    assert [c["type"] for c in stored] == ["header", "body", "button"]
    assert stored[1]["parameters"][0] == {"type": "text", "field": "first_name", "fallback": "there"}
    assert stored[2]["index"] == "0"
