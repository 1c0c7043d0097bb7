"""A campaign's messages: the keyset-paged JSON list and the streamed CSV of the same rows."""

from __future__ import annotations

from flask import Response, jsonify, request
from werkzeug.exceptions import BadRequest

from core.message_list import BadFilter, MessageFilter, message_query, parse_category, parse_statuses, views
from web.api import blueprint
from web.api.campaigns import campaign_of_shop
from web.api.paging import decode_cursor, encode_cursor, page_limit
from web.database import db
from web.exports import stream_csv
from web.formatting import shop_zone
from web.tenancy import current_shop


def filters_from(args) -> MessageFilter:
    """``status`` (comma-separated), ``error_code``, ``category`` and ``q`` (name or phone)."""
    try:
        return MessageFilter(
            statuses=parse_statuses(args.get("status")),
            error_code=(args.get("error_code") or "").strip() or None,
            category=parse_category(args.get("category")),
            search=(args.get("q") or "").strip() or None,
        )
    except BadFilter as error:
        raise BadRequest(str(error)) from None


def after_id_from(cursor: str | None) -> int | None:
    key = decode_cursor(cursor, (int,))
    return None if key is None else key[0]


def message_page(shop_id: int, campaign_id: int, args) -> tuple[list, str | None]:
    """One page of the filtered list and the cursor of the next (None on the last page)."""
    limit = page_limit(args.get("limit"))
    query = message_query(
        shop_id, campaign_id, filters_from(args), after_id=after_id_from(args.get("cursor")), limit=limit + 1
    )
    page = views(db().execute(query).all())
    more = len(page) > limit
    page = page[:limit]
    return page, (encode_cursor(page[-1].message.id) if more else None)


@blueprint.get("/campaigns/<int:campaign_id>/messages")
def list_messages(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    page, next_cursor = message_page(campaign.shop_id, campaign.id, request.args)
    return jsonify(messages=[view.as_json() for view in page], next_cursor=next_cursor)


def csv_response(campaign, args) -> Response:
    """The CSV download of exactly the rows ``args`` filter, streamed (see web/exports.py)."""
    filters = filters_from(args)
    zone = shop_zone(current_shop().timezone)
    body = stream_csv(campaign.shop_id, campaign.id, filters, zone)
    response = Response(body, mimetype="text/csv")
    filename = f"campaign-{campaign.id}-messages.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.get("/campaigns/<int:campaign_id>/messages.csv")
def export_messages(campaign_id: int):
    return csv_response(campaign_of_shop(campaign_id), request.args)
