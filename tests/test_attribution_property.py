"""Property: the campaign an order is attributed to does not depend on the order in which
Meta's statuses, the customer's click and Shopify's order webhooks arrive, nor on when the
drains run between them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from core.campaigns.tracking import tracked_suffix
from core.outcomes.attribution import attributed_orders
from jobs.shopify import drain_shopify_inbox
from tests import meta, shopify_webhooks
from tests.orders import order_body
from tests.test_tracked_links import tracked_button

_worlds = itertools.count(1)


def _world(make):
    """Ana got three campaigns: "Far" read 9 days before the order (outside the 7-day window),
    "Read" read 3 days before, "Late" delivered 1 day before and carrying a tracked link."""
    n = next(_worlds)
    now = datetime.now(UTC).replace(microsecond=0)
    shop = make.shop(f"attribution-{n}.myshopify.com", meta_phone_number_id=f"88{n:08d}")
    ana = make.customer(shop, shopify_customer_id=700 + n)
    button = tracked_button("https://shop.example/")
    campaigns = {
        name: make.campaign(shop, f"{name} {n}", template_components=button)
        for name in ("Far", "Read", "Late")
    }
    messages = {
        name: make.message(c, ana, wamid=f"w.{name}.{n}", status="accepted") for name, c in campaigns.items()
    }
    for campaign in campaigns.values():
        make.recount(campaign)
    token = tracked_suffix(shop.id, messages["Late"].id, "0", "https://shop.example/")
    days = lambda d: int((now - timedelta(days=d)).timestamp())  # noqa: E731
    phone = shop.meta_phone_number_id
    events = [
        ("meta", meta.statuses_body(phone, meta.status(f"w.Far.{n}", "read", days(9)))),
        ("meta", meta.statuses_body(phone, meta.status(f"w.Read.{n}", "delivered", days(3) - 60))),
        ("meta", meta.statuses_body(phone, meta.status(f"w.Read.{n}", "read", days(3)))),
        ("meta", meta.statuses_body(phone, meta.status(f"w.Late.{n}", "delivered", days(1)))),
        ("order", order_body(5000 + n, ana.shopify_customer_id, "80.00", now + timedelta(hours=1))),
    ]
    return shop, campaigns, token, events


def _apply(client, shop, token: str, event: tuple) -> None:
    kind, body = event
    if kind == "meta":
        assert meta.post(client, body).status_code == 200
    elif kind == "click":
        assert client.get(f"/r/{token}").status_code == 302
    else:
        assert shopify_webhooks.post(client, "orders/create", body, shop=shop.domain).status_code == 200


def _drain() -> None:
    meta.drain()
    drain_shopify_inbox()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(clicked=st.booleans(), data=st.data())
def test_attribution_is_the_same_whatever_the_arrival_order(client, make, clicked, data):
    """Any permutation of the statuses, the click and the order, drained at any points, gives
    the rule's campaign: the read one (a read beats a later delivery), or the clicked one."""
    shop, campaigns, token, events = _world(make)
    if clicked:
        events.append(("click", None))
    for event in data.draw(st.permutations(events), label="arrival order"):
        _apply(client, shop, token, event)
        if data.draw(st.booleans(), label="drain now"):
            _drain()
    _drain()
    with Session(make.engine) as session:
        found = attributed_orders(session, shop.id, 7, [c.id for c in campaigns.values()])
    expected = campaigns["Late" if clicked else "Read"]
    assert [(o.campaign_id, o.touch) for o in found] == [(expected.id, "click" if clicked else "read")]
