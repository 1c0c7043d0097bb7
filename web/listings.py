"""The keyset-paged lists the JSON API and the pages both show: a shop's campaigns and a
campaign's messages (and the CSV of the same rows)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from urllib.parse import quote

from flask import Response
from sqlalchemy import select, tuple_
from werkzeug.exceptions import BadRequest

from core.models import Campaign
from core.reports.message_list import (
    BadFilter,
    MessageFilter,
    message_query,
    parse_category,
    parse_statuses,
    views,
)
from core.rules.campaign_states import CampaignStatus, CampaignType
from web.database import db
from web.export_slots import holding, take_export_slot
from web.exports import stream_csv
from web.formatting import shop_zone
from web.inputs import date_param
from web.paging import decode_cursor, encode_cursor, page_limit
from web.tenancy import current_shop


def created_between(shop, start: date | None, end: date | None) -> list:
    """Conditions for campaigns created on the shop's calendar days ``start``..``end``."""
    zone = shop_zone(shop.timezone)
    conditions = []
    if start:
        conditions.append(Campaign.created_at >= datetime.combine(start, time.min, zone))
    if end:
        conditions.append(Campaign.created_at < datetime.combine(end + timedelta(days=1), time.min, zone))
    return conditions


def _enum_filter(args, name: str, allowed: type) -> str | None:
    value = args.get(name) or None
    if value is not None and value not in allowed.__members__:
        raise BadRequest(f"{name} must be one of {', '.join(allowed.__members__)}")
    return value


def campaigns_page(shop, args) -> tuple[list[Campaign], str | None]:
    """One keyset page of the shop's campaigns, newest first, filtered by ``status``, ``type``,
    the creation days ``from``..``to`` (shop calendar) and ``q`` (words of the name, any case);
    with the next page's cursor."""
    limit = page_limit(args.get("limit"))
    query = select(Campaign).where(Campaign.shop_id == shop.id)
    if status := _enum_filter(args, "status", CampaignStatus):
        query = query.where(Campaign.status == status)
    if kind := _enum_filter(args, "type", CampaignType):
        query = query.where(Campaign.type == kind)
    query = query.where(*created_between(shop, date_param(args, "from"), date_param(args, "to")))
    if search := (args.get("q") or "").strip()[:200]:
        query = query.where(Campaign.name.icontains(search, autoescape=True))
    if after := decode_cursor(args.get("cursor"), (datetime, int)):
        query = query.where(tuple_(Campaign.created_at, Campaign.id) < after)
    query = query.order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(limit + 1)
    campaigns = list(db().scalars(query))
    page, more = campaigns[:limit], len(campaigns) > limit
    return page, (encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if more else None)


def csv_disposition(campaign_name: str, day: date) -> str:
    """A file name a merchant recognises in their downloads: the campaign's name and the shop's
    date, written ISO so the files sort by it ("Autumn sale - messages 2026-12-07.csv"); an
    ASCII twin for old browsers, the exact name in UTF-8 for the rest (RFC 6266)."""
    name = re.sub(r'[\x00-\x1f"\\/:*?<>|]+', " ", campaign_name).strip()[:80] or "Campaign"
    exact = f"{name} - messages {day.isoformat()}.csv"
    ascii_name = unicodedata.normalize("NFKD", exact).encode("ascii", "ignore").decode() or "messages.csv"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(exact)}"


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


def csv_response(campaign, args) -> Response:
    """The CSV download of exactly the rows ``args`` filter, streamed (see web/exports.py),
    while it holds one of the shop's export slots (web/export_slots.py: 429 when none is free)."""
    filters = filters_from(args)
    zone = shop_zone(current_shop().timezone)
    slot = take_export_slot(campaign.shop_id)
    response = Response(
        holding(slot, stream_csv(campaign.shop_id, campaign.id, filters, zone)), mimetype="text/csv"
    )
    # A WSGI server closes the answer when it is sent or the client went away: the slot comes
    # back even for a stream never started (a generator's own finally would not run then).
    response.call_on_close(slot.release)
    response.headers["Content-Disposition"] = csv_disposition(campaign.name, datetime.now(zone).date())
    response.headers["Cache-Control"] = "private, no-store"
    return response
