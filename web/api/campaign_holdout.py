"""A campaign's held-out customers: ``GET /api/campaigns/<id>/holdout`` a page at a time
(``{"customers": [...], "next_cursor"}``), and ``.../holdout.csv`` all of them for a
spreadsheet. The campaign's incremental figures are in the campaign itself (``holdout``)."""

from __future__ import annotations

from flask import jsonify, request

from core.experiments.holdout import held_out_customers
from web.api import blueprint
from web.api.campaigns import campaign_of_shop
from web.database import db
from web.holdout_export import admin_url, held_out_csv
from web.paging import decode_cursor, encode_cursor, page_limit


@blueprint.get("/campaigns/<id:campaign_id>/holdout")
def list_held_out(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    limit = page_limit(request.args.get("limit"))
    (after,) = decode_cursor(request.args.get("cursor"), (int,)) or (0,)
    page = held_out_customers(db(), campaign.shop_id, campaign.id, after, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    for customer in page:
        customer["admin_url"] = admin_url(customer)
    return jsonify(customers=page, next_cursor=encode_cursor(page[-1]["id"]) if more else None)


@blueprint.get("/campaigns/<id:campaign_id>/holdout.csv")
def export_held_out(campaign_id: int):
    return held_out_csv(campaign_of_shop(campaign_id))
