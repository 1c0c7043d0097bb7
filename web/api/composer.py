"""What the campaign composer asks while the merchant types: edit a draft, estimate an audience
that is not saved yet, and preview the message as its first recipient would see it.

- ``PUT /api/campaigns/<id>`` {name, template, audience, components}: the draft replaced, with
  every check of ``POST /api/campaigns`` (422 naming each field), 409 once it is not a draft;
- ``POST /api/audience/estimate`` {audience, category?}: the reach, its US (+1) recipients and
  the warnings a marketing campaign gets;
- ``POST /api/audience/send-times`` {audience, category?, window_hours}: how many customers
  each hour of the window sends to when each is sent at the hour they read;
- ``POST /api/preview`` {definition, components, audience?}: the message rendered as dispatch
  would render it (definition: the template's components as ``GET /api/templates`` lists
  them), or 422 naming each badly shaped component.
"""

from __future__ import annotations

from flask import jsonify, request
from pydantic import Field

from core.campaigns.audience import (
    estimate,
    frequency_capped,
    in_shop_spelling,
    marketing_cap,
    recipients_query,
)
from core.campaigns.drafts import Audience, DraftProblem, NewCampaign, StrictModel, parse, update_draft
from core.campaigns.preview import audience_first_recipient, preview
from core.campaigns.us_numbers import marketing_us_warning, us_recipients
from core.experiments.send_time import MAX_WINDOW_HOURS, MIN_WINDOW_HOURS, window, zone_name
from core.experiments.send_time import preview as send_time_preview
from core.reports.message_list import ADMIN_CUSTOMER_URL
from core.rules.wording import plural
from core.templates.components import normalise_components
from web.api import blueprint
from web.api.campaign_actions import campaign_answer
from web.api.campaigns import campaign_of_shop
from web.database import db
from web.tenancy import current_shop


class _AudienceEstimate(StrictModel):
    audience: Audience = Audience()
    category: str | None = None


class _SendTimes(StrictModel):
    audience: Audience = Audience()
    category: str | None = None
    window_hours: int = Field(default=24, ge=MIN_WINDOW_HOURS, le=MAX_WINDOW_HOURS, strict=True)


class _Preview(StrictModel):
    definition: list
    components: list = []
    audience: Audience = Audience()


@blueprint.put("/campaigns/<id:campaign_id>")
def update_campaign(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    changed = parse(NewCampaign, request.get_json(silent=True))
    update_draft(db(), current_shop(), campaign, changed)
    db().commit()
    return campaign_answer(campaign)


@blueprint.post("/audience/estimate")
def estimate_audience():
    body = parse(_AudienceEstimate, request.get_json(silent=True))
    shop = current_shop()
    rule = in_shop_spelling(db(), shop.id, body.audience.rule())
    us = us_recipients(db(), shop.id, rule)
    warnings = [warning] if (warning := marketing_us_warning(body.category, us)) else []
    cap = marketing_cap(shop, body.category)
    reach = estimate(db(), shop.id, rule, cap_hours=cap)
    left_out = estimate(db(), shop.id, rule) - reach if cap else 0
    capped = [_capped_customer(c) for c in frequency_capped(db(), shop.id, rule, cap)] if left_out else []
    if left_out:
        warnings.append(
            plural(left_out, "{n} more customer is", "{n} more customers are")
            + f" left out: another marketing campaign reached them in the last {cap} hours"
            f" (the frequency cap in Settings){_for_example(capped, left_out)}."
        )
    return jsonify(
        estimated_audience=reach,
        frequency_capped=left_out,
        frequency_capped_customers=capped,
        us_recipients=us,
        warnings=warnings,
    )


def _capped_customer(customer) -> dict:
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    admin = ADMIN_CUSTOMER_URL.format(customer.shopify_customer_id) if customer.shopify_customer_id else None
    return {"id": customer.id, "name": name or None, "shopify_admin_url": admin}


def _for_example(capped: list[dict], left_out: int) -> str:
    """ ", for example Ana Ruiz, Bo Li and 3 more": who the cap leaves out, by name."""
    names = [c["name"] for c in capped if c["name"]][:3]
    if not names:
        return ""
    rest = left_out - len(names)
    listed = ", ".join(names) if not rest else ", ".join(names) + f" and {rest} more"
    return f", for example {listed}"


@blueprint.post("/audience/send-times")
def preview_send_times():
    """How many of the audience each hour of the window would send to, each customer at the
    hour they usually read (core/experiments/send_time.py)."""
    body = parse(_SendTimes, request.get_json(silent=True))
    shop = current_shop()
    recipients = recipients_query(shop.id, body.audience.rule(), cap_hours=marketing_cap(shop, body.category))
    zone = zone_name(shop.timezone)
    w = window(db(), shop.id, zone, body.window_hours)
    hours = send_time_preview(db(), recipients, shop.id, zone, w)
    return jsonify(window_start=w.start.isoformat(), window_hours=w.hours, zone=zone, hours=hours)


@blueprint.post("/preview")
def preview_message():
    body = parse(_Preview, request.get_json(silent=True))
    components, problems = normalise_components(body.components)
    if problems:
        raise DraftProblem(problems)
    shop_id = current_shop().id
    recipient = audience_first_recipient(db(), shop_id, in_shop_spelling(db(), shop_id, body.audience.rule()))
    return jsonify(preview=preview(body.definition, components, recipient))
