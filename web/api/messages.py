"""A campaign's messages: the keyset-paged JSON list and the streamed CSV of the same rows."""

from __future__ import annotations

from flask import jsonify, request

from web.api import blueprint
from web.api.campaigns import campaign_of_shop
from web.listings import csv_response, message_page


@blueprint.get("/campaigns/<id:campaign_id>/messages")
def list_messages(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    page, next_cursor = message_page(campaign.shop_id, campaign.id, request.args)
    return jsonify(messages=[view.as_json() for view in page], next_cursor=next_cursor)


@blueprint.get("/campaigns/<id:campaign_id>/messages.csv")
def export_messages(campaign_id: int):
    return csv_response(campaign_of_shop(campaign_id), request.args)
