"""Resolvers for the part of Shopify's Admin schema the app uses, executed by graphql-core
against the stand-in's memory: ``customers`` (with the ``updated_at`` search term),
``customersCount``, ``customer``, ``shop``, ``customerUpdate``,
``customerWhatsAppMarketingConsentUpdate``, ``bulkOperationRunQuery``, ``bulkOperation``, and
for billing ``appPurchaseOneTimeCreate``, ``node`` (an ``AppPurchaseOneTime``) and
``currentAppInstallation.oneTimePurchases`` (sim/shopify/billing.py).
The schema itself is Shopify's (sim/shopify/schema.py).

Query cost follows Shopify's rules in outline: scalars and enums cost nothing, an object costs
1, a connection costs 2 plus ``first`` times one node, a mutation costs 10. A request is priced
before it runs (``requestedQueryCost``) and refused above the single-query maximum.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

from sim.shopify.schema import admin_schema

MUTATION_COST = 10
SCHEMA = admin_schema()


def encode_cursor(customer_id: int) -> str:
    return base64.b64encode(f"customer:{customer_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = base64.b64decode(cursor).decode().partition(":")
        if kind != "customer":
            raise ValueError(cursor)
        return int(value)
    except ValueError:
        raise ValueError(f"Invalid cursor for current pagination sort: {cursor}") from None


# ---- Pricing --------------------------------------------------------------------------------


def _fields(selection_set, fragments: dict) -> list[FieldNode]:
    found = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            found += _fields(fragments[selection.name.value].selection_set, fragments)
    return found


def _argument(field: FieldNode, name: str, variables: dict) -> Any:
    for argument in field.arguments:
        if argument.name.value == name:
            return value_from_ast_untyped(argument.value, variables)
    return None


def _selection_cost(selection_set, parent: GraphQLObjectType, fragments: dict, variables: dict) -> int:
    total = 0
    for field in _fields(selection_set, fragments):
        definition = parent.fields.get(field.name.value)
        if definition is None:
            continue  # __typename, or a field validation already refused
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            continue
        if named.name.endswith("Connection"):
            size = _argument(field, "first", variables) or _argument(field, "last", variables) or 0
            total += 2 + int(size) * _node_cost(field, named, fragments, variables)
        else:
            total += 1 + _selection_cost(field.selection_set, named, fragments, variables)
    return total


def _node_cost(connection: FieldNode, kind: GraphQLObjectType, fragments: dict, variables: dict) -> int:
    """One node of a connection: 1 plus its own objects, whether selected through ``nodes`` or
    ``edges { node }``."""
    node_type = get_named_type(kind.fields["nodes"].type)
    cost = 0
    for field in _fields(connection.selection_set, fragments):
        if field.name.value == "nodes":
            cost = max(cost, 1 + _selection_cost(field.selection_set, node_type, fragments, variables))
        elif field.name.value == "edges":
            for inner in _fields(field.selection_set, fragments):
                if inner.name.value == "node":
                    node_cost = _selection_cost(inner.selection_set, node_type, fragments, variables)
                    cost = max(cost, 1 + node_cost)
    return cost


def query_cost(document: DocumentNode, operation: OperationDefinitionNode, variables: dict) -> int:
    fragments = {d.name.value: d for d in document.definitions if hasattr(d, "type_condition")}
    if operation.operation.value == "mutation":
        return MUTATION_COST * len(_fields(operation.selection_set, fragments))
    return _selection_cost(operation.selection_set, SCHEMA.query_type, fragments, variables)


# ---- Resolvers (the context holds the state and the shop the access token belongs to) -------


def _customers(_root, info, first=None, after=None, last=None, before=None, query=None, **_ignored) -> dict:
    state, shop = info.context["state"], info.context["shop"]
    updated = parse_search(query)
    if "bulk" in info.context:  # a bulk export pages by itself: the runner gives the window
        after_id, first = info.context["bulk"]
    else:
        after_id = _check_paging(state.config.max_page_size, first, after, last, before)
    page, more = state.customers_page(shop, first, after_id, updated)
    return {
        "edges": [{"cursor": encode_cursor(int(n["legacyResourceId"])), "node": n} for n in page],
        "nodes": page,
        "pageInfo": {
            "hasNextPage": more,
            "hasPreviousPage": after_id is not None,
            "startCursor": encode_cursor(int(page[0]["legacyResourceId"])) if page else None,
            "endCursor": encode_cursor(int(page[-1]["legacyResourceId"])) if page else None,
        },
    }


def _check_paging(limit: int, first, after, last, before) -> int | None:
    if last is not None or before is not None:
        raise ValueError("The stand-in pages forward only: use first and after.")
    if first is None:
        raise ValueError("you must provide one of first or last")
    if not 0 < first <= limit:
        raise ValueError(f"The maximum number of records that can be requested is {limit}.")
    return decode_cursor(after) if after else None


_TERM = re.compile(r"^updated_at:(>=|<=|>|<)?'?([^']+)'?$")


def parse_search(query: str | None) -> tuple[str, str] | None:
    """The ``updated_at`` term of Shopify's search syntax, as (comparator, ISO time); the
    stand-in knows no other term and refuses one rather than ignore it silently."""
    if not query or not query.strip():
        return None
    match = _TERM.match(query.strip())
    if match is None:
        raise ValueError(f"The stand-in only searches customers by updated_at, not {query!r}")
    return match.group(1) or "=", match.group(2)


def _customers_count(_root, info, query=None, limit=None) -> dict:
    count = info.context["state"].count_customers(info.context["shop"], parse_search(query))
    if limit is not None and count > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": count, "precision": "EXACT"}


def _customer(_root, info, id: str) -> dict | None:  # noqa: A002 (GraphQL's argument name)
    return info.context["state"].customer_node(info.context["shop"], id)


def _shop(_root, info) -> dict:
    return info.context["state"].shop_node(info.context["shop"])


def _customer_update(_root, info, input: dict) -> dict:  # noqa: A002
    return info.context["state"].update_customer(info.context["shop"], input)


def _whatsapp_consent_update(_root, info, input: dict) -> dict:  # noqa: A002
    return info.context["state"].update_whatsapp_consent(info.context["shop"], input)


def _bulk_run_query(_root, info, query: str, groupObjects: bool = False) -> dict:  # noqa: N803
    context = info.context
    return context["state"].bulk.start(context["shop"], query, context["base_url"])


def _bulk_operation(_root, info, id: str) -> dict | None:  # noqa: A002
    return info.context["state"].bulk.find(info.context["shop"], id)


def _purchase_create(_root, info, name: str, price: dict, returnUrl: str, test: bool | None = None) -> dict:  # noqa: N803
    context = info.context
    return context["state"].purchases.create(
        context["shop"], name, price, returnUrl, test, context["base_url"]
    )


def _node(_root, info, id: str) -> dict | None:  # noqa: A002
    # Only the app's own purchases are served as nodes; anything else is null, as an id the
    # token may not see is on Shopify.
    return info.context["state"].purchases.node(info.context["shop"], id)


def _current_installation(_root, info) -> dict:
    return {"id": "gid://shopify/AppInstallation/1"}


def _one_time_purchases(_root, info, first=None, reverse=False, **_ignored) -> dict:
    if first is None:
        raise ValueError("you must provide one of first or last")
    return info.context["state"].purchases.of_shop(info.context["shop"], first, reverse)


_RESOLVERS = {
    SCHEMA.query_type: {
        "customers": _customers,
        "customersCount": _customers_count,
        "customer": _customer,
        "shop": _shop,
        "bulkOperation": _bulk_operation,
        "node": _node,
        "currentAppInstallation": _current_installation,
    },
    SCHEMA.get_type("AppInstallation"): {"oneTimePurchases": _one_time_purchases},
    SCHEMA.mutation_type: {
        "customerUpdate": _customer_update,
        "customerWhatsAppMarketingConsentUpdate": _whatsapp_consent_update,
        "bulkOperationRunQuery": _bulk_run_query,
        "appPurchaseOneTimeCreate": _purchase_create,
    },
}
for _parent, _resolvers in _RESOLVERS.items():
    for _name, _resolve in _resolvers.items():
        _parent.fields[_name].resolve = _resolve
