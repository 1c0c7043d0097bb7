"""Write test data straight to the database, in a few readable lines per test."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.counts.recount import recount
from core.models import Campaign, Customer, Message, Shop
from core.rules.failure_codes import describe

_ids = itertools.count(1)


class Factories:
    def __init__(self, engine: Engine):
        self.engine = engine

    def _save(self, obj):
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            session.add(obj)
        return obj

    def shop(self, domain: str = "demo.myshopify.com", **fields) -> Shop:
        fields.setdefault("meta_phone_number_id", f"pn-{next(_ids)}")
        return self._save(Shop(domain=domain, **fields))

    def customer(self, shop: Shop, **fields) -> Customer:
        n = next(_ids)
        fields.setdefault("shopify_customer_id", 9_000_000 + n)
        fields.setdefault("first_name", f"Customer{n}")
        fields.setdefault("consent", "SUBSCRIBED")
        return self._save(Customer(shop_id=shop.id, **fields))

    def campaign(self, shop: Shop, name: str | None = None, **fields) -> Campaign:
        n = next(_ids)
        fields.setdefault("type", "PROMOTIONAL")
        fields.setdefault("status", "PENDING")
        fields.setdefault("template_name", "offer")
        fields.setdefault("template_language", "en")
        fields.setdefault("template_category", "MARKETING")
        fields.setdefault("created_at", datetime.now(UTC) - timedelta(minutes=n))
        return self._save(Campaign(shop_id=shop.id, name=name or f"Campaign {n}", **fields))

    def message(self, campaign: Campaign, customer: Customer | None = None, **fields) -> Message:
        if fields.get("error_code"):
            info = describe(fields["error_code"])
            fields.setdefault("error_category", str(info.category))
            fields.setdefault("error_title", info.title)
        return self._save(
            Message(
                shop_id=campaign.shop_id,
                campaign_id=campaign.id,
                customer_id=customer.id if customer else None,
                **fields,
            )
        )

    def recount(self, campaign: Campaign) -> None:
        with Session(self.engine) as session, session.begin():
            recount(session, campaign.shop_id, [campaign.id])
