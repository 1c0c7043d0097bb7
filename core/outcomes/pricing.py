"""Which rates price a shop's billed messages, and the pricing itself.

A merchant's override (Settings) wins and prices every day alike. Otherwise the WhatsApp
Business Account's currency, as Meta says it (``GET /{waba-id}?fields=currency``, stored on
whatsapp_connections by core/whatsapp/connect.py), picks Meta's cards in that currency, and the
card in force on the UTC day a message was sent prices it (core/counts/billed.py keeps the
day): a campaign that straddles a price change is priced by both cards. A connection Meta has
not told the currency of yet is priced in USD, and says so; a currency the app has no card for
prices nothing, and says so, rather than price in the wrong currency.

Utility and authentication rates fall by volume tier, per market and calendar month (UTC here),
counted across the business portfolio; our unit is the shop's WhatsApp Business Account. The
month's running volume is the shop's kept counts of every campaign, so a campaign's messages
are priced by where the whole shop stood that day: each day's messages of a market take the
bands from the month's volume before that day up, and a campaign pays its share of the day's
cost (the kept counts do not order messages within a day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.models import Shop, WhatsAppConnection
from core.outcomes.rate_card import (
    TIERED,
    Card,
    billed_as,
    card_book,
    country_of_prefix,
    known_revisions,
    parse_override,
)

ASSUMED_CURRENCY = "USD"  # Meta's default billing currency, until Meta says the account's


@dataclass(frozen=True)
class Pricing:
    """What prices a shop's billed messages: its override alone, or Meta's cards in the
    account's currency (oldest first); none when Meta bills in a currency with no card."""

    cards: tuple[Card, ...]
    waba_currency: str | None  # as Meta said it; None while unknown
    problem: str | None = None  # why nothing can be priced

    @property
    def currency(self) -> str | None:
        return self.cards[0].currency if self.cards else None

    @property
    def override(self) -> bool:
        return bool(self.cards) and self.cards[0].is_override

    def card_on(self, day: date) -> Card | None:
        """The card in force on ``day``: the override, else the newest card effective by then
        (the first card for days before it: Meta's per-message pricing began with it)."""
        if not self.cards or self.override:
            return self.cards[0] if self.cards else None
        found = self.cards[0]
        for card in self.cards:
            if card.effective <= day.isoformat():
                found = card
        return found

    def missing_revisions(self, card: Card, day: date) -> list[str]:
        """Meta's revisions after ``card`` and by ``day`` that the app has no card for."""
        if card.is_override:
            return []
        have = {c.effective for c in self.cards}
        return [r for r in known_revisions() if card.effective < r <= day.isoformat() and r not in have]


def pricing_for(override: dict | None, waba_currency: str | None) -> Pricing:
    """The shop's pricing from its override and the account's currency (None: not known)."""
    if override:
        return Pricing((parse_override(override),), waba_currency)
    currency = waba_currency or ASSUMED_CURRENCY
    cards = card_book().get(currency, ())
    if not cards:
        problem = (
            f"Meta bills this WhatsApp account in {currency} and the app has no {currency} rate card, "
            "so cost is not shown: set your own rates in Settings to see it."
        )
        return Pricing((), waba_currency, problem)
    return Pricing(cards, waba_currency)


def account_currency(session: Session, shop_id: int) -> str | None:
    """The currency Meta bills the shop's WhatsApp Business Account in, as last read."""
    return session.scalar(select(WhatsAppConnection.currency).where(WhatsAppConnection.shop_id == shop_id))


def shop_pricing(session: Session, shop: Shop) -> Pricing:
    """``pricing_for`` the shop, reading the account's currency from its connection."""
    return pricing_for(shop.rate_card, account_currency(session, shop.id))


def meta_cards(session: Session, shop: Shop) -> Pricing:
    """Meta's cards for the shop's account, whatever override the shop has."""
    return pricing_for(None, account_currency(session, shop.id))


@dataclass
class Priced:
    """Billed messages and what they cost, with the cards that priced them."""

    billed: int = 0
    amount: Decimal = Decimal(0)
    unpriced: int = 0  # billed messages no card has a rate for
    cards: set[str] = field(default_factory=set)  # effective dates of the cards used
    stale: set[str] = field(default_factory=set)  # Meta's revisions no card covers


@dataclass(frozen=True)
class Group:
    """Billed messages of one day, country (None: unknown) and Meta category, under ``key``."""

    key: Hashable
    day: date
    country: str | None
    category: str
    messages: int


def price(
    session: Session, shop_id: int, pricing: Pricing, groups: Iterable[Group]
) -> dict[Hashable, Priced]:
    """Price each group by the card in force on its day, its market's volume tier included;
    answer the sums per key."""
    groups = list(groups)
    tiers = _TierVolumes.needed(session, shop_id, pricing, groups)
    found: dict[Hashable, Priced] = defaultdict(Priced)
    for group in groups:
        priced = found[group.key]
        priced.billed += group.messages
        card = pricing.card_on(group.day)
        rate = card.rate(group.country, group.category) if card else None
        if rate is None:
            priced.unpriced += group.messages
            continue
        priced.cards.add(card.effective)
        priced.stale.update(pricing.missing_revisions(card, group.day))
        bands = card.bands(group.country, group.category)
        if bands and tiers is not None:
            priced.amount += tiers.cost(card, group, bands)
        else:
            priced.amount += rate * group.messages
    return found


def band_cost(bands: tuple[tuple[int, Decimal], ...], before: int, count: int) -> Decimal:
    """What ``count`` messages cost after ``before`` of the month: each in the band its number
    in the month falls in (bands start at message 1)."""
    cost, first, last = Decimal(0), before + 1, before + count
    for i, (start, rate) in enumerate(bands):
        end = bands[i + 1][0] - 1 if i + 1 < len(bands) else last
        low, high = max(start, first), min(end, last)
        if high >= low:
            cost += rate * (high - low + 1)
    return cost


# The shop's billed messages per day, calling code and category (the template's until Meta
# said one), every campaign: the running volume the tiers count.
SHOP_DAYS = text("""
    SELECT b.day, b.prefix, lower(COALESCE(NULLIF(b.pricing_category, ''), k.template_category)) AS category,
           sum(b.messages)::bigint AS n
      FROM campaign_billed_counts b
      JOIN campaigns k ON k.shop_id = b.shop_id AND k.id = b.campaign_id
     WHERE b.shop_id = :shop_id AND b.day BETWEEN :first AND :last AND b.messages <> 0
     GROUP BY 1, 2, 3
""")


class _TierVolumes:
    """The shop's billed messages per (day, market, tiered category), and the month's volume
    before each day."""

    def __init__(self, pricing: Pricing, rows: Iterable) -> None:
        self.day_total: dict[tuple[date, str, str], int] = defaultdict(int)
        for row in rows:
            category = billed_as(row.category or "")
            card = pricing.card_on(row.day)
            if category in TIERED and card is not None:
                market = card.market(country_of_prefix(row.prefix or ""))
                self.day_total[(row.day, market, category)] += row.n
        self.before: dict[tuple[date, str, str], int] = {}
        running: dict[tuple[int, int, str, str], int] = defaultdict(int)
        for day, market, category in sorted(self.day_total):
            month = (day.year, day.month, market, category)
            self.before[(day, market, category)] = running[month]
            running[month] += self.day_total[(day, market, category)]

    @classmethod
    def needed(
        cls, session: Session, shop_id: int, pricing: Pricing, groups: list[Group]
    ) -> _TierVolumes | None:
        """The volumes, read only when a card pricing these groups has tiers."""
        if not groups or not any(any(card.tiers.get(c) for c in TIERED) for card in pricing.cards):
            return None
        days = [g.day for g in groups]
        first, last = min(days).replace(day=1), max(days)
        rows = session.execute(SHOP_DAYS, {"shop_id": shop_id, "first": first, "last": last})
        return cls(pricing, rows)

    def cost(self, card: Card, group: Group, bands: tuple[tuple[int, Decimal], ...]) -> Decimal:
        """The group's share of its day's cost in its market."""
        key = (group.day, card.market(group.country), billed_as(group.category))
        total = max(self.day_total.get(key, 0), group.messages)
        return band_cost(bands, self.before.get(key, 0), total) * group.messages / total


def groups_of(rows: Iterable, key: Callable[[Group], Hashable]) -> Iterator[Group]:
    """Kept rows (``day``, ``prefix``, ``category``, ``n``) as Groups, each under ``key`` of
    itself (while ``key`` runs, the group's own ``key`` is the row, for its other columns)."""
    for row in rows:
        group = Group(row, row.day, country_of_prefix(row.prefix or ""), row.category or "", row.n)
        yield Group(key(group), group.day, group.country, group.category, group.messages)
