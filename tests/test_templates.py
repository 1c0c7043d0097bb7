"""Templates as Meta lists them: the campaign type they imply, the components a campaign gives
for them (shape, fit) and what one recipient is sent."""

from __future__ import annotations

import pytest

from core.rules.campaign_states import CampaignType
from core.templates.components import campaign_components, normalise_components
from core.templates.definition import Template, derive_type
from core.templates.fit import fit_problems
from core.templates.render import Recipient, send_components


def _template(category="MARKETING", body="Hi {{1}}, code {{2}}", buttons=(), header=None):
    components = [{"type": "BODY", "text": body}]
    if header:
        components.append({"type": "HEADER", "format": header})
    if buttons:
        components.append({"type": "BUTTONS", "buttons": [{"type": b} for b in buttons]})
    return Template.from_meta(
        {"name": "t", "language": "en", "status": "APPROVED", "category": category, "components": components}
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (_template("MARKETING"), CampaignType.PROMOTIONAL),
        (_template("UTILITY"), CampaignType.INFORMATIONAL),
        (_template("MARKETING", buttons=["URL", "CATALOG"]), CampaignType.CATALOG),
        (_template("MARKETING", buttons=["MPM"]), CampaignType.CATALOG),
        (_template("MARKETING", header="PRODUCT"), CampaignType.CATALOG),
        (_template("UTILITY", buttons=["CATALOG"]), CampaignType.INFORMATIONAL),
        (_template("AUTHENTICATION"), None),
    ],
)
def test_campaign_type_follows_the_template(template, expected):
    """MARKETING standard is promotional, UTILITY informational, MARKETING in a product format
    a catalog campaign; authentication templates cannot run a campaign."""
    assert derive_type(template.category, template.format) == expected


def test_seed_documents_spelling_of_the_catalog_format_is_a_catalog():
    """The seed document's "CATALOG" format gives a catalog campaign too."""
    assert derive_type("MARKETING", "CATALOG") == CampaignType.CATALOG


RICH = Template.from_meta(
    {
        "name": "rich",
        "language": "en",
        "status": "APPROVED",
        "category": "MARKETING",
        "components": [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{1}}, use {{2}}"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "url": "https://shop.example.com/{{1}}"},
                    {"type": "QUICK_REPLY", "text": "Stop"},
                    {"type": "URL", "url": "https://shop.example.com/fixed"},
                ],
            },
        ],
    }
)
IMAGE = {
    "type": "header",
    "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/a.jpg"}}],
}
BODY = {"type": "body", "parameters": [{"field": "first_name", "fallback": "friend"}, {"text": "SPRING"}]}
URL = {"type": "button", "sub_type": "url", "index": 0, "parameters": [{"type": "text", "text": "spring"}]}


def _fit(template: Template, raw: list) -> dict[str, str]:
    components, problems = normalise_components(raw)
    assert problems == []
    return {p["field"]: p["message"] for p in fit_problems(template, components)}


def test_components_that_fit_the_template_have_no_problem():
    """Image header, two body parameters and the dynamic URL suffix: nothing is missing."""
    assert _fit(RICH, [IMAGE, BODY, URL]) == {}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([BODY, URL], "components.header"),
        ([IMAGE, URL], "components.body"),
        ([IMAGE, BODY], "components.button[0]"),
        ([IMAGE, {"type": "body", "parameters": [{"text": "one"}]}, URL], "components.body"),
        ([IMAGE, BODY, URL, {**URL, "index": "2"}], "components.button[2]"),
        ([IMAGE, BODY, URL, {**URL, "index": "5"}], "components.button[5]"),
        (
            [{"type": "header", "parameters": [{"type": "text", "text": "Hi"}]}, BODY, URL],
            "components.header",
        ),
    ],
)
def test_a_missing_or_extra_parameter_names_its_component(raw, field):
    """Each missing, extra or wrongly typed component is named as a 422 names it."""
    assert field in _fit(RICH, raw)


def test_named_parameters_must_name_every_placeholder():
    """A NAMED template needs each {{name}} given once, by parameter_name."""
    template = Template.from_meta(
        {
            "name": "n",
            "language": "en",
            "parameter_format": "NAMED",
            "components": [{"type": "BODY", "text": "Hi {{first_name}}, {{code}}"}],
        }
    )
    named = [{"parameter_name": "first_name", "field": "first_name"}, {"parameter_name": "code", "text": "X"}]
    assert _fit(template, [{"type": "body", "parameters": named}]) == {}
    assert "components.body" in _fit(
        template, [{"type": "body", "parameters": [{"text": "A"}, {"text": "B"}]}]
    )


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("nope", "components"),
        ([{"type": "footer"}], "components[0]"),
        ([{"type": "body", "parameters": [{"field": "email"}]}], "components.body.parameters[0]"),
        (
            [{"type": "header", "parameters": [{"type": "image", "image": {"link": "http://x.com/a.jpg"}}]}],
            "components.header.parameters[0]",
        ),
        (
            [{"type": "button", "sub_type": "url", "index": "10", "parameters": [{"text": "a"}]}],
            "components[0]",
        ),
        (
            [{"type": "button", "sub_type": "url", "index": "0", "parameters": [{"track": "ftp://x"}]}],
            "components.button[0].parameters[0]",
        ),
        (
            [
                {
                    "type": "button",
                    "sub_type": "copy_code",
                    "index": "0",
                    "parameters": [{"type": "coupon_code", "coupon_code": "X" * 16}],
                }
            ],
            "components.button[0].parameters[0]",
        ),
        (
            [
                {
                    "type": "button",
                    "sub_type": "mpm",
                    "index": "0",
                    "parameters": [{"type": "action", "action": {"thumbnail_product_retailer_id": "a"}}],
                }
            ],
            "components.button[0].parameters[0]",
        ),
        ([BODY, BODY], "components.body"),
        *[
            (
                [{"type": "button", "sub_type": sub_type, "index": "0", "parameters": [parameter]}],
                "components.button[0].parameters[0]",
            )
            for sub_type, parameter in [
                ("quick_reply", {"type": "payload", "payload": " "}),
                ("quick_reply", {"type": "payload", "payload": "P" * 257}),
                ("quick_reply", {"type": "payload", "payload": "YES", "extra": 1}),
                ("copy_code", {"type": "coupon_code", "coupon_code": ""}),
            ]
        ],
    ],
)
def test_badly_shaped_components_are_named(raw, field):
    """Shape problems name the component (and parameter) at fault, before Meta is asked."""
    _components, problems = normalise_components(raw)
    assert field in {p["field"] for p in problems}, problems


def test_one_recipient_gets_their_own_values_and_meta_shaped_components():
    """Fields become the customer's value (or the fallback), the rest goes out as given, in
    header, body, button order, with the button index as a string."""
    components, _ = normalise_components([URL, BODY, IMAGE])
    sent = send_components(components, Recipient("Ana", "Lopez"), lambda index, url: "unused")
    assert sent == [
        IMAGE,
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "SPRING"}]},
        {**URL, "index": "0"},
    ]
    blank = send_components(components, Recipient(" ", ""), lambda index, url: "unused")
    assert blank[1]["parameters"][0] == {"type": "text", "text": "friend"}


def test_a_tracked_button_gets_the_hooks_token_and_needs_the_apps_redirect(monkeypatch):
    """{"track": url} becomes the hook's per-message suffix, and is refused unless the
    template's URL button is {SHOPIFY_APP_URL}/r/{{1}}."""
    monkeypatch.setenv("SHOPIFY_APP_URL", "https://app.example.com")
    tracked = {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"track": "https://shop.example.com/sale"}],
    }
    components, problems = normalise_components([tracked])
    assert problems == []
    sent = send_components(components, Recipient(), lambda index, url: f"tok-{index}-{url[-4:]}")
    assert sent[0]["parameters"] == [{"type": "text", "text": "tok-0-sale"}]

    def template(url):
        buttons = [{"type": "BUTTONS", "buttons": [{"type": "URL", "url": url}]}]
        return Template.from_meta({"name": "t", "language": "en", "components": buttons})

    assert _fit(template("https://app.example.com/r/{{1}}"), [tracked]) == {}
    assert "components.button[0]" in _fit(template("https://shop.example.com/{{1}}"), [tracked])


def test_older_body_only_parameters_still_send_as_a_body():
    """A campaign stored with body-only parameters sends them as the body component."""
    components = campaign_components([], [{"text": "A"}, {"field": "last_name", "fallback": "x"}])
    sent = send_components(components, Recipient("Ana", "Lopez"), lambda index, url: "")
    assert sent == [
        {"type": "body", "parameters": [{"type": "text", "text": "A"}, {"type": "text", "text": "Lopez"}]}
    ]
