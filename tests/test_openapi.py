"""GET /openapi.json: a valid OpenAPI 3.1 document of every JSON route, built from the code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask, jsonify
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from schemathesis.specs.openapi.definitions import OPENAPI_31

from plugin.web.guards import MAX_DATABASE_INTEGER
from plugin.web.openapi import build_document, undocumented
from plugin.web.schemas.carts import CART_SNAPSHOT
from plugin.web.schemas.optin import OPTIN_REQUEST
from plugin.web.schemas.validation import Problem, first_problem

#: Stated here on their own: where a route answers machines, so the document must describe it.
MACHINE_PREFIXES = ("/api/", "/webhooks/", "/healthz")
#: JSON routes outside those prefixes.
OTHER_JSON_ROUTES = {
    ("POST", "/woocommerce/callback"),
    ("GET", "/openapi.json"),
    ("GET", "/app/settings/wording/lint"),
    ("GET", "/app/campaigns/segment-count"),
}
#: Flask's `<converter:name>` in a rule, as OpenAPI's `{name}`.
VARIABLE = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>")


def routes(app: Flask) -> set[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every machine route in the URL map, OPTIONS only where a view
    serves nothing else (a CORS preflight)."""
    found = set()
    for rule in app.url_map.iter_rules():
        methods = set(rule.methods or ()) - {"HEAD"}
        if methods != {"OPTIONS"}:
            methods.discard("OPTIONS")
        if rule.rule.startswith(MACHINE_PREFIXES):
            path = VARIABLE.sub(r"{\1}", rule.rule)
            found |= {(method, path) for method in methods}
    return found | OTHER_JSON_ROUTES


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete", "options")
    }


def subschemas(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON Schema in the document (each media type's and parameter's `schema`)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                yield value
            yield from subschemas(value)
    elif isinstance(node, list):
        for item in node:
            yield from subschemas(item)


def test_openapi_json_is_served_and_is_valid_openapi_3_1(client: FlaskClient) -> None:
    response = client.get("/openapi.json")

    assert (response.status_code, response.mimetype) == (200, "application/json")
    document = response.get_json()
    assert document["openapi"] == "3.1.1"
    assert list(Draft202012Validator(OPENAPI_31).iter_errors(document)) == []
    loaded = schemathesis.openapi.from_dict(document)
    assert len(list(loaded.get_all_operations())) == len(operations(document))


def test_every_json_route_is_in_the_document_and_nothing_else(app: Flask) -> None:
    document = build_document(app)

    assert operations(document) == routes(app)
    assert undocumented(app) == []


def test_a_json_route_without_a_declaration_is_reported(app: Flask) -> None:
    app.add_url_rule("/api/v1/admin/forgotten", "forgotten", lambda: jsonify(ok=True))

    assert undocumented(app) == ["GET /api/v1/admin/forgotten"]
    assert "/api/v1/admin/forgotten" not in build_document(app)["paths"]


def test_every_schema_in_the_document_is_valid_json_schema_2020_12(app: Flask) -> None:
    found = list(subschemas(build_document(app)["paths"]))

    assert len(found) > 40
    for schema in found:
        Draft202012Validator.check_schema(schema)


def test_every_example_in_the_document_matches_its_schema(app: Flask) -> None:
    with_examples = [s for s in subschemas(build_document(app)["paths"]) if "examples" in s]

    assert len(with_examples) >= 4
    for schema in with_examples:
        for example in schema["examples"]:
            assert list(Draft202012Validator(schema).iter_errors(example)) == []


def test_the_document_publishes_the_schemas_the_views_validate_with(app: Flask) -> None:
    paths = build_document(app)["paths"]

    def request_schema(path: str) -> dict[str, Any]:
        return paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]

    assert request_schema("/api/v1/stores/{store_key}/optins") == OPTIN_REQUEST
    assert request_schema("/api/v1/stores/{store_key}/carts") == CART_SNAPSHOT
    optin = paths["/api/v1/stores/{store_key}/optins"]["post"]["responses"]
    assert sorted(optin) == ["202", "400", "403", "404", "413", "422", "429", "503"]
    assert optin["429"]["headers"]["Retry-After"]["schema"] == {"type": "string"}


def test_webhooks_document_their_signature_headers(app: Flask) -> None:
    paths = build_document(app)["paths"]

    def headers(path: str) -> set[str]:
        parameters = paths[path]["post"]["parameters"]
        return {p["name"] for p in parameters if p["in"] == "header" and p["required"]}

    assert "X-Shopify-Hmac-Sha256" in headers("/webhooks/shopify")
    assert "X-WC-Webhook-Signature" in headers("/webhooks/woocommerce/{store_id}")
    assert headers("/webhooks/whatsapp") == {"X-Hub-Signature-256"}


def test_path_ids_are_bounded_as_the_int_converter_bounds_them(app: Flask) -> None:
    parameters = build_document(app)["paths"]["/webhooks/woocommerce/{store_id}"]["post"][
        "parameters"
    ]

    assert parameters[0]["schema"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_DATABASE_INTEGER,
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"consent": True, "wording_version": 1}, Problem("phone", "required")),
        ({"phone": None, "consent": True, "wording_version": 1}, ("phone", "required")),
        ({"phone": "1", "consent": 1, "wording_version": 1}, ("consent", "const")),
        ({"phone": "1", "consent": True, "wording_version": 2.0}, ("wording_version", "type")),
        ({"phone": "1", "consent": True, "wording_version": 0}, ("wording_version", "minimum")),
        ({"phone": "1" * 65, "consent": True, "wording_version": 1}, ("phone", "length")),
        ({"phone": "1", "consent": True, "wording_version": 1, "locale": None}, None),
        ([], ("", "type")),
    ],
)
def test_first_problem_names_the_field_and_keyword_as_the_views_expect(
    body: Any, problem: tuple[str, str] | None
) -> None:
    expected = Problem(*problem) if isinstance(problem, tuple) else problem

    assert first_problem(body, OPTIN_REQUEST) == expected


def test_first_problem_names_nested_fields_with_their_index() -> None:
    snapshot = CART_SNAPSHOT["examples"][0]
    bad_item = {"product_id": "31", "quantity": 0, "price_minor": 1}

    problem = first_problem(snapshot | {"items": [bad_item]}, CART_SNAPSHOT)

    assert problem == Problem("items[0].quantity", "minimum")
