"""Text parameters Meta would refuse (a line break, a tab, more than four spaces in a row, too
long: its send answers 100 / 132018) are refused before send, naming the parameter, where the
merchant typed them (draft, composer, launch); a customer's own value (their name) is cleaned
per recipient instead, so one odd name does not fail its message at Meta."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from core.models import Campaign
from core.rules.template_text import fit, refusal
from core.templates.components import normalise_components, text_problems
from core.templates.render import Recipient, send_components
from tests.tokens import bearer

BAD_TEXTS = ["Two\nlines", "A\ttab", "Five     spaces", "CR\r", "X" * 1025]


@pytest.mark.parametrize("text", BAD_TEXTS)
def test_a_literal_body_text_meta_refuses_names_its_parameter(text):
    body = {"type": "body", "parameters": [{"type": "text", "text": "ok"}, {"type": "text", "text": text}]}
    _components, problems = normalise_components([body])
    assert [p["field"] for p in problems] == ["components.body.parameters[1]"], problems


def test_four_spaces_in_a_row_are_fine_five_are_not():
    assert refusal("a    b", 1024) is None
    assert "4 spaces" in refusal("a     b", 1024)


def test_a_header_text_is_held_to_60_characters_and_a_fallback_to_the_same_rules():
    header = {"type": "header", "parameters": [{"type": "text", "text": "H" * 61}]}
    body = {"type": "body", "parameters": [{"field": "first_name", "fallback": "dear\ncustomer"}]}
    _components, problems = normalise_components([header, body])
    assert {p["field"] for p in problems} == {
        "components.header.parameters[0]",
        "components.body.parameters[0]",
    }
    assert any(p["message"].startswith("fallback") for p in problems)


def test_stored_components_are_checked_again_at_launch():
    """A draft saved before the rule may still hold a refused text: the launch names it."""
    stored = [{"type": "body", "parameters": [{"type": "text", "text": "Hi\nthere"}]}]
    assert [p["field"] for p in text_problems(stored)] == ["components.body.parameters[0]"]


@pytest.mark.parametrize(
    ("first_name", "sent"),
    [("Ana\nMaría", "Ana María"), ("Jo     Ann", "Jo Ann"), ("\t", "friend"), ("  Li \r\n", "Li")],
)
def test_a_customers_odd_name_is_cleaned_not_sent_as_is(first_name, sent):
    components, _ = normalise_components(
        [{"type": "body", "parameters": [{"field": "first_name", "fallback": "friend"}]}]
    )
    (body,) = send_components(components, Recipient(first_name, ""), lambda index, url: "")
    assert body["parameters"][0]["text"] == sent


def test_a_long_name_in_a_text_header_is_cut_to_metas_60_characters():
    components, _ = normalise_components(
        [{"type": "header", "parameters": [{"field": "name", "fallback": "x"}]}]
    )
    (header,) = send_components(components, Recipient("A" * 50, "B" * 50), lambda index, url: "")
    assert len(header["parameters"][0]["text"]) == 60


@given(st.text(), st.sampled_from([60, 1024]))
def test_a_cleaned_value_is_always_one_meta_takes(value, limit):
    cleaned = fit(value, limit)
    assert cleaned == "" or refusal(cleaned, limit) is None


def _draft(client, parameters: list) -> object:
    return client.post(
        "/api/campaigns",
        json={
            "name": "Odd text",
            "template": {"name": "personal_offer", "language": "en"},
            "parameters": parameters,
        },
        headers=bearer(),
    )


def test_saving_a_draft_with_a_refused_text_answers_422_naming_it(client, make, meta):
    from tests.meta_stand_in import whatsapp_shop

    whatsapp_shop(make)
    answer = _draft(client, [{"field": "first_name", "fallback": "friend"}, {"text": "SPRING\n15"}])
    assert answer.status_code == 422
    # the older body-only "parameters" hear of the problem under their own name
    assert [(e["field"], e["message"][:14]) for e in answer.json["errors"]] == [
        ("parameters", "parameters[1]:")
    ]
    body = {
        "type": "body",
        "parameters": [{"field": "first_name", "fallback": "friend"}, {"text": "A     B"}],
    }
    answer = client.post(
        "/api/campaigns",
        json={"name": "Odd", "template": {"name": "personal_offer", "language": "en"}, "components": [body]},
        headers=bearer(),
    )
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json["errors"]] == ["components.body.parameters[1]"]


def test_launching_a_draft_that_holds_a_refused_text_answers_422_naming_it(client, make, meta):
    from tests.meta_stand_in import whatsapp_shop

    shop = whatsapp_shop(make)
    make.customer(shop, phone="+34613000001", phone_e164="+34613000001")
    created = _draft(client, [{"field": "first_name", "fallback": "friend"}, {"text": "SPRING15"}])
    assert created.status_code == 201, created.json
    with Session(make.engine) as session, session.begin():
        campaign = session.get(Campaign, (shop.id, created.json["id"]))
        components = [dict(c) for c in campaign.template_components]
        components[0] = {
            **components[0],
            "parameters": [*components[0]["parameters"][:1], {"type": "text", "text": "A\tB"}],
        }
        campaign.template_components = components
    answer = client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer())
    assert answer.status_code == 422, answer.json
    assert "components.body.parameters[1]" in str(answer.json)


def test_the_composer_refuses_a_text_meta_would_refuse_when_editing_and_previewing(client, make, meta):
    from tests.meta_stand_in import whatsapp_shop

    whatsapp_shop(make)
    created = _draft(client, [{"field": "first_name", "fallback": "friend"}, {"text": "SPRING15"}])
    assert created.status_code == 201, created.json
    body = {"type": "body", "parameters": [{"field": "first_name", "fallback": "friend"}, {"text": "A\tB"}]}
    edited = client.put(
        f"/api/campaigns/{created.json['id']}",
        json={
            "name": "Odd text",
            "template": {"name": "personal_offer", "language": "en"},
            "components": [body],
        },
        headers=bearer(),
    )
    assert edited.status_code == 422
    assert [e["field"] for e in edited.json["errors"]] == ["components.body.parameters[1]"]
    definition = [{"type": "BODY", "text": "Hi {{1}}, your code {{2}} takes 15% off today."}]
    preview = client.post(
        "/api/preview", json={"definition": definition, "components": [body]}, headers=bearer()
    )
    assert preview.status_code == 422
    assert [e["field"] for e in preview.json["errors"]] == ["components.body.parameters[1]"]
