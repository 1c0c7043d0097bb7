"""GET /api/campaigns/<id>/messages and messages.csv: shape, filters, keyset pages, fixes, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from tests.scenarios import mixed_campaign
from tests.tokens import bearer
from web.exports import safe_cell, stream_csv

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

CALLING = "CUSTOMER_IS_MISSING_CALLING_CODE"


@pytest.fixture
def scenario(make):
    return mixed_campaign(make, make.shop("demo.myshopify.com", timezone="Europe/Madrid"))


def _messages(client, campaign_id, **query):
    response = client.get(f"/api/campaigns/{campaign_id}/messages", query_string=query, headers=bearer())
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _csv(client, campaign_id, **query):
    response = client.get(f"/api/campaigns/{campaign_id}/messages.csv", query_string=query, headers=bearer())
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.smoke
def test_a_message_has_the_contract_shape(client, scenario):
    """Each message carries id, wamid, status, the customer as held now, error, stage times and fix."""
    body = _messages(client, scenario.campaign.id, status="read", limit=1)
    message = body["messages"][0]
    reader = scenario.customers["reader0"]
    assert message["id"] == scenario.messages["reader0"].id and message["wamid"] == "wamid.r0"
    assert message["status"] == "read" and message["error"] is None and message["fix"] is None
    assert message["customer"] == {
        "shopify_id": reader.shopify_customer_id,
        "name": f"Ana {reader.last_name}",
        "phone": "+34612345678",
    }
    assert message["sent_at"].startswith("2026-11-01T12:00:00") and message["read_at"]
    assert message["delivered_at"] and message["failed_at"] is None
    assert body["next_cursor"] is not None  # three read messages, one per page


def test_missing_calling_code_rows_carry_the_fix(client, scenario):
    """The fix links to the customer in the admin and suggests E.164 only when the country gives one."""
    body = _messages(client, scenario.campaign.id, error_code=CALLING)
    fixes = {m["customer"]["name"]: m["fix"] for m in body["messages"]}
    lopez, noor = scenario.customers["lopez"], scenario.customers["nocountry"]
    assert fixes == {
        "Lucía Lopez": {
            "admin_url": f"shopify://admin/customers/{lopez.shopify_customer_id}",
            "suggested_phone": "+34612345679",
            "fixed": False,
        },
        "Noor Nocountry": {
            "admin_url": f"shopify://admin/customers/{noor.shopify_customer_id}",
            "suggested_phone": None,
            "fixed": False,
        },
    }
    error = body["messages"][0]["error"]
    assert error["code"] == CALLING and error["category"] == "data_quality" and error["title"]


def test_status_accepts_several_values_and_expired_reads_as_message_expired(client, scenario):
    """status=failed,expired lists every failure; an expired message explains itself."""
    body = _messages(client, scenario.campaign.id, status="failed,expired")
    assert len(body["messages"]) == 6
    expired = [m for m in body["messages"] if m["status"] == "expired"]
    assert expired[0]["error"]["code"] == "MESSAGE_EXPIRED" and expired[0]["error"]["category"] == "delivery"
    assert {m["status"] for m in _messages(client, scenario.campaign.id, status="failed")["messages"]} == {
        "failed"
    }


def test_category_and_code_filters(client, scenario):
    """category narrows to one category; error_code to one code (MESSAGE_EXPIRED included)."""
    data_quality = _messages(client, scenario.campaign.id, category="data_quality")["messages"]
    assert sorted(m["error"]["code"] for m in data_quality) == sorted(
        ["131026", "131026", CALLING, CALLING, "CUSTOMER_HAS_NO_PHONE"]
    )
    delivery = _messages(client, scenario.campaign.id, category="delivery")["messages"]
    assert [m["status"] for m in delivery] == ["expired"]
    assert len(_messages(client, scenario.campaign.id, error_code="MESSAGE_EXPIRED")["messages"]) == 1


def test_search_by_name_or_phone(client, scenario):
    """q finds a customer by part of the name, or by digits however the phone was typed."""
    by_name = _messages(client, scenario.campaign.id, q="lucía lo")["messages"]
    assert [m["customer"]["name"] for m in by_name] == ["Lucía Lopez"]
    by_phone = _messages(client, scenario.campaign.id, q="612 345 679")["messages"]
    assert [m["customer"]["name"] for m in by_phone] == ["Lucía Lopez"]
    assert _messages(client, scenario.campaign.id, q="100%_")["messages"] == []  # no wildcard injection


def test_keyset_pages_walk_every_filtered_row_once(client, scenario):
    """Following next_cursor yields each matching message exactly once, in id order."""
    seen, cursor = [], None
    while True:
        query = {"status": "failed,expired", "limit": 4} | ({"cursor": cursor} if cursor else {})
        body = _messages(client, scenario.campaign.id, **query)
        seen += [m["id"] for m in body["messages"]]
        if not (cursor := body["next_cursor"]):
            break
    failed = [k for k in scenario.messages if scenario.messages[k].status in ("failed", "expired")]
    assert seen == sorted(scenario.messages[k].id for k in failed)


@pytest.mark.parametrize(
    "query, message",
    [
        ("status=lost", "status must be one or more of"),
        ("category=weather", "category must be one of"),
        ("cursor=WyJ4Il0", "cursor is not one this API gave out"),
        ("limit=0", "limit must be between"),
    ],
)
def test_bad_filters_are_400_with_a_message(client, scenario, query, message):
    """A filter that names nothing real is refused with a clear message, never a 500."""
    response = client.get(f"/api/campaigns/{scenario.campaign.id}/messages?{query}", headers=bearer())
    assert response.status_code == 400 and message in response.get_json()["message"]


def test_another_shops_campaign_is_404(client, make, scenario):
    """A campaign of another shop does not exist for this shop's token, nor its CSV."""
    other = make.shop("other.myshopify.com")
    headers = bearer("other.myshopify.com")
    assert other.id != scenario.shop.id
    for path in ("messages", "messages.csv", "timings"):
        response = client.get(f"/api/campaigns/{scenario.campaign.id}/{path}", headers=headers)
        assert response.status_code == 404


def test_csv_holds_exactly_the_filtered_rows(client, scenario):
    """The CSV has a header and the same rows, in the same order, as the filtered list."""
    listed = _messages(client, scenario.campaign.id, category="data_quality", limit=200)["messages"]
    rows = _csv(client, scenario.campaign.id, category="data_quality")
    assert [int(r["message_id"]) for r in rows] == [m["id"] for m in listed]
    lopez = next(r for r in rows if r["customer_name"] == "Lucía Lopez")
    assert lopez["error_code"] == CALLING and lopez["suggested_phone"] == "+34612345679"
    assert lopez["customer_admin_url"].startswith("shopify://admin/customers/")
    assert lopez["failed_at"] == "2026-11-01T13:00:00+01:00"  # the shop's time zone, with its offset


def test_csv_streams_in_batches_without_losing_or_repeating_rows(scenario):
    """Batches smaller than the result still give every row once, in id order, header first."""
    from core.reports.message_list import MessageFilter
    from web.formatting import shop_zone

    chunks = list(
        stream_csv(scenario.shop.id, scenario.campaign.id, MessageFilter(), shop_zone("UTC"), batch=5)
    )
    assert len(chunks) == 1 + 3  # header, then 12 rows in batches of 5, 5 and 2
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [int(r["message_id"]) for r in rows] == sorted(m.id for m in scenario.messages.values())


@pytest.mark.parametrize("query", [{}, {"status": "failed,expired"}, {"q": "ana"}])
def test_a_csv_of_many_chunks_is_the_csv_of_one_in_the_list_order(client, scenario, query):
    """An export larger than a chunk (each chunk its own transaction, keyset-bounded) writes,
    byte for byte, what one chunk writes, and its rows in the order of the JSON list, whatever
    the filter (a search's chunks are planned apart from the others')."""
    from web.formatting import shop_zone
    from web.listings import filters_from

    filters, zone = filters_from(query), shop_zone("Europe/Madrid")
    in_chunks = list(stream_csv(scenario.shop.id, scenario.campaign.id, filters, zone, batch=2))
    whole = list(stream_csv(scenario.shop.id, scenario.campaign.id, filters, zone, batch=1000))
    assert len(in_chunks) > len(whole) == 2  # the header, then one chunk
    assert b"".join(in_chunks) == b"".join(whole)
    listed = _messages(client, scenario.campaign.id, limit=200, **query)["messages"]
    rows = _csv(client, scenario.campaign.id, **query)
    assert [int(r["message_id"]) for r in rows] == [m["id"] for m in listed] and len(rows) >= 6


def _expected_cells(message: dict, zone) -> dict:
    """The CSV row of one message as the JSON list describes it (the formula guard applied)."""
    customer, error, fix = message["customer"] or {}, message["error"] or {}, message["fix"] or {}

    def local(value):
        return datetime.fromisoformat(value).astimezone(zone).isoformat() if value else ""

    cells = {
        "message_id": message["id"],
        "wamid": message["wamid"] or "",
        "status": message["status"],
        "customer_shopify_id": customer.get("shopify_id", ""),
        "customer_name": customer.get("name", ""),
        "customer_phone": customer.get("phone") or "",
        "phone_sent_to": message["phone"] or "",
        "error_code": error.get("code", ""),
        "error_category": error.get("category", ""),
        "error_title": error.get("title", ""),
        "error_details": error.get("details") or "",
        "remedy": error.get("remedy", ""),
        "sent_at": local(message["sent_at"]),
        "delivered_at": local(message["delivered_at"]),
        "read_at": local(message["read_at"]),
        "failed_at": local(message["failed_at"] or message["expired_at"]),
        "customer_admin_url": fix.get("admin_url", ""),
        "suggested_phone": fix.get("suggested_phone") or "",
        # Every row with a customer links to their page in the admin, as an https address.
        "customer_admin_link": (
            f"https://admin.shopify.com/store/demo/customers/{customer['shopify_id']}" if customer else ""
        ),
    }
    return {name: str(safe_cell(value)) for name, value in cells.items()}


def test_every_csv_cell_equals_the_json_list(client, make, scenario):
    """Each cell PostgreSQL writes equals the JSON list's value for that message, formula-guarded:
    taxonomy, times in the shop's zone, fixes, and cells that would run as formulas."""
    from web.formatting import shop_zone

    make.message(
        scenario.campaign,
        make.customer(
            scenario.shop, first_name='=HYPERLINK("x")', last_name="@SUM(A1)", phone="+34 612 345 670"
        ),
        status="failed",
        error_code="131000",
        error_details='-2+3 is not, but a comma, a "quote" and\na new line are kept',
        failed_at=datetime(2026, 11, 1, 12, 0, 0, 250000, tzinfo=UTC),
        phone="+34 612 345 670",
    )
    make.message(scenario.campaign, status="failed", error_code="999999", wamid="wamid.unknown")
    listed = _messages(client, scenario.campaign.id, limit=200)["messages"]
    rows = _csv(client, scenario.campaign.id)
    zone = shop_zone("Europe/Madrid")
    assert rows == [_expected_cells(message, zone) for message in listed]
    hyperlink = next(r for r in rows if "HYPERLINK" in r["customer_name"])
    assert (
        hyperlink["customer_name"] == '\'=HYPERLINK("x") @SUM(A1)'
        and hyperlink["phone_sent_to"] == "+34 612 345 670"
    )
    assert hyperlink["error_details"].startswith("'-2+3") and hyperlink["failed_at"].endswith(".250000+01:00")


def test_csv_remedies_are_the_json_lists_for_us_numbers_and_permission_codes(client, make, scenario):
    """131049 to a United States number names WhatsApp's pause of marketing there, to a
    Canadian +1 number it does not; a Graph API permission code (200-299) is described as one."""
    from web.formatting import shop_zone

    for phone in ("+12125550123", "+14165550123"):  # New York, Toronto
        make.message(scenario.campaign, status="failed", error_code="131049", phone=phone)
    for code in ("200", "0299"):
        make.message(scenario.campaign, status="failed", error_code=code, error_category="", error_title="")
    listed = _messages(client, scenario.campaign.id, limit=200)["messages"]
    rows = _csv(client, scenario.campaign.id)
    assert rows == [_expected_cells(message, shop_zone("Europe/Madrid")) for message in listed]
    us, canada, *permissions = rows[-4:]
    assert us["remedy"] != canada["remedy"] and "United States" in us["remedy"]
    assert {row["error_category"] for row in permissions} == {"account"}


@pytest.mark.parametrize("timezone", ["Asia/Kolkata", "America/St_Johns", "UTC"])
def test_csv_times_are_the_json_lists_in_any_shop_zone(client, make, timezone):
    """Offsets with minutes, negative ones and UTC's are written as isoformat writes them."""
    from web.formatting import shop_zone

    shop = make.shop("demo.myshopify.com", timezone=timezone)
    scenario = mixed_campaign(make, shop)
    fraction = datetime(2026, 7, 1, 9, 30, 5, 5, tzinfo=UTC)
    make.message(scenario.campaign, status="failed", failed_at=fraction)
    listed = _messages(client, scenario.campaign.id, limit=200)["messages"]
    rows = _csv(client, scenario.campaign.id)
    assert rows == [_expected_cells(message, shop_zone(timezone)) for message in listed]
    assert rows[-1]["failed_at"] == fraction.astimezone(shop_zone(timezone)).isoformat()
    assert (
        rows[0]["sent_at"] == scenario.messages["reader0"].sent_at.astimezone(shop_zone(timezone)).isoformat()
    )


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_the_formula_guard_covers_every_cell_a_merchant_or_meta_writes(client, make, scenario, start):
    """Every text a merchant, a customer or Meta can write, starting with a formula character,
    is written with a leading quote in its cell (PostgreSQL applies safe_cell's rule), and
    each cell still equals the JSON list's value, guarded."""
    from web.formatting import shop_zone

    customer = make.customer(scenario.shop, first_name=f"{start}First", last_name="Last", phone=f"{start}1+1")
    message = make.message(
        scenario.campaign,
        customer,
        status="failed",
        wamid=f"{start}wamid",
        phone=f"{start}cmd|' /C calc'!A0",
        error_code=f"{start}code",
        error_category=f"{start}cat",
        error_title=f"{start}title",
        error_details=f"{start}details",
    )
    listed = _messages(client, scenario.campaign.id, limit=200)["messages"]
    rows = _csv(client, scenario.campaign.id)
    assert rows == [_expected_cells(m, shop_zone("Europe/Madrid")) for m in listed]
    row = next(r for r in rows if int(r["message_id"]) == message.id)
    written = {
        "wamid": message.wamid,
        "customer_phone": customer.phone,
        "phone_sent_to": message.phone,
        "error_code": message.error_code,
        "error_category": message.error_category,
        "error_title": message.error_title,
        "error_details": message.error_details,
    }
    if not start.isspace():  # a name is trimmed, as the JSON list trims it
        written["customer_name"] = f"{start}First Last"
    guarded = {column: f"'{text}" for column, text in written.items()}
    assert {column: row[column] for column in written} == guarded


def test_csv_cells_cannot_become_formulas_but_phones_stay_intact():
    """A name like =HYPERLINK(...) is quoted for spreadsheets; +34 612 345 678 is left alone."""
    assert safe_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert safe_cell("+34 612 345 678") == "+34 612 345 678"
    assert safe_cell("Ana") == "Ana" and safe_cell(42) == 42
