"""Campaign actions: create, estimate, schedule, launch, cancel, progress; and the templates.

- ``POST /api/campaigns`` {name, template: {name, language}, audience?, parameters?}: 201, a DRAFT
  whose type follows the template as Meta lists it;
- ``POST /api/campaigns/<id>/estimate`` {audience?}: the reach estimate, stored;
- ``POST /api/campaigns/<id>/launch``: 202 when dispatch starts, 422 {"errors": [{check,
  message}]} naming each failed launch check, 409 when the campaign cannot be launched;
- ``POST /api/campaigns/<id>/schedule`` {scheduled_at} (with its offset) or {scheduled_local}
  (a wall-clock time read in the shop's time zone): the checks run now and again at that time;
  a time not a minute to a year ahead is a 422 naming ``scheduled_at``;
- ``POST /api/campaigns/<id>/cancel``: DRAFT or SCHEDULED only;
- ``GET /api/campaigns/<id>/progress``: queued / submitted / failed before send, for a progress bar;
- ``GET /api/templates``: the shop's templates as Meta lists them, with the campaign type each gives.
"""

from __future__ import annotations

import logging

from flask import jsonify, request
from pydantic import AwareDatetime, NaiveDatetime
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from core.campaigns.control import at_shop_time
from core.campaigns.drafts import (
    Audience,
    DraftProblem,
    NewCampaign,
    StrictModel,
    create_draft,
    parse,
    re_estimate,
)
from core.campaigns.launch import LifecycleError, ScheduleRefused, ask_meta, cancel, launch, schedule
from core.campaigns.us_numbers import marketing_us_warning, us_recipients
from core.crypto import decrypt_token
from core.dispatch.progress import progress
from core.reports.campaign import failures_by_code
from core.templates.definition import derive_type
from core.templates.fit import trackable_buttons
from core.whatsapp.graph_api import MetaUnavailable, list_templates
from jobs.chains import schedule_launch, start_dispatch
from web.api import blueprint
from web.api.campaigns import campaign_of_shop
from web.database import db, release_transaction
from web.reports import cached_outcomes, campaign_json
from web.tenancy import current_shop

log = logging.getLogger(__name__)


class _EstimateRequest(StrictModel):
    audience: Audience | None = None


class _ScheduleRequest(StrictModel):
    scheduled_at: AwareDatetime | None = None
    # A wall-clock time read in the shop's time zone (what the composer's field says).
    scheduled_local: NaiveDatetime | None = None
    spread: bool | None = None  # over Meta's messaging limit, send in waves a day apart


class _LaunchRequest(StrictModel):
    spread: bool | None = None


def campaign_answer(campaign, status: int = 200):
    errors = failures_by_code(db(), campaign.shop_id, [campaign.id])
    outcome = cached_outcomes([campaign])[campaign.id]
    return jsonify(campaign_json(campaign, errors.get(campaign.id, []), outcome)), status


@blueprint.errorhandler(DraftProblem)
def _draft_problem(error: DraftProblem):
    return jsonify(errors=error.errors), 422


@blueprint.errorhandler(LifecycleError)
def _lifecycle_error(error: LifecycleError):
    return jsonify(error="conflict", message=str(error)), 409


@blueprint.errorhandler(ScheduleRefused)
def _schedule_refused(error: ScheduleRefused):
    return jsonify(errors=[{"field": "scheduled_at", "message": str(error)}]), 422


@blueprint.errorhandler(MetaUnavailable)
def _meta_unavailable(error: MetaUnavailable):
    return jsonify(error="meta_unavailable", message=str(error)), 502


@blueprint.post("/campaigns")
def create_campaign():
    new = parse(NewCampaign, request.get_json(silent=True))
    shop = current_shop()
    release_transaction()
    try:
        campaign = create_draft(db(), shop, new)
        db().commit()
    except IntegrityError as error:
        db().rollback()
        if _constraint(error) != NAME_TAKEN:
            raise
        # Another request created a campaign of this name between our check and our insert.
        raise DraftProblem([{"field": "name", "message": NAME_TAKEN_MESSAGE}]) from None
    return campaign_answer(campaign, 201)


NAME_TAKEN = "uq_campaigns_shop_id_name"
NAME_TAKEN_MESSAGE = "another campaign of this shop has this name"


def _constraint(error: IntegrityError) -> str | None:
    return getattr(getattr(error.orig, "diag", None), "constraint_name", None)


@blueprint.post("/campaigns/<id:campaign_id>/estimate")
def estimate_campaign(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    body = parse(_EstimateRequest, request.get_json(silent=True))
    reach = re_estimate(db(), campaign, body.audience)
    db().commit()
    us = us_recipients(db(), campaign.shop_id, campaign.audience)
    return jsonify(
        estimated_audience=reach,
        audience=campaign.audience,
        us_recipients=us,
        warnings=[w for w in [marketing_us_warning(campaign.template_category, us)] if w],
    )


@blueprint.post("/campaigns/<id:campaign_id>/launch")
def launch_campaign(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    body = parse(_LaunchRequest, request.get_json(silent=True) or {})
    release_transaction()  # the checks ask Meta first, with no transaction open
    meta = ask_meta(current_shop(), campaign)
    result = launch(db(), current_shop(), campaign, meta, spread=body.spread)
    db().commit()  # the estimate is kept even when a check failed
    if result.failures:
        return jsonify(errors=[f.as_dict() for f in result.failures]), 422
    try:
        start_dispatch(campaign.shop_id, campaign.id)
    except RedisError as error:
        # PENDING is committed: the reconciler (jobs/reconcile.py) starts its lanes shortly.
        log.warning("campaign %s launched; dispatch not queued yet (%s)", campaign.id, type(error).__name__)
    return campaign_answer(campaign, 202)


@blueprint.post("/campaigns/<id:campaign_id>/schedule")
def schedule_campaign(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    body = parse(_ScheduleRequest, request.get_json(silent=True))
    if (body.scheduled_at is None) == (body.scheduled_local is None):
        raise ScheduleRefused("Choose when to send it (scheduled_at with its offset, or scheduled_local).")
    at = body.scheduled_at or at_shop_time(current_shop().timezone, body.scheduled_local)
    release_transaction()  # the checks ask Meta first, with no transaction open
    meta = ask_meta(current_shop(), campaign)
    result = schedule(db(), current_shop(), campaign, at, meta, spread=body.spread)
    db().commit()
    if result.failures:
        return jsonify(errors=[f.as_dict() for f in result.failures]), 422
    try:
        schedule_launch(campaign.shop_id, campaign.id, campaign.scheduled_at)
    except RedisError as error:
        # SCHEDULED is committed: the reconciler launches it when due.
        log.warning("campaign %s scheduled; launch not queued (%s)", campaign.id, type(error).__name__)
    return campaign_answer(campaign)


@blueprint.post("/campaigns/<id:campaign_id>/cancel")
def cancel_campaign(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    cancel(db(), campaign)
    db().commit()
    return campaign_answer(campaign)


@blueprint.get("/campaigns/<id:campaign_id>/progress")
def campaign_progress(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    return jsonify(status=campaign.status, halted_reason=campaign.halted_reason, **progress(campaign))


@blueprint.get("/templates")
def templates():
    shop = current_shop()
    if not (shop.meta_waba_id and shop.meta_access_token_ciphertext):
        raise MetaUnavailable("No WhatsApp Business account is connected: connect one in Settings.")
    release_transaction()
    found = list_templates(shop.meta_waba_id, decrypt_token(shop.meta_access_token_ciphertext))
    return jsonify(
        templates=[
            {
                "name": t.name,
                "language": t.language,
                "status": t.status,
                "category": t.category,
                "format": t.format,
                "campaign_type": derive_type(t.category, t.format),
                "parameters": len(t.body_placeholders),
                "parameter_format": t.parameter_format,
                "components": t.components,
                "trackable_buttons": trackable_buttons(t.components),
            }
            for t in found
        ]
    )
