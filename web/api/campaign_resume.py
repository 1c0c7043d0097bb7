"""``POST /api/campaigns/<id>/resume``: send what a halt kept back, once the merchant has fixed
its cause (core/campaigns/resume.py). 202 with the campaign when dispatch starts again; 422
{"errors": [{check, message}]} when a check fails (the template is still paused, the credits do
not cover what is left); 409 when the campaign did not stop or has nothing left to send."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from core.campaigns.launch import ask_meta
from core.campaigns.resume import resume
from jobs.chains import start_dispatch
from web.api import blueprint
from web.api.campaign_actions import campaign_answer
from web.api.campaigns import campaign_of_shop
from web.database import db, release_transaction
from web.tenancy import current_shop

log = logging.getLogger(__name__)


@blueprint.post("/campaigns/<id:campaign_id>/resume")
def resume_campaign(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    release_transaction()  # Meta is asked first (is the template approved again?), no transaction open
    meta = ask_meta(current_shop(), campaign)
    result = resume(db(), current_shop(), campaign, meta)
    if result.failures:
        db().rollback()
        return {"errors": [f.as_dict() for f in result.failures]}, 422
    db().commit()
    try:
        start_dispatch(campaign.shop_id, campaign.id)
    except RedisError as error:
        # PENDING is committed: the reconciler (jobs/reconcile.py) starts its lanes shortly.
        log.warning("campaign %s resumed; dispatch not queued yet (%s)", campaign.id, type(error).__name__)
    return campaign_answer(campaign, 202)
