"""Access scopes in the fake shop: a field the token's scopes do not cover is refused.

Shopify's introspection result carries, beside each field, the access it requires
(`requiredAccess`, e.g. "Apps must have `write_discounts` access scope."); the fake reads it
from the vendor's schema file rather than from a list of its own, so it asks what Shopify asks.
A request that selects such a field without the scope is answered as Shopify answers it: HTTP
200, the field null, and an error with `extensions.code` ACCESS_DENIED and the requirement.
A write scope includes its read scope (`write_orders` reads orders), as on Shopify.
https://shopify.dev/docs/api/usage/access-scopes
https://shopify.dev/changelog/new-error-messages-for-graphql-operations-without-necessary-access-scopes
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from graphql import FieldNode, TypeInfo, TypeInfoVisitor, Visitor, parse, visit
from graphql.type import get_named_type

from tests.fakes.shopify_schema import admin_schema
from tests.vendor import find_vendor_file

DOCUMENTATION = "https://shopify.dev/api/usage/access-scopes"
#: The app's own configuration: what a shop grants on a managed install.
APP_TOML = Path(__file__).resolve().parents[2] / "shopify.app.toml"
#: A scope in a requirement's text, e.g. `read_orders`.
SCOPE_NAME = re.compile(r"`([a-z_]+)`")
#: The requirement texts made only of scopes: "`a` access scope", "`a` access scope or `b`
#: access scope", "Any of `a`, `b` access scopes", "`a` access scope as well as any of `b`,
#: `c` access scopes", "Apps must have `a` access scope." (a user permission after "Also:"
#: concerns staff accounts, not an app's offline token).
SCOPES_ONLY = re.compile(
    r"(?:Apps must have |Any of |Access allowed for apps with )?"
    r"`[a-z_]+`(?:(?: access)? scopes?)?"
    r"(?:(?:, | or | as well as any of | as well as )`[a-z_]+`(?:(?: access)? scopes?)?)*"
    r"(?: is required)?\.?"
)


def app_scopes() -> frozenset[str]:
    """The scopes shopify.app.toml asks for (what ShopNudge's shops grant by default)."""
    with APP_TOML.open("rb") as raw:
        return parse_scopes(tomllib.load(raw)["access_scopes"]["scopes"])


def parse_scopes(text: str) -> frozenset[str]:
    """`read_a,write_b` (Shopify's comma list) as a set of handles."""
    return frozenset(s.strip() for s in text.split(",") if s.strip())


def implied(granted: frozenset[str]) -> frozenset[str]:
    """The granted scopes with the read scope each write scope includes."""
    return granted | {"read_" + s.removeprefix("write_") for s in granted if s.startswith("write_")}


@functools.cache
def required_access(version: str) -> dict[tuple[str, str], str]:
    """(type, field) -> the access text the schema gives for it, for every field that has one."""
    path = find_vendor_file("shopify", f"admin_{version}.json.gz")
    if path is None:
        return {}
    with gzip.open(path) as raw:
        types = json.load(raw)["data"]["__schema"]["types"]
    return {
        (kind["name"], field["name"]): field["requiredAccess"]
        for kind in types
        for field in kind.get("fields") or ()
        if field.get("requiredAccess")
    }


def scope_groups(text: str) -> list[frozenset[str]] | None:
    """The requirement as groups that must all be met, each by any one scope in it.

    None when the text names no scopes the fake can check (a user permission, a private
    program, "the same access as the owner resource"): such fields are let through.
    """
    scopes_part = text.split(" Also:", 1)[0].strip()
    if not SCOPES_ONLY.fullmatch(scopes_part):
        return None
    return [
        frozenset(SCOPE_NAME.findall(group))
        for group in re.split(r" as well as (?:any of )?", scopes_part)
    ]


def access_errors(query: str, version: str, granted: frozenset[str]) -> list[dict[str, Any]]:
    """ACCESS_DENIED errors for every selected field the granted scopes do not cover."""
    schema = admin_schema(version)
    if schema is None:
        return []
    needs = required_access(version)
    have = implied(granted)
    info = TypeInfo(schema)
    errors: list[dict[str, Any]] = []
    path: list[str] = []

    class Check(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            path.append(node.alias.value if node.alias else node.name.value)
            parent = info.get_parent_type()
            if parent is None:
                return
            name = get_named_type(parent).name
            text = needs.get((name, node.name.value))
            groups = scope_groups(text) if text else None
            if groups and not all(group & have for group in groups):
                errors.append(_denied(node, text or "", list(path)))

        def leave_field(self, *_: Any) -> None:
            path.pop()

    visit(parse(query), TypeInfoVisitor(info, Check()))
    return errors


def _denied(node: FieldNode, text: str, path: list[str]) -> dict[str, Any]:
    """Shopify's shape: message, locations, path, extensions {code, documentation, ...}."""
    location = node.loc.source.get_location(node.loc.start) if node.loc else None
    error: dict[str, Any] = {
        "message": f"Access denied for {node.name.value} field. Required access: {text}",
        "path": path,
        "extensions": {
            "code": "ACCESS_DENIED",
            "documentation": DOCUMENTATION,
            "requiredAccess": text,
        },
    }
    if location is not None:
        error["locations"] = [{"line": location.line, "column": location.column}]
    return error
