"""The campaign composer: "New campaign" and "Edit draft".

The page lists the shop's approved templates as Meta lists them now; our script
(static/composer.js) builds a field for each parameter the chosen template takes, previews the
message, estimates the audience as tags change, and saves, schedules or launches through the
same API (and so the same checks) as any other client, showing each refusal next to its field.
"""

from __future__ import annotations

from flask import render_template

from core.campaigns.audience import shop_tags
from core.crypto import decrypt_token
from core.rules.campaign_states import CampaignStatus
from core.templates.definition import APPROVED, derive_type
from core.templates.fit import trackable_buttons
from core.whatsapp.graph_api import MetaUnavailable, list_templates
from web.database import db
from web.pages import blueprint, embedded_page
from web.pages.campaigns import shop_campaign


def sendable_templates(shop) -> tuple[list[dict], str | None]:
    """The shop's approved templates that can run a campaign, or why they cannot be listed."""
    if not (shop.meta_waba_id and shop.meta_access_token_ciphertext):
        return [], "Connect a WhatsApp Business account in Settings to choose a template."
    try:
        found = list_templates(shop.meta_waba_id, decrypt_token(shop.meta_access_token_ciphertext))
    except MetaUnavailable as error:
        return [], str(error)
    return [
        {
            "name": t.name,
            "language": t.language,
            "category": t.category,
            "campaign_type": str(derive_type(t.category, t.format)),
            "parameter_format": t.parameter_format,
            "components": t.components,
            "trackable_buttons": trackable_buttons(t.components),
        }
        for t in found
        if t.status == APPROVED and derive_type(t.category, t.format) is not None
    ], None


def _draft_json(campaign) -> dict:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "template": {"name": campaign.template_name, "language": campaign.template_language},
        "audience": campaign.audience or {},
        "components": campaign.template_components,
        "holdout": {"share": campaign.holdout_share} if campaign.holdout_share else None,
        "variants": campaign.variants or None,
        "experiment": {"metric": campaign.experiment_metric} if campaign.experiment_metric else None,
        "send_time": {"mode": campaign.send_time_mode, "window_hours": campaign.send_time_window_hours},
        "test_then_send": campaign.test_then_send,
    }


@blueprint.get("/campaigns/new")
@embedded_page
def new_campaign_page(shop):
    templates, problem = sendable_templates(shop)
    return render_template(
        "composer.html",
        shop=shop,
        templates=templates,
        problem=problem,
        draft=None,
        tags=shop_tags(db(), shop.id),
    )


@blueprint.get("/campaigns/<id:campaign_id>/edit")
@embedded_page
def edit_campaign_page(shop, campaign_id: int):
    campaign = shop_campaign(shop, campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        return render_template(
            "composer.html",
            shop=shop,
            templates=[],
            problem="Only drafts can be edited.",
            draft=_draft_json(campaign),
        ), 409
    templates, problem = sendable_templates(shop)
    return render_template(
        "composer.html",
        shop=shop,
        templates=templates,
        problem=problem,
        draft=_draft_json(campaign),
        tags=shop_tags(db(), shop.id),
    )
