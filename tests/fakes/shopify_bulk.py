"""The fake shop's bulk operations: one query at a time, COMPLETED on the second poll, and a
JSONL result in which each parent's last child comes after the next parent."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from flask import Response

from tests.fakes.shopify_data import ShopData, bulk_lines

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

    def _bulk_run(self, query: str) -> dict[str, Any]:
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
        self.bulk[operation_id] = {
            "id": operation_id,
            "status": "RUNNING",
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

    def _bulk_status(self, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
        if operation == "ShopNudgeBulkCurrent":
            op = list(self.bulk.values())[-1] if self.bulk else None
        else:
            op = self.bulk.get(variables["id"])
        if op is not None:
            op["polls"] += 1
            if op["status"] == "RUNNING" and op["polls"] > 1:
                op["status"] = "COMPLETED"
        node = None
        if op is not None:
            node = {
                "id": op["id"],
                "status": op["status"],
                "errorCode": None,
                "objectCount": str(len(self.data.collection(op["resource"]))),
                "url": (
                    f"{self.url}/bulk/{op['number']}.jsonl" if op["status"] == "COMPLETED" else None
                ),
                "partialDataUrl": None,
                "query": op["query"],
            }
        key = "currentBulkOperation" if operation == "ShopNudgeBulkCurrent" else "node"
        return {key: node}

    def _bulk_file(self, number: str) -> Any:
        op = self.bulk[f"gid://shopify/BulkOperation/{number}"]
        nodes = list(self.data.collection(op["resource"]).values())
        self.served[op["resource"]] += len(nodes)

        def lines() -> Any:
            for line in bulk_lines(nodes):
                yield json.dumps(line, separators=(",", ":")) + "\n"

        return Response(lines(), mimetype="application/jsonl")
