"""The stand-in's GraphQL schema IS Shopify's published Admin schema (2026-10): built with
``build_client_schema`` from the introspection file in tests/fixtures, so a document Shopify
refuses is refused here too, with Shopify's error shape. Resolvers (sim/shopify/graphql_api.py)
are attached only to the fields the app uses; anything else answers null, as a stand-in must.

Validation errors come back as Shopify answers them: HTTP 200, ``{"errors": [{"message",
"locations", "extensions": {"code"}}]}``, the code in graphql-ruby's camelCase names.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import cache
from pathlib import Path

from graphql import DocumentNode, GraphQLSchema, build_client_schema, specified_rules, validate

DEFAULT_FILE = (
    Path(__file__).resolve().parents[2] / "tests/fixtures/shopify/admin-schema/admin_2026-10.json.gz"
)

# graphql-core's rule -> the code Shopify's server (graphql-ruby) gives that kind of error.
_CODES = {
    "FieldsOnCorrectTypeRule": "undefinedField",
    "KnownArgumentNamesRule": "argumentNotAccepted",
    "ProvidedRequiredArgumentsRule": "missingRequiredArguments",
    "ValuesOfCorrectTypeRule": "argumentLiteralsIncompatible",
    "VariablesInAllowedPositionRule": "variableMismatch",
    "KnownTypeNamesRule": "undefinedType",
    "NoUndefinedVariablesRule": "variableNotDefined",
    "NoUnusedVariablesRule": "variableNotUsed",
    "ScalarLeafsRule": "selectionMismatch",
    "KnownDirectivesRule": "undefinedDirective",
}


def schema_file() -> Path:
    return Path(os.environ.get("SHOPIFY_ADMIN_SCHEMA") or DEFAULT_FILE)


@cache
def admin_schema() -> GraphQLSchema:
    with gzip.open(schema_file()) as raw:
        return build_client_schema(json.load(raw)["data"])


def validation_errors(schema: GraphQLSchema, document: DocumentNode) -> list[dict]:
    """Shopify-shaped errors of an invalid document (none for a valid one)."""
    if not validate(schema, document):
        return []
    errors = []
    for rule in specified_rules:
        for error in validate(schema, document, [rule]):
            formatted = {"message": error.message, "locations": error.formatted.get("locations") or []}
            formatted["extensions"] = {"code": _CODES.get(rule.__name__, "validationFailed")}
            errors.append(formatted)
    return errors
