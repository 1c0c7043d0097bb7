"""What the campaign composer asks while the merchant types: edit a draft, estimate an audience
that is not saved yet, and preview the message as its first recipient would see it.

- ``PUT /api/campaigns/<id>`` {name, template, audience, components}: the draft replaced, with
  every check of ``POST /api/campaigns`` (422 naming each field), 409 once it is not a draft;
- ``POST /api/audience/estimate`` {audience, category?}: the reach, its US (+1) recipients and
  the warnings a marketing campaign gets;
- ``POST /api/preview`` {definition, components, audience?}: the message rendered as dispatch
  would render it (definition: the template's components as ``GET /api/templates`` lists
  them), or 422 naming each badly shaped component.
"""

from __future__ import annotations

from flask import jsonify, request

from core.campaigns.audience import estimate, in_shop_spelling, marketing_cap
from core.campaigns.drafts import Audience, DraftProblem, NewCampaign, StrictModel, parse, update_draft
from core.campaigns.preview import audience_first_recipient, preview
from core.campaigns.us_numbers import marketing_us_warning, us_recipients
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
    if left_out:
        warnings.append(
            plural(left_out, "{n} more customer is", "{n} more customers are")
            + f" left out: another marketing campaign reached them in the last {cap} hours"
            " (the frequency cap in Settings)."
        )
    return jsonify(estimated_audience=reach, frequency_capped=left_out, us_recipients=us, warnings=warnings)


@blueprint.post("/preview")
def preview_message():
    body = parse(_Preview, request.get_json(silent=True))
    components, problems = normalise_components(body.components)
    if problems:
        raise DraftProblem(problems)
    shop_id = current_shop().id
    recipient = audience_first_recipient(db(), shop_id, in_shop_spelling(db(), shop_id, body.audience.rule()))
    return jsonify(preview=preview(body.definition, components, recipient))
