"""Campaign reconciliation: counters set back to the GROUP BY of their messages.

This is the reconciliation path of MonitorCampaignJob; drift is logged, because any drift means
an incremental path (the drain, dispatch) has a bug worth finding.
"""

from __future__ import annotations

import logging

from core.counters import recount
from core.db import session_scope

log = logging.getLogger(__name__)


def reconcile_campaign_counters(shop_id: int, campaign_id: int) -> list[dict]:
    with session_scope() as session:
        drifts = recount(session, shop_id, [campaign_id])
    for drift in drifts:
        log.warning(
            "campaign %s counters drifted: was %s, now %s", drift["campaign_id"], drift["old"], drift["new"]
        )
    return drifts
