"""`GET /openapi.json`: the OpenAPI 3.1 document of every JSON endpoint, built from the code.

Each JSON view declares what it takes and answers with `@documented(...)`, beside its route,
using the schemas of `plugin.web.schemas` (the same dicts its validation uses). The document
is built from `app.url_map`, so paths, methods and path parameters come from the routes
themselves; a JSON route without a declaration fails `tests/test_openapi.py`.
https://spec.openapis.org/oas/v3.1.1.html
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.routing import Rule

from plugin.web.guards import MAX_DATABASE_INTEGER
from plugin.web.schemas.errors import BUSY, ERROR

bp = Blueprint("openapi", __name__)

ViewT = TypeVar("ViewT", bound=Callable[..., Any])

#: Where every route answers JSON (errors included, see `plugin._register_errors`).
JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz")
#: The standard reading of each status we answer, used where a view gives no description.
STATUS_TEXT = {
    200: "OK",
    202: "Accepted",
    204: "No content (CORS preflight)",
    400: "The request is malformed (not JSON, nested too deeply, not the documented shape)",
    401: "Not authenticated, or the signature does not match the body",
    403: "Refused: a foreign origin, a wrong verify token, or no CSRF token",
    404: "No such shop, object or route",
    413: "The body is larger than the server accepts",
    422: "Well-formed, but a field's value is refused; `reason` says which",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: "The database is busy or unreachable; retry after `Retry-After` seconds",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}},
}


@dataclass(frozen=True)
class Answer:
    """One documented response: its body's schema (None: empty) and media type."""

    schema: Mapping[str, Any] | None = None
    description: str = ""
    media_type: str = "application/json"
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Header:
    """A request header an operation reads (a signature, a topic)."""

    description: str
    required: bool = True
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Operation:
    """What one view takes and answers; paths and path parameters come from its route."""

    summary: str
    tag: str
    responses: Mapping[int, Answer]
    body: Mapping[str, Any] | None = None
    body_required: bool = True
    query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    headers: Mapping[str, Header] = field(default_factory=dict)
    owner: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


def errors(*statuses: int, schema: Mapping[str, Any] = ERROR) -> dict[int, Answer]:
    """The app's JSON error body for each status (`Retry-After` on 429 and 503)."""
    return {
        status: Answer(
            BUSY if status == 503 else schema,
            headers=_RETRY_AFTER if status in (429, 503) else {},
        )
        for status in statuses
    }


def documented(
    summary: str,
    tag: str,
    responses: Mapping[int, Answer],
    **details: Any,
) -> Callable[[ViewT], ViewT]:
    """Declare a JSON view's contract; put it right under the route decorator."""
    operation = Operation(summary=summary, tag=tag, responses=responses, **details)

    def mark(view: ViewT) -> ViewT:
        view.openapi = operation  # type: ignore[attr-defined]
        return view

    return mark


def operation_of(app: Flask, rule: Rule) -> Operation | None:
    return getattr(app.view_functions.get(rule.endpoint), "openapi", None)


def json_rules(app: Flask) -> Iterator[Rule]:
    """Every route that answers JSON: under the JSON prefixes, or declared by its view."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(JSON_PREFIXES) or operation_of(app, rule) is not None:
            yield rule


def rule_methods(rule: Rule) -> list[str]:
    """The methods a route serves on purpose: not HEAD, and OPTIONS only where it is the view's
    own (a CORS preflight), not Flask's automatic answer."""
    methods = set(rule.methods or ()) - {"HEAD"}
    if methods != {"OPTIONS"}:
        methods.discard("OPTIONS")
    return sorted(methods)


def undocumented(app: Flask) -> list[str]:
    """`METHOD /rule` of every JSON route whose view declares no contract (should be none)."""
    return sorted(
        f"{method} {rule.rule}"
        for rule in json_rules(app)
        if operation_of(app, rule) is None
        for method in rule_methods(rule)
    )


_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 0, "maximum": MAX_DATABASE_INTEGER},
    "path": {"type": "string", "minLength": 1},
    "default": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
}


def _path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    parameters = [
        {
            "name": match["name"],
            "in": "path",
            "required": True,
            "schema": _CONVERTER_SCHEMAS.get(match["converter"] or "default", {"type": "string"}),
        }
        for match in _VARIABLE.finditer(rule.rule)
    ]
    return _VARIABLE.sub(lambda match: "{" + match["name"] + "}", rule.rule), parameters


def _response(status: int, answer: Answer) -> dict[str, Any]:
    result: dict[str, Any] = {"description": answer.description or STATUS_TEXT.get(status, "")}
    if answer.schema is not None:
        result["content"] = {answer.media_type: {"schema": dict(answer.schema)}}
    if answer.headers:
        result["headers"] = dict(answer.headers)
    return result


def _operation(method: str, rule: Rule, operation: Operation) -> dict[str, Any]:
    path, parameters = _path(rule)
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": dict(schema)}
        for name, schema in operation.query.items()
    ]
    parameters += [
        {
            "name": name,
            "in": "header",
            "required": header.required,
            "description": header.description,
            "schema": dict(header.schema),
        }
        for name, header in operation.headers.items()
    ]
    result: dict[str, Any] = {
        # unique per method and path (one view may serve several paths)
        "operationId": re.sub(r"\W+", "_", f"{method} {path}").strip("_").lower(),
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": {
            str(status): _response(status, answer)
            for status, answer in sorted(operation.responses.items())
        },
    }
    if parameters:
        result["parameters"] = parameters
    if operation.body is not None and method in ("POST", "PUT", "PATCH"):
        result["requestBody"] = {
            "required": operation.body_required,
            "content": {"application/json": {"schema": dict(operation.body)}},
        }
    if operation.owner:
        result["security"] = [{"ownerSession": []}, {"shopifySessionToken": []}]
    result.update(operation.extra)
    return result


def build_document(app: Flask) -> dict[str, Any]:
    """The whole document; routes of JSON prefixes without a declaration are left out (and
    fail the test that compares the document with `app.url_map`)."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(json_rules(app), key=lambda rule: rule.rule):
        operation = operation_of(app, rule)
        if operation is None:
            continue
        path, _ = _path(rule)
        item = paths.setdefault(path, {})
        for method in rule_methods(rule):
            item[method.lower()] = _operation(method, rule, operation)
    settings = app.config["SHOPNUDGE"]
    return {
        "openapi": "3.1.1",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "ShopNudge",
            "version": "1",
            "description": "WhatsApp marketing notifications with provable consent: the "
            "storefront API, the shop owner's admin API and the platforms' webhooks.",
        },
        "servers": [{"url": settings.public_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "ownerSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": app.config.get("SESSION_COOKIE_NAME", "session"),
                    "description": "Set by a one-time sign-in link (`shopnudge stores "
                    "login-link STORE`); state changes also need the `X-CSRFToken` header.",
                },
                "shopifySessionToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An App Bridge session token, inside the Shopify admin.",
                },
            }
        },
    }


@bp.get("/openapi.json")
@documented(
    "This document",
    "meta",
    {200: Answer({"type": "object", "required": ["openapi", "paths"]})},
)
def openapi_document() -> ResponseReturnValue:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    document = app.extensions.get("shopnudge_openapi")
    if document is None:
        document = app.extensions["shopnudge_openapi"] = build_document(app)
    return jsonify(document)
