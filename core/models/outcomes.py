"""What a campaign led to and what it cost: attributed orders, the credit ledger and the bulk
phone fixes of the fix loop."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Identity, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at_column


class Order(Base):
    """A Shopify order as its latest webhook (or the install-time import) described it. Which
    campaign it counts for is not stored: it follows from the messages' touch times at read
    time (core/outcomes/attribution.py), so it is the same whatever order the webhooks arrived in."""

    __tablename__ = "orders"
    __table_args__ = (Index(None, "shop_id", "shopify_customer_id", "ordered_at"),)

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    shopify_order_id: Mapped[int] = mapped_column(primary_key=True)
    shopify_customer_id: Mapped[int | None]
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # The same total in the currency the customer paid in (Shopify's presentment money), for
    # display only: revenue is always counted in the shop's money above. None: not told.
    presentment_total: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    presentment_currency: Mapped[str | None] = mapped_column(String(3))
    ordered_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    # What revenue counts follows from these (core/rules/order_states.py). Every Shopify writer
    # names both; the defaults are what the app assumed of orders stored before it kept them.
    test: Mapped[bool] = mapped_column(server_default=text("false"))
    financial_status: Mapped[str] = mapped_column(String(32), server_default="paid")
    shopify_updated_at: Mapped[datetime | None]  # to drop stale webhooks


class OrderRefund(Base):
    """Money given back on an order, by Shopify's refund id: ``refunds/create`` and the
    ``refunds`` list of ``orders/updated`` describe the same refund and store it once. The
    amount is in the shop's currency, as the order's total is."""

    __tablename__ = "order_refunds"
    __table_args__ = (Index(None, "shop_id", "shopify_order_id"),)

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    shopify_refund_id: Mapped[int] = mapped_column(primary_key=True)
    shopify_order_id: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    refunded_at: Mapped[datetime]


class CreditMovement(Base):
    """One change of a shop's credit balance. The balance (``shops.credits``) always equals
    the sum of its movements: both are written in the same statement's transaction. The balance
    never goes below zero: what a settlement is owed and cannot take is its ``shortfall``."""

    __tablename__ = "credit_movements"
    __table_args__ = (
        Index(None, "shop_id", "created_at", "id"),
        Index(None, "shop_id", "campaign_id"),
        # A purchase is granted once, whatever repeats its confirmation (core/outcomes/purchases.py).
        Index(
            "uq_credit_movements_shop_id_purchase_id",
            "shop_id",
            "purchase_id",
            unique=True,
            postgresql_where=text("purchase_id IS NOT NULL"),
        ),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # grant, reserve, return, charge, shortfall
    amount: Mapped[int]  # positive: credits added to the balance
    # Credits owed and not taken (the balance had none left): positive when recorded, negative
    # when a credit the campaign had paid covers them after all (core/outcomes/credits.py).
    shortfall: Mapped[int] = mapped_column(server_default=text("0"))
    campaign_id: Mapped[int | None]
    purchase_id: Mapped[int | None]  # the credit_purchases row a grant paid for
    note: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = created_at_column()


class CreditPurchase(Base):
    """A credit pack the merchant asked to buy through Shopify (``appPurchaseOneTimeCreate``),
    by Shopify's purchase id. Its credits are granted once Shopify says it is ACTIVE
    (``credited_at``, with one ``grant`` movement naming it); the key is the shop and Shopify's
    id, so a purchase of another shop is never found, let alone credited, here."""

    __tablename__ = "credit_purchases"
    __table_args__ = (UniqueConstraint("shop_id", "purchase_gid"),)

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    purchase_gid: Mapped[str] = mapped_column(String(255))  # gid://shopify/AppPurchaseOneTime/<n>
    pack_id: Mapped[str] = mapped_column(String(32))
    credits: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3))
    test: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16))  # Shopify's AppPurchaseStatus, as last read
    created_at: Mapped[datetime] = created_at_column()
    credited_at: Mapped[datetime | None]


class PhoneFix(Base):
    """One row of a campaign's "Fix all": the number we suggested for a customer's failed
    message, and what Shopify said when the job wrote it."""

    __tablename__ = "phone_fixes"
    __table_args__ = (UniqueConstraint("shop_id", "campaign_id", "customer_id"),)

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    campaign_id: Mapped[int]
    customer_id: Mapped[int]
    error_code: Mapped[str] = mapped_column(String(64))
    old_phone: Mapped[str | None] = mapped_column(String(64))
    suggested_phone: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), server_default="pending")  # pending, fixed, refused
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = created_at_column()
    done_at: Mapped[datetime | None]
