"""Shopify's Admin GraphQL schema, as the fake shop checks every request against it.

The schema is Shopify's own introspection result for a pinned API version (see the vendor
folder's SOURCES.md). A document that does not validate, or variables that do not fit their
declared types, are answered the way Shopify's GraphQL server (graphql-ruby) answers them:
HTTP 200, no `data`, and `errors` with `message`, `locations` and `extensions.code`.
https://shopify.dev/docs/api/admin-graphql#status-and-error-codes
"""

from __future__ import annotations

import functools
import gzip
import json
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_client_schema,
    execute_sync,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.validation import (
    FieldsOnCorrectTypeRule,
    KnownArgumentNamesRule,
    KnownTypeNamesRule,
    NoUndefinedVariablesRule,
    NoUnusedVariablesRule,
    ProvidedRequiredArgumentsRule,
    ScalarLeafsRule,
    ValuesOfCorrectTypeRule,
    VariablesInAllowedPositionRule,
)

from tests.vendor import find_vendor_file

#: The API version ShopNudge pins, and the next one (a document valid in both survives upgrade).
PINNED_VERSION = "2026-07"
NEXT_VERSION = "2026-10"

#: graphql-ruby's error code for each validation rule (what Shopify puts in extensions.code).
RULE_CODES: tuple[tuple[Any, str], ...] = (
    (FieldsOnCorrectTypeRule, "undefinedField"),
    (ValuesOfCorrectTypeRule, "argumentLiteralsIncompatible"),
    (ProvidedRequiredArgumentsRule, "missingRequiredArguments"),
    (KnownArgumentNamesRule, "argumentNotAccepted"),
    (VariablesInAllowedPositionRule, "variableMismatch"),
    (NoUndefinedVariablesRule, "variableNotDefined"),
    (NoUnusedVariablesRule, "variableNotUsed"),
    (KnownTypeNamesRule, "undefinedType"),
    (ScalarLeafsRule, "selectionMismatch"),
)


@functools.cache
def admin_schema(version: str = PINNED_VERSION) -> GraphQLSchema | None:
    """The Admin schema of `version`, built once per process; None where the file is absent.

    `assert_valid_schema` is never run: Shopify's schema has deprecated fields on interface
    implementations that graphql-core's own schema check rejects.
    """
    path = find_vendor_file("shopify", f"admin_{version}.json.gz")
    if path is None:
        return None
    with gzip.open(path) as raw:
        return build_client_schema(json.load(raw)["data"], assume_valid=True)


def _error(error: GraphQLError, code: str | None) -> dict[str, Any]:
    shaped: dict[str, Any] = {"message": error.message}
    if error.locations:
        shaped["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if code:
        shaped["extensions"] = {"code": code}
    return shaped


def _code(schema: GraphQLSchema, document: DocumentNode, error: GraphQLError) -> str:
    """Name the rule that raised `error` by running the rules one at a time (failures only)."""
    for rule, code in RULE_CODES:
        if any(e.message == error.message for e in validate(schema, document, [rule])):
            return code
    return "validationError"


def document_errors(schema: GraphQLSchema, query: str) -> list[dict[str, Any]]:
    """Shopify-shaped errors for a document that does not parse or validate; [] when it does."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return [_error(error, "parseError")]
    errors = validate(schema, document, specified_rules)
    return [_error(error, _code(schema, document, error)) for error in errors]


def variable_errors(
    schema: GraphQLSchema, query: str, variables: dict[str, Any]
) -> list[dict[str, Any]]:
    """Shopify-shaped errors for variables that do not fit the operation's declarations."""
    operations = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    errors: list[dict[str, Any]] = []
    for operation in operations:
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            errors.extend(_error(error, "INVALID_VARIABLE") for error in coerced)
    return errors


def request_errors(
    query: str, variables: dict[str, Any], version: str = PINNED_VERSION
) -> list[dict[str, Any]]:
    """Every reason Shopify would refuse this request; [] when it is valid or no schema is here."""
    schema = admin_schema(version)
    if schema is None:
        return []
    return document_errors(schema, query) or variable_errors(schema, query, variables)


def project(
    query: str, variables: dict[str, Any], data: dict[str, Any], version: str = PINNED_VERSION
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Answer the document from `data` as Shopify would: only the fields it selects, by alias.

    `data` holds whole objects (the fake's records) under each root field; executing the
    document over them with graphql-core's default resolvers keeps what was asked for, in the
    schema's types, so a client can never read a field it did not select. Objects behind an
    interface carry their `__typename`. Without a schema the data goes back whole.
    """
    schema = admin_schema(version)
    if schema is None:
        return data, []
    result = execute_sync(schema, parse(query), root_value=data, variable_values=variables)
    errors = [{"message": error.message, "path": error.path} for error in result.errors or ()]
    return result.data, errors
