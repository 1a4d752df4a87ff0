"""How the fake shop pages a connection: the arguments that change what Shopify returns.

`sortKey` orders the nodes (ties by id, as Shopify breaks them), `reverse` flips the order,
`query` keeps the nodes whose `updated_at` / `created_at` pass its comparisons, and `first` /
`after` cut one page; the cursor carries the sort value and id of the page's last node.
https://shopify.dev/docs/api/usage/search-syntax
https://shopify.dev/docs/api/usage/pagination-graphql
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import operator
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, parse, value_from_ast_untyped

#: One search term on a time field, e.g. `updated_at:>='2026-01-01T00:00:00+00:00'`.
TIME_TERM = re.compile(
    r"\b(updated_at|created_at):(>=|<=|>|<)?(?:'([^']*)'|\"([^\"]*)\"|(\S+))", re.IGNORECASE
)
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "": operator.eq,
}
TIME_FIELDS = {"updated_at": "updatedAt", "created_at": "createdAt"}


def _number(node: dict[str, Any]) -> int:
    return int(str(node["id"]).rsplit("/", 1)[-1])


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _total(node: dict[str, Any]) -> Decimal:
    return Decimal((node.get("totalPriceSet") or {}).get("shopMoney", {}).get("amount") or 0)


#: Sort value per sortKey; ID-like keys and RELEVANCE (no search term) order by id.
SORT_VALUES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "UPDATED_AT": lambda node: node["updatedAt"],
    "CREATED_AT": lambda node: node["createdAt"],
    "TOTAL_PRICE": lambda node: str(_total(node)).zfill(20),
    "ID": _number,
    "CHECKOUT_ID": _number,
    "RELEVANCE": _number,
}


def _root(query: str) -> FieldNode:
    operation = next(d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode))
    return next(s for s in operation.selection_set.selections if isinstance(s, FieldNode))


def root_field(query: str) -> str:
    """The name of the operation's first root field (`abandonedCheckouts`, `shop`, ...)."""
    return _root(query).name.value


def connection_arguments(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The root field's arguments, variables resolved (the document is already valid)."""
    return {
        argument.name.value: value_from_ast_untyped(argument.value, variables)
        for argument in _root(query).arguments or ()
    }


def matches(node: dict[str, Any], search: str | None) -> bool:
    """True when the node passes every time comparison in the search string."""
    for name, comparison, single, double, bare in TIME_TERM.findall(search or ""):
        value = node.get(TIME_FIELDS[name.lower()])
        if value is None or not COMPARE[comparison](_time(value), _time(single or double or bare)):
            return False
    return True


def _cursor(key: tuple[Any, int]) -> str:
    return base64.b64encode(json.dumps(list(key)).encode()).decode()


def select_page(
    nodes: list[dict[str, Any]], arguments: dict[str, Any]
) -> tuple[list[dict[str, Any]], bool, str | None]:
    """The page these arguments ask for: (nodes, hasNextPage, endCursor)."""
    sort_value = SORT_VALUES.get(arguments.get("sortKey") or "ID", _number)
    reverse = bool(arguments.get("reverse"))
    keyed = sorted(
        ((sort_value(node), _number(node)), node)
        for node in nodes
        if matches(node, arguments.get("query"))
    )
    if reverse:
        keyed.reverse()
    after = arguments.get("after")
    if after:
        mark = tuple(json.loads(base64.b64decode(after)))
        beyond = operator.lt if reverse else operator.gt
        keyed = [(key, node) for key, node in keyed if beyond(key, mark)]
    first = int(arguments.get("first") or 0)
    page = keyed[:first]
    end = _cursor(page[-1][0]) if page else None
    return [node for _, node in page], len(keyed) > first, end


def root_names(query: str) -> list[str]:
    """The response keys of the operation's root fields (aliases where given)."""
    operation = next(d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode))
    return [
        (s.alias or s.name).value
        for s in operation.selection_set.selections
        if isinstance(s, FieldNode)
    ]
