"""Header, body and button components end to end: drafted through the API, checked against the
template as the Meta stand-in lists it, and sent to every recipient through the real stand-in,
which checks each send against the template's own components as Meta does."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Message
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer

IMAGE_LINK = "https://cdn.shop.example.com/spring.jpg"
LOOKBOOK = [
    {"type": "header", "parameters": [{"type": "image", "image": {"link": IMAGE_LINK}}]},
    {
        "type": "body",
        "parameters": [{"type": "text", "field": "first_name", "fallback": "there"}, {"text": "SPRING10"}],
    },
    {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "looks/spring"}],
    },
]
CATALOG = {
    "type": "button",
    "sub_type": "catalog",
    "index": "0",
    "parameters": [{"type": "action", "action": {"thumbnail_product_retailer_id": "SKU-1"}}],
}


def _draft(client, template: str, components: list, name: str = "Spring looks"):
    return client.post(
        "/api/campaigns",
        json={"name": name, "template": {"name": template, "language": "en"}, "components": components},
        headers=bearer(),
    )


def _launch(client, campaign_id: int):
    return client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer())


def _customers(make, shop, names: list[str]) -> list:
    return [
        make.customer(shop, first_name=name, phone=f"+3461200{n:04d}", phone_e164=f"+3461200{n:04d}")
        for n, name in enumerate(names)
    ]


def _sent(make, shop_id: int, campaign_id: int) -> list[Message]:
    with Session(make.engine) as session:
        query = select(Message).where(Message.shop_id == shop_id, Message.campaign_id == campaign_id)
        return list(session.scalars(query))


def test_image_header_personal_body_and_url_suffix_reach_every_recipient(client, make, meta, run_jobs):
    """Each recipient is sent the image header by link, the body with their own first name (or
    the fallback) and the URL button's suffix; the stand-in accepts every send."""
    shop = whatsapp_shop(make)
    customers = _customers(make, shop, ["Ana", "Ben", ""])
    created = _draft(client, "spring_lookbook", LOOKBOOK)
    assert created.status_code == 201, created.json
    assert _launch(client, created.json["id"]).status_code == 202
    run_jobs()

    messages = _sent(make, shop.id, created.json["id"])
    truth = meta.truth()
    assert truth["refused"] == {} and len(messages) == len(customers) == len(truth["messages"])
    by_phone = {c.phone_e164: c.first_name or "there" for c in customers}
    for message in messages:
        sent = truth["messages"][message.wamid]["components"]
        assert sent["header"]["parameters"] == [{"type": "image", "image": {"link": IMAGE_LINK}}]
        assert [p["text"] for p in sent["body"]["parameters"]] == [by_phone[message.phone], "SPRING10"]
        assert sent["button[0]"] == {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "looks/spring"}],
        }


def test_a_draft_missing_a_component_is_refused_naming_it(client, make, meta):
    """Without the image, the body values or the URL suffix the draft is a 422 naming the
    component; nothing is stored."""
    whatsapp_shop(make)
    for missing, field in [(0, "components.header"), (1, "components.body"), (2, "components.button[0]")]:
        components = [c for n, c in enumerate(LOOKBOOK) if n != missing]
        response = _draft(client, "spring_lookbook", components, name=f"missing {missing}")
        assert response.status_code == 422, response.json
        assert field in {e["field"] for e in response.json["errors"]}, response.json
    assert client.get("/api/campaigns", headers=bearer()).json["campaigns"] == []


def test_the_launch_check_compares_with_the_template_as_meta_lists_it_now(client, make, meta):
    """A template edited after the draft (a header added) fails the launch check with 422
    naming the header, instead of every send failing at Meta."""
    shop = whatsapp_shop(make)
    _customers(make, shop, ["Ana"])
    created = _draft(client, "weekly_offer", [])
    assert created.status_code == 201, created.json
    templates = meta.http.get(f"{meta.url}/sim/config").json()["templates"]
    for template in templates:
        if template["name"] == "weekly_offer":
            template["components"].insert(0, {"type": "HEADER", "format": "IMAGE"})
    meta.configure(templates=templates)
    response = _launch(client, created.json["id"])
    assert response.status_code == 422
    (error,) = response.json["errors"]
    assert error["check"] == "template_parameters" and error["field"] == "components.header"


def test_a_catalog_campaign_sends_its_thumbnail(client, make, meta, run_jobs):
    """A CATALOG campaign is sent with its catalog button's thumbnail product to everyone."""
    shop = whatsapp_shop(make)
    _customers(make, shop, ["Ana", "Ben"])
    created = _draft(client, "new_arrivals_catalog", [CATALOG], name="New in")
    assert created.status_code == 201 and created.json["type"] == "CATALOG", created.json
    assert _launch(client, created.json["id"]).status_code == 202
    run_jobs()
    truth = meta.truth()
    assert truth["refused"] == {} and len(truth["messages"]) == 2
    for fate in truth["messages"].values():
        assert fate["components"]["button[0]"]["parameters"][0]["action"] == {
            "thumbnail_product_retailer_id": "SKU-1"
        }


def test_named_parameters_and_a_copy_code_reach_meta(client, make, meta, run_jobs):
    """A NAMED template's header and body parameters go out by name, with the coupon code."""
    shop = whatsapp_shop(make)
    _customers(make, shop, ["Ana"])
    first_name = {"parameter_name": "first_name", "field": "first_name", "fallback": "friend"}
    components = [
        {"type": "header", "parameters": [first_name]},
        {"type": "body", "parameters": [{"parameter_name": "code", "text": "M-42"}, first_name]},
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "0",
            "parameters": [{"type": "coupon_code", "coupon_code": "WELCOME10"}],
        },
    ]
    created = _draft(client, "member_welcome", components, name="Welcome")
    assert created.status_code == 201, created.json
    assert _launch(client, created.json["id"]).status_code == 202
    run_jobs()
    (fate,) = meta.truth()["messages"].values()
    assert fate["components"]["header"]["parameters"] == [
        {"type": "text", "parameter_name": "first_name", "text": "Ana"}
    ]
    assert fate["components"]["button[0]"]["parameters"] == [
        {"type": "coupon_code", "coupon_code": "WELCOME10"}
    ]


def test_the_stand_in_refuses_sends_that_do_not_fit_the_template(meta):
    """Meta's own codes for a mismatch: 132012 for a header of the wrong format, 131008 for a
    missing URL suffix, 132000 for a wrong parameter count."""
    from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN

    def send(components):
        body = {
            "messaging_product": "whatsapp",
            "to": "+34612000001",
            "type": "template",
            "template": {"name": "spring_lookbook", "language": {"code": "en"}, "components": components},
        }
        response = meta.http.post(
            f"{meta.url}/v25.0/{PHONE_NUMBER_ID}/messages",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        return response.status_code, response.json()["error"]["code"] if response.status_code != 200 else None

    header = {"type": "header", "parameters": [{"type": "image", "image": {"link": IMAGE_LINK}}]}
    body = {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "X"}]}
    button = {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "a"}],
    }
    video = {"type": "header", "parameters": [{"type": "video", "video": {"link": IMAGE_LINK}}]}
    assert send([header, body, button]) == (200, None)
    assert send([video, body, button]) == (400, 132012)
    assert send([header, body]) == (400, 131008)
    assert send([header, {"type": "body", "parameters": body["parameters"][:1]}, button]) == (400, 132000)
