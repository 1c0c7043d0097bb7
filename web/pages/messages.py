"""The failed-messages page of a campaign and its CSV download."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.datastructures import MultiDict

from core.reports.message_list import MessageFilter
from core.rules.failure_codes import Category, OurCode
from core.rules.statuses import FAILED_STATUSES, MessageStatus
from web.holdout_export import held_out_csv
from web.listings import csv_response, filters_from, message_page
from web.pages import blueprint, embedded_page
from web.pages.campaigns import labels, shop_campaign
from web.reports import cached_calling_code, cached_failures

FAILED = ",".join(str(s) for s in FAILED_STATUSES)
# The status choices of the filter: failed (the default view), everything, or one status.
ALL = "all"
STATUS_CHOICES = [(FAILED, "Failed or expired"), (ALL, "All messages")] + [
    (s.value, s.value.capitalize()) for s in MessageStatus
]
FILTER_KEYS = ("status", "category", "error_code", "q")


def page_args() -> MultiDict:
    """The list's filters as the page shows them: with no ``status`` the page lists failed
    messages, and ``status=all`` lists every message."""
    args = MultiDict(request.args)
    if not args.get("status"):
        args["status"] = FAILED
    return args


def query_args(args: MultiDict) -> MultiDict:
    args = MultiDict(args)
    if args.get("status") == ALL:
        args["status"] = ""
    return args


@blueprint.get("/campaigns/<id:campaign_id>/messages")
@embedded_page
def messages_page(shop, campaign_id: int):
    campaign = shop_campaign(shop, campaign_id)
    args = page_args()
    filters: MessageFilter = filters_from(query_args(args))
    page, next_cursor = message_page(shop.id, campaign.id, query_args(args))
    return render_template(
        "messages.html",
        shop=shop,
        campaign=campaign,
        rows=page,
        next_cursor=next_cursor,
        filters={k: args.get(k, "") for k in FILTER_KEYS},
        filtered=bool(filters.error_code or filters.category or filters.search),
        first_page=not args.get("cursor"),
        codes=cached_failures(shop.id, [campaign]).get(campaign.id, []),
        categories=list(Category),
        status_choices=STATUS_CHOICES,
        calling_code=cached_calling_code(campaign),
        calling_code_value=OurCode.CUSTOMER_IS_MISSING_CALLING_CODE.value,
        **labels(),
    )


@blueprint.get("/campaigns/<id:campaign_id>/messages.csv")
@embedded_page
def messages_csv(shop, campaign_id: int):
    """The download the page's Export link starts: the same rows as the list's filters."""
    return csv_response(shop_campaign(shop, campaign_id), query_args(page_args()))


@blueprint.get("/campaigns/<id:campaign_id>/holdout.csv")
@embedded_page
def holdout_csv(shop, campaign_id: int):
    """The download the campaign page's holdout link starts."""
    return held_out_csv(shop_campaign(shop, campaign_id))
