"""Meta's published OpenAPI description of the WhatsApp Business Messaging API
(tests/fixtures/meta/openapi/, MIT), for checking bodies against Meta's own schemas."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

import yaml
from openapi_schema_validator import OAS30Validator

SPEC = (
    Path(__file__).resolve().parent / "fixtures" / "meta" / "openapi" / "business-messaging-api_v23.0.yaml.gz"
)


@cache
def meta_schemas() -> dict:
    """The description's component schemas (parsed once per test session)."""
    with gzip.open(SPEC, "rt") as raw:
        return yaml.safe_load(raw)["components"]["schemas"]


def validate_meta_schema(instance: object, name: str) -> None:
    """Raise jsonschema's ValidationError unless ``instance`` fits Meta's schema ``name``."""
    document = {"components": {"schemas": meta_schemas()}, "$ref": f"#/components/schemas/{name}"}
    OAS30Validator(document).validate(instance)
