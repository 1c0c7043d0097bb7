"""The template objects dispatch sends are valid by Meta's own OpenAPI description
(fixtures/meta/openapi, ``TemplateObject`` and the component and parameter schemas its
discriminators name), with the file's known slips allowed for:

1. ``LanguageObject`` marks ``policy`` required, though sends work without it;
2. the button ``index`` pattern ``^[2-6, 11-14]$`` is malformed: the index is a position, "0"-"9";
3. the catalog button's ``{"type": "action"}`` parameter is missing from ``ButtonParameterObject``
   although the same file's "Send Catalog Template Message" example sends exactly that.
Copy-code and multi-product buttons are not described by the file at all, so they are checked
by the stand-in's template check only.
"""

from __future__ import annotations

import copy
import gzip
from functools import cache

import pytest
import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator

from tests.meta_openapi import SPEC
from tests.meta_stand_in import whatsapp_shop
from tests.test_components_dispatch import CATALOG, IMAGE_LINK, LOOKBOOK, _customers, _draft, _launch

POSITION = "^[0-9]$"


@cache
def _spec() -> dict:
    with gzip.open(SPEC, "rt") as raw:
        spec = yaml.safe_load(raw)
    schemas = copy.deepcopy(spec["components"]["schemas"])
    schemas["LanguageObject"]["required"] = ["code"]  # slip 1
    schemas["TemplateComponent"]["properties"]["index"]["pattern"] = POSITION  # slip 2
    schemas["ButtonComponent"]["allOf"][1]["properties"]["index"]["pattern"] = POSITION
    schemas["ButtonParameterObject"]["properties"]["type"]["enum"].append("action")  # slip 3
    return {"components": {"schemas": schemas}}


def _validate(instance: dict, name: str) -> None:
    spec = _spec()
    OAS30Validator({**spec, "$ref": f"#/components/schemas/{name}"}).validate(instance)


def _mapped(schema: str, kind: str) -> str:
    """The schema a discriminator names for this ``type``."""
    mapping = _spec()["components"]["schemas"][schema]["discriminator"]["mapping"]
    return mapping[kind].rsplit("/", 1)[-1]


def validate_template_object(template: dict) -> None:
    """Validate as Meta's discriminators direct: the object, each component by its type, each
    parameter by its type."""
    _validate(template, "TemplateObject")
    for component in template.get("components", []):
        _validate(component, _mapped("TemplateComponent", component["type"]))
        parameters_schema = "ButtonParameterObject" if component["type"] == "button" else "ParameterObject"
        for parameter in component["parameters"]:
            if component.get("sub_type") == "catalog" and parameter["type"] == "action":  # slip 3
                assert set(parameter["action"]) == {"thumbnail_product_retailer_id"}
                continue
            _validate(parameter, _mapped(parameters_schema, parameter["type"]))


def test_the_schema_check_can_fail():
    """A header parameter without its media, and a button without its index, are invalid."""
    with pytest.raises(ValidationError):
        validate_template_object(
            {
                "name": "t",
                "language": {"code": "en"},
                "components": [{"type": "header", "parameters": [{"type": "image"}]}],
            }
        )
    with pytest.raises(ValidationError):
        validate_template_object(
            {
                "name": "t",
                "language": {"code": "en"},
                "components": [
                    {"type": "button", "sub_type": "url", "parameters": [{"type": "text", "text": "a"}]}
                ],
            }
        )


def test_every_template_object_dispatch_sends_is_valid_by_metas_schema(client, make, meta, run_jobs):
    """Image header, personalised body, URL suffix, quick-reply payload, text header and a
    catalog thumbnail, as the stand-in received them from dispatch, all pass Meta's schema."""
    shop = whatsapp_shop(make)
    _customers(make, shop, ["Ana", "Ben"])
    quick_reply = {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "1",
        "parameters": [{"type": "payload", "payload": "NO"}],
    }
    drafts = [
        ("spring_lookbook", [*LOOKBOOK, quick_reply]),
        ("new_arrivals_catalog", [CATALOG]),
        (
            "personal_offer",
            [{"type": "body", "parameters": [{"field": "name", "fallback": "x"}, {"text": "C"}]}],
        ),
    ]
    for n, (template, components) in enumerate(drafts):
        created = _draft(client, template, components, name=f"schema {n}")
        assert created.status_code == 201, created.json
        assert _launch(client, created.json["id"]).status_code == 202
    run_jobs()
    sent = [fate["template"] for fate in meta.truth()["messages"].values()]
    assert len(sent) == 6
    for template in sent:
        validate_template_object(template)
    kinds = {(c["type"], c.get("sub_type")) for t in sent for c in t.get("components", [])}
    assert kinds == {
        ("header", None),
        ("body", None),
        ("button", "url"),
        ("button", "quick_reply"),
        ("button", "catalog"),
    }
    assert any(
        c["parameters"][0].get("image", {}).get("link") == IMAGE_LINK
        for t in sent
        for c in t.get("components", [])
    )
