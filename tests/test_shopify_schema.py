"""Every GraphQL document the app sends, checked against Shopify's published Admin schema
(API 2026-10, tests/fixtures/shopify/admin-schema/), not against our reading of it."""

from __future__ import annotations

import ast
import gzip
import json
from functools import cache
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_client_schema, parse, print_ast, validate

from core.shopify import queries

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "tests/fixtures/shopify/admin-schema/admin_2026-10.json.gz"


@cache
def admin_schema() -> GraphQLSchema:
    with gzip.open(SCHEMA_FILE) as raw:
        return build_client_schema(json.load(raw)["data"])


def problems(document: str) -> list[str]:
    return [error.message for error in validate(admin_schema(), parse(document))]


@pytest.mark.parametrize("name", sorted(queries.DOCUMENTS))
def test_document_validates_against_the_published_schema(name):
    """Each document in core/shopify/queries.py is valid GraphQL for Shopify's 2026-10 Admin API."""
    assert problems(queries.DOCUMENTS[name]) == []


def test_every_document_is_listed():
    """Every GraphQL string constant of the queries module is in DOCUMENTS, so none escapes the check."""
    constants = {
        name: value for name, value in vars(queries).items() if name.isupper() and isinstance(value, str)
    }
    assert constants == queries.DOCUMENTS


def _node_selection(document: str, *path: str) -> str:
    """Print the selection set found by following field names ``path`` from the operation."""
    selection = parse(document).definitions[0].selection_set
    for name in path:
        selection = next(f for f in selection.selections if f.name.value == name).selection_set
    return print_ast(selection)


def test_the_paged_import_and_the_bulk_export_read_the_same_customer():
    """Both import paths select exactly the same customer fields, so one parser serves both."""
    paged = _node_selection(queries.CUSTOMERS_PAGE, "customers", "nodes")
    bulk = _node_selection(queries.BULK_CUSTOMERS, "customers", "edges", "node")
    assert paged == bulk and "whatsAppMarketingConsent" in paged


def test_the_check_refuses_invented_fields():
    """The old import's invented consent fields fail validation, as they failed on real shops."""
    invented = """
    query { customers(first: 1) { nodes { defaultPhoneNumber {
      whatsAppMarketingConsent { marketingState consentUpdatedAt } } } } }
    """
    found = problems(invented)
    assert any("marketingState" in message for message in found)
    assert any("consentUpdatedAt" in message for message in found)


def _graphql_literals(path: Path) -> list[str]:
    """String constants in a module that read as GraphQL operations."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            head = node.value.lstrip()
            if head.startswith(("query ", "query{", "mutation ", "mutation{")):
                found.append(head.split("\n", 1)[0])
    return found


def test_no_graphql_document_lives_outside_the_queries_module():
    """The product sends GraphQL only from core/shopify/queries.py, so the schema check sees all of it."""
    outside = {}
    for package in ("core", "web", "jobs"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name != "queries.py" and (found := _graphql_literals(path)):
                outside[str(path.relative_to(ROOT))] = found
    assert outside == {}
