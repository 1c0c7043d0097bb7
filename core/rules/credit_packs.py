"""The credit packs a merchant can buy through Shopify's Billing API, and what Shopify's
one-time purchase statuses mean for them.

A pack is sold once per purchase (``appPurchaseOneTimeCreate``); its credits are granted when
Shopify says the purchase is ``ACTIVE`` (the merchant approved and paid), never before.
Prices are in USD: Shopify bills app charges in USD and converts them for the merchant.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Pack:
    id: str
    credits: int
    amount: Decimal
    currency: str = "USD"

    @property
    def name(self) -> str:
        """What the merchant sees on Shopify's approval page and invoice."""
        return f"{self.credits:,} WhatsApp campaign credits"


PACKS: tuple[Pack, ...] = (
    Pack("credits_1000", 1_000, Decimal("10.00")),
    Pack("credits_5000", 5_000, Decimal("45.00")),
    Pack("credits_20000", 20_000, Decimal("160.00")),
)

# Shopify's AppPurchaseStatus. ACTIVE is the only one that pays; DECLINED and EXPIRED never
# will. PENDING (waiting for the merchant) and ACCEPTED (approved, not yet charged) may still.
ACTIVE = "ACTIVE"
FINAL = frozenset({"ACTIVE", "DECLINED", "EXPIRED"})
STATUSES = frozenset({"PENDING", "ACCEPTED", "ACTIVE", "DECLINED", "EXPIRED"})


def find_pack(pack_id: object) -> Pack | None:
    return next((p for p in PACKS if p.id == pack_id), None)
