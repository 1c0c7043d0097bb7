"""The GraphQL Admin API subset the app uses, executed by graphql-core against the stand-in's
memory: the ``customers`` connection, ``customer``, ``shop`` and ``customerUpdate``.

Query cost follows Shopify's rules in outline: scalars and enums cost nothing, an object costs
1, a connection costs 2 plus ``first`` times one node, a mutation costs 10. A request is priced
before it runs (``requestedQueryCost``) and refused above the single-query maximum.
"""

from __future__ import annotations

import base64
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    build_schema,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

SDL = """
scalar DateTime

type Query {
  customers(first: Int, after: String, last: Int, before: String, query: String,
            sortKey: CustomerSortKeys, reverse: Boolean): CustomerConnection!
  customer(id: ID!): Customer
  shop: Shop!
}

type Mutation {
  customerUpdate(input: CustomerInput!): CustomerUpdatePayload
}

enum CustomerSortKeys { ID UPDATED_AT CREATED_AT NAME RELEVANCE }
enum CustomerSmsMarketingState { NOT_SUBSCRIBED PENDING SUBSCRIBED UNSUBSCRIBED REDACTED INVALID }
enum CustomerWhatsAppMarketingState { NOT_SUBSCRIBED PENDING SUBSCRIBED UNSUBSCRIBED REDACTED INVALID }

type Shop { id: ID! name: String! myshopifyDomain: String! ianaTimezone: String! currencyCode: String! }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }
type CustomerEdge { cursor: String! node: Customer! }

type Customer {
  id: ID!
  legacyResourceId: String!
  firstName: String
  lastName: String
  displayName: String!
  email: String
  phone: String
  defaultPhoneNumber: CustomerPhoneNumber
  defaultAddress: MailingAddress
  tags: [String!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  smsMarketingConsent: CustomerSmsMarketingConsentState
}

type CustomerPhoneNumber {
  phoneNumber: String!
  marketingState: CustomerSmsMarketingState!
  whatsAppMarketingConsent: CustomerWhatsAppMarketingConsentState
}
type CustomerSmsMarketingConsentState {
  marketingState: CustomerSmsMarketingState!
  consentUpdatedAt: DateTime
}
type CustomerWhatsAppMarketingConsentState {
  marketingState: CustomerWhatsAppMarketingState!
  consentUpdatedAt: DateTime
}
type MailingAddress { countryCodeV2: String country: String phone: String }

input CustomerInput { id: ID phone: String firstName: String lastName: String email: String tags: [String!] }
type CustomerUpdatePayload { customer: Customer userErrors: [UserError!]! }
type UserError { field: [String!] message: String! }
"""

MUTATION_COST = 10
SCHEMA = build_schema(SDL)


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


def _customers(_root, info, first=None, after=None, last=None, before=None, **_ignored) -> dict:
    state, shop = info.context["state"], info.context["shop"]
    if last is not None or before is not None:
        raise ValueError("The stand-in pages forward only: use first and after.")
    if first is None:
        raise ValueError("you must provide one of first or last")
    limit = state.config.max_page_size
    if not 0 < first <= limit:
        raise ValueError(f"The maximum number of records that can be requested is {limit}.")
    after_id = decode_cursor(after) if after else None
    page, more = state.customers_page(shop, first, after_id)
    nodes = [node for node in page]
    return {
        "edges": [{"cursor": encode_cursor(int(n["legacyResourceId"])), "node": n} for n in nodes],
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": more,
            "hasPreviousPage": after_id is not None,
            "startCursor": encode_cursor(int(nodes[0]["legacyResourceId"])) if nodes else None,
            "endCursor": encode_cursor(int(nodes[-1]["legacyResourceId"])) if nodes else None,
        },
    }


def _customer(_root, info, id: str) -> dict | None:  # noqa: A002 (GraphQL's argument name)
    return info.context["state"].customer_node(info.context["shop"], id)


def _shop(_root, info) -> dict:
    return info.context["state"].shop_node(info.context["shop"])


def _customer_update(_root, info, input: dict) -> dict:  # noqa: A002
    return info.context["state"].update_customer(info.context["shop"], input)


SCHEMA.query_type.fields["customers"].resolve = _customers
SCHEMA.query_type.fields["customer"].resolve = _customer
SCHEMA.query_type.fields["shop"].resolve = _shop
SCHEMA.mutation_type.fields["customerUpdate"].resolve = _customer_update
