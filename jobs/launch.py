"""Launching a scheduled campaign when its time comes (jobs/chains.py schedules it)."""

from __future__ import annotations

import logging
from datetime import datetime

from core.campaigns.launch import ask_meta, is_due, launch_when_due
from core.db import session_scope
from core.models import Campaign, Shop
from jobs.chains import start_dispatch

log = logging.getLogger(__name__)


def launch_scheduled_campaign(shop_id: int, campaign_id: int, expected_at: str | None = None) -> bool:
    """Run the launch checks again and launch; True when dispatch started."""
    expected = datetime.fromisoformat(expected_at) if expected_at else None
    with session_scope() as session:  # read, then let go: the checks ask Meta with no transaction open
        campaign = session.get(Campaign, (shop_id, campaign_id))
        shop = session.get(Shop, shop_id)
    if not is_due(campaign, expected):
        return False
    meta = ask_meta(shop, campaign)
    with session_scope() as session:
        campaign = session.get(Campaign, (shop_id, campaign_id))
        shop = session.get(Shop, shop_id)
        launched = campaign is not None and launch_when_due(session, shop, campaign, expected, meta)
    if launched:
        start_dispatch(shop_id, campaign_id)
        log.info("scheduled campaign %s launched", campaign_id)
    return launched
