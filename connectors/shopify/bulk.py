"""Bulk operations: start (or adopt) one, wait for it, stream its JSONL back as whole nodes.

In the JSONL every object is a line; a nested connection's nodes come as their own lines with a
`__parentId`, and a child may come after its parent's siblings. So the file is read twice: first
to spool it and gather the children by parent, then to hand out each parent with its children.
https://shopify.dev/docs/api/usage/bulk-operations/queries#the-jsonl-data-format
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.errors import PlatformError
from connectors.shopify import queries
from connectors.shopify.client import ShopifyClient, raise_user_errors

log = logging.getLogger(__name__)

#: Child connection name by the child's object type (the gid's type segment).
CHILD_FIELDS = {
    "ProductVariant": "variants",
    "Collection": "collections",
    "LineItem": "lineItems",
    "AbandonedCheckoutLineItem": "lineItems",
}
PARENT_ID = re.compile(rb'"__parentId"\s*:\s*"([^"]+)"')
#: Polling starts quick (small shops finish in seconds) and backs off to this.
MAX_POLL_SECONDS = 10.0
#: A bulk operation that takes longer than this is given up (Shopify allows up to 10 days).
MAX_WAIT_SECONDS = 6 * 60 * 60


@dataclass(frozen=True)
class BulkResult:
    operation_id: str
    url: str | None


def run(client: ShopifyClient, resource: str) -> BulkResult:
    """Start the resource's bulk query (or adopt the same one already running) and await it."""
    query = queries.bulk_query(resource)
    active = client.execute(queries.BULK_ACTIVE)["bulkOperations"]["nodes"]
    current = active[0] if active else None
    if current and current["status"] in ("CREATED", "RUNNING"):
        if current.get("query") == query:
            return wait(client, current["id"])
        wait(client, current["id"])  # one bulk query per shop at a time: let it finish
    payload = client.execute(queries.BULK_RUN, {"query": query})["bulkOperationRunQuery"]
    raise_user_errors(payload)
    return wait(client, payload["bulkOperation"]["id"])


def wait(client: ShopifyClient, operation_id: str) -> BulkResult:
    delay, waited = 0.05, 0.0
    while True:
        node = client.execute(queries.BULK_NODE, {"id": operation_id}).get("node") or {}
        status = node.get("status")
        if status == "COMPLETED":
            return BulkResult(operation_id, node.get("url"))
        if status in ("FAILED", "CANCELED", "CANCELING", "EXPIRED", None):
            raise PlatformError(
                f"bulk operation {operation_id} ended {status}: {node.get('errorCode')}"
            )
        if waited > MAX_WAIT_SECONDS:
            raise PlatformError(f"bulk operation {operation_id} still {status} after hours")
        client.sleep(delay)
        waited += delay
        delay = min(MAX_POLL_SECONDS, delay * 2)


def nodes(client: ShopifyClient, url: str | None, skip: int = 0) -> Iterator[dict[str, Any]]:
    """Each top-level node with its children attached as `{field: {"nodes": [...]}}`."""
    if url is None:  # Shopify gives no URL when the query matched nothing
        return
    children: dict[bytes, list[bytes]] = defaultdict(list)
    with tempfile.TemporaryFile() as spool:
        for line in client.download_lines(url):
            parent = PARENT_ID.search(line)
            if parent:
                children[parent.group(1)].append(line)
            else:
                spool.write(line + b"\n")
        spool.seek(0)
        for index, line in enumerate(spool):
            if index < skip:
                continue
            node = json.loads(line)
            for raw in children.pop(node["id"].encode(), ()):
                child = json.loads(raw)
                kind = child["id"].split("/")[-2] if child.get("id") else ""
                field = CHILD_FIELDS.get(kind)
                if field:
                    node.setdefault(field, {"nodes": []})["nodes"].append(child)
            yield node
    if children:
        log.warning("bulk result had %d children without a parent line", len(children))
