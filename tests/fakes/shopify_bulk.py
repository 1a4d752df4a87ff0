"""The fake shop's bulk operations: one query at a time, COMPLETED on the second poll, and a
JSONL result in which each parent's last child comes after the next parent."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from flask import Response
from graphql import (
    FieldNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)

from tests.fakes.shopify_access import access_errors
from tests.fakes.shopify_data import ShopData, bulk_lines
from tests.fakes.shopify_schema import PINNED_VERSION, admin_schema, document_errors

STATUS_TERM = re.compile(r"\bstatus:(\w+)", re.IGNORECASE)

ROOT_RESOURCES = {
    "products": "products",
    "customers": "customers",
    "orders": "orders",
    "abandonedCheckouts": "carts",
}


class BulkOperations:
    """Mixed into FakeShopify; uses its data, url and served counter."""

    data: ShopData
    bulk: dict[str, dict[str, Any]]
    served: Counter[str]
    url: str

    def _bulk_run(self, query: str, scopes: frozenset[str]) -> dict[str, Any]:
        """Start the operation; one whose query needs a scope the token lacks is created and
        fails with errorCode ACCESS_DENIED, as Shopify documents (BulkOperationErrorCode)."""
        schema = admin_schema()
        invalid = document_errors(schema, query) if schema is not None else []
        if invalid:  # Shopify checks the bulk query against the schema before it starts
            return {
                "bulkOperationRunQuery": {
                    "bulkOperation": None,
                    "userErrors": [
                        {"field": ["query"], "message": f"Invalid bulk query: {e['message']}"}
                        for e in invalid
                    ],
                }
            }
        running = [op for op in self.bulk.values() if op["status"] == "RUNNING"]
        if running:
            return {
                "bulkOperationRunQuery": {
                    "bulkOperation": None,
                    "userErrors": [
                        {
                            "field": None,
                            "message": "A bulk query operation for this app and shop is "
                            "already in progress",
                        }
                    ],
                }
            }
        root = re.search(r"\{\s*(\w+)\s*\{", query)
        resource = ROOT_RESOURCES[root.group(1)] if root else "products"
        number = str(len(self.bulk) + 1)
        operation_id = f"gid://shopify/BulkOperation/{number}"
        denied = bool(access_errors(query, PINNED_VERSION, scopes))
        self.bulk[operation_id] = {
            "id": operation_id,
            "status": "FAILED" if denied else "RUNNING",
            "error_code": "ACCESS_DENIED" if denied else None,
            "query": query,
            "resource": resource,
            "number": number,
            "polls": 0,
        }
        return {
            "bulkOperationRunQuery": {
                "bulkOperation": {"id": operation_id, "status": "CREATED"},
                "userErrors": [],
            }
        }

    def _bulk_view(self, op: dict[str, Any]) -> dict[str, Any]:
        """The BulkOperation object; each look at a running one moves it on (done on the 2nd)."""
        op["polls"] += 1
        if op["status"] == "RUNNING" and op["polls"] > 1:
            op["status"] = "COMPLETED"
        return {
            "__typename": "BulkOperation",  # `node(id:)` answers the Node interface
            "id": op["id"],
            "status": op["status"],
            "errorCode": op.get("error_code"),
            "objectCount": str(len(self.data.collection(op["resource"]))),
            "url": f"{self.url}/bulk/{op['number']}.jsonl" if op["status"] == "COMPLETED" else None,
            "partialDataUrl": None,
            "query": op["query"],
        }

    def _bulk_node(self, variables: dict[str, Any]) -> dict[str, Any]:
        op = self.bulk.get(variables["id"])
        return {"node": self._bulk_view(op) if op is not None else None}

    def _bulk_list(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """`bulkOperations`: the `status:` terms of `query` (joined by OR) keep the matching
        operations (all of ours are of type query); CREATED_AT order, `reverse`, `first`."""
        wanted = {s.upper() for s in STATUS_TERM.findall(arguments.get("query") or "")}
        ops = [op for op in self.bulk.values() if not wanted or op["status"] in wanted]
        if arguments.get("reverse"):
            ops.reverse()
        ops = ops[: int(arguments.get("first") or 0)]
        return {
            "bulkOperations": {
                "nodes": [self._bulk_view(op) for op in ops],
                "pageInfo": {"hasNextPage": False, "endCursor": None},
            }
        }

    def _bulk_file(self, number: str) -> Any:
        op = self.bulk[f"gid://shopify/BulkOperation/{number}"]
        nodes = selected(op["query"], list(self.data.collection(op["resource"]).values()))
        self.served[op["resource"]] += len(nodes)

        def lines() -> Any:
            for line in bulk_lines(nodes):
                yield json.dumps(line, separators=(",", ":")) + "\n"

        return Response(lines(), mimetype="application/jsonl")


def _pick(value: Any, selection: SelectionSetNode | None) -> Any:
    """`value` cut down to the selected fields; a child list (`{"nodes": [...]}` in the fake's
    records) answers a selected `edges { node { ... } }`."""
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [_pick(item, selection) for item in value]
    picked: dict[str, Any] = {}
    for field in selection.selections:
        if isinstance(field, InlineFragmentNode):
            picked.update(_pick(value, field.selection_set))
            continue
        assert isinstance(field, FieldNode)
        name = field.name.value
        if name == "edges" and "nodes" in value:
            node_field = field.selection_set.selections[0]  # type: ignore[union-attr]
            inner = node_field.selection_set  # type: ignore[union-attr]
            return {"nodes": [_pick(child, inner) for child in value["nodes"]]}
        picked[name] = _pick(value.get(name), field.selection_set)
    return picked


def selected(query: str, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as the bulk query selects them: its fields only, children as `nodes`.

    A plain walk over the selection (not graphql-core's execution, which would take tens of
    seconds for a shop of 20,000 orders): the page queries already check the same records'
    types against the schema.
    """
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    root = operation.selection_set.selections[0]
    assert isinstance(root, FieldNode) and root.selection_set is not None
    edges = root.selection_set.selections[0]
    assert isinstance(edges, FieldNode) and edges.selection_set is not None
    node = edges.selection_set.selections[0]
    assert isinstance(node, FieldNode)
    return [_pick(record, node.selection_set) for record in nodes]
