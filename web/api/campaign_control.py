"""What a merchant does with a campaign before it sends, beside launch and schedule
(campaign_actions.py):

- ``GET /api/campaigns/<id>/launch-summary``: what launching now does (recipients, US numbers a
  marketing template will not reach, estimated cost by the shop's rate card, credits left), for
  the confirmation the admin shows before Launch now and Schedule;
- ``POST /api/campaigns/<id>/unschedule``: a SCHEDULED campaign back to DRAFT (409 otherwise);
- ``DELETE /api/campaigns/<id>``: a DRAFT deleted (204; 409 for any other state);
- ``POST /api/campaigns/<id>/duplicate``: a new DRAFT copying the campaign (201).
"""

from __future__ import annotations

from flask import jsonify

from core.campaigns.control import delete_draft, duplicate, unschedule
from core.campaigns.launch_summary import launch_summary
from web.api import blueprint
from web.api.campaign_actions import campaign_answer
from web.api.campaigns import campaign_of_shop
from web.database import db
from web.tenancy import current_shop


@blueprint.get("/campaigns/<id:campaign_id>/launch-summary")
def campaign_launch_summary(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    summary = launch_summary(db(), current_shop(), campaign)
    return jsonify(
        audience=campaign.audience or {},
        template_category=campaign.template_category,
        **summary.as_json(),
    )


@blueprint.post("/campaigns/<id:campaign_id>/unschedule")
def unschedule_campaign(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    unschedule(db(), campaign)
    db().commit()
    return campaign_answer(campaign)


@blueprint.delete("/campaigns/<id:campaign_id>")
def delete_campaign(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    delete_draft(db(), campaign)
    db().commit()
    return "", 204


@blueprint.post("/campaigns/<id:campaign_id>/duplicate")
def duplicate_campaign(campaign_id: int):
    copy = duplicate(db(), campaign_of_shop(campaign_id))
    db().commit()
    return campaign_answer(copy, 201)
