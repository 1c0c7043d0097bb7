"""The CSV of a campaign's held-out customers (core/experiments/holdout.py), streamed by keyset
batches: the API's download and the campaign page's."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from flask import Response, stream_with_context

from core.experiments.holdout import held_out_customers
from core.reports.message_list import ADMIN_CUSTOMER_URL
from web.database import db
from web.exports import safe_cell

CSV_BATCH = 1000


def held_out_csv(campaign) -> Response:
    """The campaign's held-out customers as a CSV download."""
    response = Response(stream_with_context(_rows(campaign.shop_id, campaign.id)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{_file_name(campaign.name)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _rows(shop_id: int, campaign_id: int) -> Iterator[str]:
    """The CSV by keyset batches, so a large holdout streams in constant memory."""
    yield _line(["shopify_customer_id", "name", "phone", "shopify_admin_url"])
    after = 0
    while batch := held_out_customers(db(), shop_id, campaign_id, after, CSV_BATCH):
        for customer in batch:
            yield _line([customer["shopify_id"], customer["name"], customer["phone"], admin_url(customer)])
        after = batch[-1]["id"]


def _line(values: list) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell(value) for value in values])  # no formula runs in a spreadsheet
    return out.getvalue()


def admin_url(customer: dict) -> str | None:
    """The customer in the Shopify admin, for App Bridge to open (None once erased)."""
    return ADMIN_CUSTOMER_URL.format(customer["shopify_id"]) if customer["shopify_id"] else None


def _file_name(campaign_name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", campaign_name).strip("-").lower()[:60] or "campaign"
    return f"{slug}-holdout.csv"
