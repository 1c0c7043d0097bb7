"""What Meta billed a shop's WhatsApp Business Account, day by day, as its ``pricing_analytics``
said when the app last read it (core/reconcile/): kept beside our own cost to show the drift."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class MetaBillingRead(Base):
    """One UTC day of one account, read from Meta: when, and the account's currency. A day
    read with no billed row is a day Meta billed nothing, not a day nobody asked about."""

    __tablename__ = "meta_billing_reads"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    waba_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    read_at: Mapped[datetime]


class MetaBilledRow(Base):
    """Meta's volume and cost for one day, recipient country, pricing category, pricing type
    and tier ('' when Meta gives none). Re-reading a day replaces its rows: Meta revises
    recent days. ``cost`` is null when Meta leaves it out (a partner's credit line pays)."""

    __tablename__ = "meta_billed_rows"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    waba_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(8), primary_key=True)
    pricing_category: Mapped[str] = mapped_column(String(48), primary_key=True)
    pricing_type: Mapped[str] = mapped_column(String(48), primary_key=True)
    tier: Mapped[str] = mapped_column(String(32), primary_key=True)
    volume: Mapped[int]
    cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
