"""Templates as Meta lists them: the campaign type they imply and the parameters they take."""

from __future__ import annotations

import pytest

from core.campaigns import CampaignType
from core.templates import (
    Template,
    body_components,
    derive_type,
    parameter_problems,
    placeholder_problem,
    render_parameters,
)


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


def test_placeholders_must_match_the_parameters():
    """A template with two body placeholders needs exactly two parameters; named ones are refused."""
    template = _template(body="Hi {{1}}, your code {{2}}, again {{1}}")
    assert template.body_placeholders == ["1", "2"]
    assert placeholder_problem(template, [{"text": "a"}, {"text": "b"}]) is None
    assert "has 2 body parameter(s) but the campaign fills 1" in placeholder_problem(
        template, [{"text": "a"}]
    )
    assert "named parameters" in placeholder_problem(_template(body="Hi {{first_name}}"), [{"text": "a"}])


def test_parameter_problems_name_the_bad_item():
    """Each malformed parameter is named with the placeholder it fills."""
    assert parameter_problems([{"text": "SAVE15"}, {"field": "first_name", "fallback": "friend"}]) == []
    problems = parameter_problems([{"text": ""}, {"field": "email"}, "x"])
    assert len(problems) == 3 and "{{1}}" in problems[0] and "{{2}}" in problems[1]
    assert parameter_problems({"text": "x"}) == ["parameters must be a list"]


def test_parameters_render_per_customer_with_fallbacks():
    """Customer fields fill the body; an empty field falls back, never to an empty string."""
    parameters = [{"field": "first_name", "fallback": "friend"}, {"text": "SAVE15"}, {"field": "last_name"}]
    assert render_parameters(parameters, "Ana", "López") == ["Ana", "SAVE15", "López"]
    assert render_parameters(parameters, " ", "") == ["friend", "SAVE15", "there"]
    assert body_components(["Ana"]) == [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]
    assert body_components([]) == []
