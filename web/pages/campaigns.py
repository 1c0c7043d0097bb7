"""The app home (the campaigns list) and the campaign page."""

from __future__ import annotations

from flask import abort, render_template, request

from core.campaigns.launch_summary import launch_summary
from core.campaigns.preview import campaign_preview
from core.campaigns.resume import held_back
from core.campaigns.us_numbers import marketing_us_warning, us_recipients
from core.experiments.test_then_send import rest_due_at, test_then_send_json
from core.models import Campaign
from core.reports.alerts import open_alerts
from core.reports.campaign import campaign_report
from core.reports.metrics import signal_rules
from core.reports.status import LABELS, TONES, StatusLine, has_report, next_action
from core.reports.trends import type_medians
from core.rules.account_events import messaging_limit
from core.rules.campaign_states import SETTLED_STATUSES, CampaignStatus, CampaignType
from core.rules.failure_codes import Category
from core.whatsapp.state import describe as describe_connection
from core.whatsapp.state import is_connected
from web.charts import FUNNEL_BAR_WIDTH, funnel
from web.database import db
from web.inputs import date_param
from web.listings import campaigns_page
from web.pages import blueprint, embedded_page
from web.pages.outcomes import outcome_context
from web.pages.settings_page import (
    NAME_LABELS,
    NUMBER_STATUS_LABELS,
    NUMBER_STATUS_WARNINGS,
    QUALITY_EVENTS,
    QUALITY_LABELS,
)
from web.reports import (
    cached_calling_code,
    cached_campaign_billing,
    cached_failures,
    cached_holdout,
    cached_outcomes,
    cached_timings,
    cached_variants,
    detail_etag,
)

TYPE_LABELS = {"PROMOTIONAL": "Promotional", "INFORMATIONAL": "Informational", "CATALOG": "Catalog"}
CATEGORY_LABELS = {
    Category.CONSENT: "Consent",
    Category.CREDIT: "Credit",
    Category.DATA_QUALITY: "Phone data",
    Category.DELIVERY: "Delivery",
    Category.RATE_LIMIT: "Rate limit",
    Category.TEMPLATE: "Template",
    Category.ACCOUNT: "Account",
    Category.UNKNOWN: "Unknown",
}


def dispatching(campaign: Campaign) -> bool:
    return campaign.status == CampaignStatus.PENDING and campaign.dispatch_finished_at is None


def labels() -> dict:
    return {
        "status_tones": {str(k): v for k, v in TONES.items()},
        "status_labels": {str(k): v for k, v in LABELS.items()},
        "type_labels": TYPE_LABELS,
        "category_labels": {str(k): v for k, v in CATEGORY_LABELS.items()},
        "dispatching": dispatching,
    }


@blueprint.get("/")
@embedded_page
def app_home(shop):
    """The campaigns list: the app home Shopify loads with ``embedded=1&shop=&host=&id_token=``."""
    page, next_cursor = campaigns_page(shop, request.args)
    reports = {c.id: campaign_report(c, [], shop.locale) for c in page}
    start, end = date_param(request.args, "from"), date_param(request.args, "to")
    return render_template(
        "campaigns.html",
        shop=shop,
        campaigns=page,
        reports=reports,
        next_cursor=next_cursor,
        medians=type_medians(db(), shop.id),
        outcomes=cached_outcomes(page),
        filters={k: request.args.get(k, "") for k in ("status", "type", "from", "to", "q")},
        # A range whose start is after its end matches nothing: the page says why.
        reversed_range=(start, end) if start and end and start > end else None,
        statuses=list(CampaignStatus),
        types=list(CampaignType),
        filtered=any(request.args.get(k) for k in ("status", "type", "from", "to", "q", "cursor")),
        whatsapp_connected=is_connected(shop),
        alerts=open_alerts(db(), shop.id),
        **labels(),
    )


def shop_campaign(shop, campaign_id: int) -> Campaign:
    campaign = db().get(Campaign, (shop.id, campaign_id))
    if campaign is None:
        abort(404, description="No such campaign in this shop.")
    return campaign


def grouped_failures(errors: list[dict]) -> list[dict]:
    """Failures by category (largest first), each with its codes (largest first)."""
    groups: dict[str, dict] = {}
    for error in errors:
        group = groups.setdefault(error["category"], {"category": error["category"], "count": 0, "codes": []})
        group["count"] += error["count"]
        group["codes"].append(error)
    return sorted(groups.values(), key=lambda g: (-g["count"], g["category"]))


def _number_health(shop, campaign: Campaign) -> dict | None:
    """The sending number's health as Meta last reported it, for a campaign still to send or
    sending: a low quality or a lowered limit is worth knowing before it blocks sends."""
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.PENDING):
        return None
    connection = describe_connection(db(), shop)
    if not connection.get("connected"):
        return None
    limit = connection.get("messaging_limit")
    if limit is None:
        limit = messaging_limit(connection.get("messaging_limit_tier"))
    quality = connection.get("quality_rating")
    event = connection.get("quality_event")
    status = connection.get("number_status")
    return {
        "display": connection.get("display_phone_number") or connection.get("phone_number_id"),
        "quality": QUALITY_LABELS.get(quality, quality) if quality else None,
        "limit": limit,
        "warn": quality == "RED" or event in ("FLAGGED", "DOWNGRADE"),
        "event": QUALITY_EVENTS.get(event, event) if event else None,
        # A status that stops or threatens sends (Meta's own word for it), said before launch.
        "status": NUMBER_STATUS_LABELS.get(status, status) if status in NUMBER_STATUS_WARNINGS else None,
        "per_second": connection.get("messages_per_second"),
        # The display name's review, when it is not simply approved: a declined or expired name
        # is one the merchant must fix in WhatsApp Manager.
        "name": NAME_LABELS.get(name, name)
        if (name := connection.get("name_status")) not in (None, "APPROVED")
        else None,
    }


def campaign_context(shop, campaign: Campaign) -> dict:
    errors = cached_failures(shop.id, [campaign]).get(campaign.id, [])
    report = campaign_report(campaign, errors, shop.locale)
    bars, failed_bar = funnel(report["metrics"], campaign.estimated_audience)
    settled = campaign.status in SETTLED_STATUSES
    calling_code = cached_calling_code(campaign)
    unfixed = calling_code["customers"] - calling_code["fixed"]
    line = StatusLine(**report["status_line"])
    return {
        "shop": shop,
        "campaign": campaign,
        "report": report,
        "bars": bars,
        "failed_bar": failed_bar,
        "bar_width": FUNNEL_BAR_WIDTH,
        "groups": grouped_failures(errors),
        "rules": signal_rules(),
        "active_signals": {s["code"]: s for s in report["signals"]},
        "settled": settled,
        "live": campaign.status in (CampaignStatus.PENDING, CampaignStatus.SCHEDULED),
        "medians": type_medians(db(), shop.id).get(campaign.type, {}),
        "calling_code": calling_code,
        "status": line,
        "has_report": has_report(campaign),
        "action": next_action(campaign, line, report["signals"], unfixed, shop.locale),
        "launch": _launch_estimate(shop, campaign),
        "preview": campaign_preview(db(), campaign),
        "us_warning": _us_warning(shop, campaign),
        "alerts": open_alerts(db(), shop.id, campaign.id),
        "held_back": held_back(db(), campaign),
        "number": _number_health(shop, campaign),
        "holdout": cached_holdout(campaign) if campaign.holdout_share else None,
        **_variant_context(campaign),
        "holdout_since": campaign.dispatch_started_at,
        "meta_billing": cached_campaign_billing(campaign),
        **outcome_context(shop, campaign),
        **labels(),
    }


def _variant_context(campaign: Campaign) -> dict:
    if not campaign.variants:
        return {"variants": None, "experiment": None, "test_then_send": None}
    variants, experiment = cached_variants(campaign)
    tested = test_then_send_json(campaign.test_then_send, campaign.dispatch_started_at, campaign.variants)
    due = rest_due_at(campaign.test_then_send, campaign.dispatch_started_at)
    return {"variants": variants, "experiment": experiment, "test_then_send": tested, "rest_due_at": due}


def _launch_estimate(shop, campaign: Campaign) -> dict | None:
    """Before sending: who launching now would reach and what Meta would charge for it."""
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        return None
    return launch_summary(db(), shop, campaign).as_json()


def _us_warning(shop, campaign: Campaign) -> str | None:
    """Before launch: how many recipients of a marketing campaign WhatsApp will not reach."""
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        return None
    if (campaign.template_category or "").upper() != "MARKETING":
        return None
    return marketing_us_warning(
        campaign.template_category, us_recipients(db(), shop.id, campaign.audience or {})
    )


@blueprint.get("/campaigns/<id:campaign_id>")
@embedded_page
def campaign_page(shop, campaign_id: int):
    campaign = shop_campaign(shop, campaign_id)
    context = campaign_context(shop, campaign)
    # Polling starts from the answer this page was rendered from: any change after it shows.
    etag = detail_etag(campaign) if context["live"] else None
    return render_template("campaign.html", etag=etag, **context)


@blueprint.get("/campaigns/<id:campaign_id>/timings")
@embedded_page
def campaign_timings_fragment(shop, campaign_id: int):
    """The time-to-deliver and time-to-read section alone: the campaign page loads it after
    its first paint (cached by counters; read from the kept buckets, core/counts/timings.py)."""
    campaign = shop_campaign(shop, campaign_id)
    return render_template("_timings.html", timings=cached_timings(campaign), campaign=campaign)
