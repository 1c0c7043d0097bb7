"""Bulk exports as Shopify runs them: ``bulkOperationRunQuery`` validates the query against the
schema and starts an operation (one query operation per shop at a time); a thread runs it
through the same resolvers, writing one JSON line per node; when it is done the operation is
COMPLETED with a ``url`` the stand-in serves (``GET /sim/bulk/<n>.jsonl``) and a
``bulk_operations/finish`` webhook goes to the app, as Shopify sends one.
"""

from __future__ import annotations

import copy
import json
import tempfile
import threading
import time
from pathlib import Path

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, execute, parse, value_from_ast_untyped

from sim.shopify import customers as shapes
from sim.shopify.graphql_api import SCHEMA, parse_search
from sim.shopify.schema import validation_errors

CHUNK = 5000  # nodes read from the shop's memory at a time
PREFIX = "gid://shopify/BulkOperation/"


class BulkExports:
    def __init__(self, state) -> None:
        self.state = state  # ShopifyState: customers, config, webhooks
        self.lock = threading.Lock()
        self.directory = Path(tempfile.mkdtemp(prefix="shopify-bulk-"))
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.operations: dict[int, dict] = {}  # number -> the BulkOperation as GraphQL shows it
            self.shops: dict[int, str] = {}

    def start(self, shop: str, query: str, base_url: str) -> dict:
        """The ``bulkOperationRunQuery`` payload."""
        try:
            document = parse(query)
        except GraphQLError as error:
            return _refused(f"Invalid bulk query: {error.message}", "INVALID")
        if problems := validation_errors(SCHEMA, document):
            return _refused(f"Invalid bulk query: {problems[0]['message']}", "INVALID")
        with self.lock:
            running = [n for n, op in self.operations.items() if self.shops[n] == shop and _active(op)]
            if running:
                message = (
                    "A bulk query operation for this app and shop is already in progress: "
                    f"{PREFIX}{running[0]}."
                )
                return _refused(message, "OPERATION_IN_PROGRESS")
            number = len(self.operations) + 1
            operation = _new_operation(number, query)
            self.operations[number], self.shops[number] = operation, shop
        thread = threading.Thread(target=self._run, args=(number, document, shop, base_url), daemon=True)
        thread.start()
        return {"bulkOperation": copy.deepcopy(operation), "userErrors": []}

    def find(self, shop: str, gid: str) -> dict | None:
        tail = str(gid).removeprefix(PREFIX)
        with self.lock:
            number = int(tail) if tail.isdigit() else -1
            if self.shops.get(number) != shop:
                return None
            return copy.deepcopy(self.operations[number])

    def file(self, number: int) -> Path | None:
        with self.lock:
            operation = self.operations.get(number)
        return self._path(number) if operation and operation["status"] == "COMPLETED" else None

    def _path(self, number: int) -> Path:
        return self.directory / f"{number}.jsonl"

    def _run(self, number: int, document, shop: str, base_url: str) -> None:
        self._set(number, status="RUNNING")
        time.sleep(self.state.config.bulk_delay_s)
        failure = self.state.config.bulk_error
        try:
            if failure:
                raise RuntimeError(failure)
            count = self._export(number, document, shop)
        except Exception:  # the operation fails as Shopify's do: a status and an error code
            code = failure or "INTERNAL_SERVER_ERROR"
            self._set(number, status="FAILED", errorCode=code, completedAt=shapes.now_iso())
        else:
            self._set(
                number,
                status="COMPLETED",
                completedAt=shapes.now_iso(),
                objectCount=str(count),
                rootObjectCount=str(count),
                fileSize=str(self._path(number).stat().st_size),
                url=f"{base_url}/sim/bulk/{number}.jsonl",
            )
        self._announce(number, shop)

    def _export(self, number: int, document, shop: str) -> int:
        """Write the export. graphql-core runs the query on the first chunk (so the resolvers'
        errors fail the operation as Shopify's fail); every chunk is then projected onto the
        query's selection directly, which is what makes half a million customers take seconds."""
        connection, selection = _connection(document)
        query = _argument(connection, "query")
        search = parse_search(value_from_ast_untyped(query) if query is not None else None)
        after_id, count = None, 0
        with self._path(number).open("w") as out:
            while True:
                if after_id is None:
                    context = {"state": self.state, "shop": shop, "bulk": (after_id, CHUNK)}
                    result = execute(SCHEMA, document, context_value=context)
                    if result.errors:
                        raise RuntimeError(result.errors[0].message)
                page, more = self.state.customers_page(shop, CHUNK, after_id, search)
                out.writelines(
                    json.dumps(project(selection, node), separators=(",", ":")) + "\n" for node in page
                )
                count += len(page)
                self._set(number, objectCount=str(count), rootObjectCount=str(count))
                if not more:
                    return count
                after_id = int(page[-1]["legacyResourceId"])

    def _set(self, number: int, **fields) -> None:
        with self.lock:
            self.operations[number].update(fields)

    def _announce(self, number: int, shop: str) -> None:
        with self.lock:
            operation = copy.deepcopy(self.operations[number])
        body = {
            "admin_graphql_api_id": operation["id"],
            "completed_at": operation["completedAt"],
            "created_at": operation["createdAt"],
            "error_code": (operation["errorCode"] or "").lower() or None,
            "status": operation["status"].lower(),
            "type": "query",
        }
        self.state.sender.send_later(shop, "bulk_operations/finish", body)


def _connection(document) -> tuple[FieldNode, object]:
    """The query's top-level ``customers`` field and the selection of one node under it
    (``edges { node { ... } }`` or ``nodes { ... }``): the one export the stand-in runs."""
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    field = operation.selection_set.selections[0]
    if not isinstance(field, FieldNode) or field.name.value != "customers":
        raise RuntimeError("the stand-in exports customers only")
    for inner in field.selection_set.selections:
        if inner.name.value == "nodes":
            return field, inner.selection_set
        if inner.name.value == "edges":
            node = next(s for s in inner.selection_set.selections if s.name.value == "node")
            return field, node.selection_set
    raise RuntimeError("a bulk query must select the connection's nodes")


def _argument(field: FieldNode, name: str):
    return next((a.value for a in field.arguments if a.name.value == name), None)


def project(selection_set, value):
    """``value`` cut to the fields ``selection_set`` selects (aliases honoured), as a GraphQL
    result has them."""
    if value is None or selection_set is None:
        return value
    if isinstance(value, list):
        return [project(selection_set, item) for item in value]
    result = {}
    for field in selection_set.selections:
        key = field.alias.value if field.alias else field.name.value
        result[key] = project(field.selection_set, value.get(field.name.value))
    return result


def _new_operation(number: int, query: str) -> dict:
    return {
        "id": f"{PREFIX}{number}",
        "status": "CREATED",
        "type": "QUERY",
        "query": query,
        "createdAt": shapes.now_iso(),
        "completedAt": None,
        "errorCode": None,
        "objectCount": "0",
        "rootObjectCount": "0",
        "fileSize": None,
        "url": None,
        "partialDataUrl": None,
    }


def _active(operation: dict) -> bool:
    return operation["status"] in ("CREATED", "RUNNING", "CANCELING")


def _refused(message: str, code: str) -> dict:
    return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": code}]}
