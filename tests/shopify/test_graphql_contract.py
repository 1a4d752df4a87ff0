"""Every GraphQL document the Shopify connector can send holds in the pinned and the next API.

The documents are gathered from `connectors/shopify/` itself (its module-level GraphQL strings
and what its query builders make for every resource), so a new query is checked the day it is
written. Each must validate against Shopify's Admin schema 2026-07 and 2026-10 and use no
deprecated field, argument or enum value (what is deprecated today is removed in a later version).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from graphql import GraphQLEnumType, GraphQLSchema, parse, validate
from graphql.validation import NoDeprecatedCustomRule

import connectors.shopify
from connectors.shopify import queries
from plugin.shopify.install import TOPICS
from tests.fakes.shopify_schema import NEXT_VERSION, PINNED_VERSION, admin_schema
from tests.vendor import vendor_file

VERSIONS = (PINNED_VERSION, NEXT_VERSION)


def _is_document(value: object) -> bool:
    text = value.strip() if isinstance(value, str) else ""
    return text.startswith(("query ", "mutation ", "{"))


def connector_documents() -> dict[str, str]:
    """Name -> document for every GraphQL text the connector package holds or builds."""
    documents: dict[str, str] = {}
    for module_info in pkgutil.iter_modules(connectors.shopify.__path__):
        module = importlib.import_module(f"connectors.shopify.{module_info.name}")
        for name, value in vars(module).items():
            if _is_document(value):
                documents[f"{module_info.name}.{name}"] = value
    builders = [
        (name, function)
        for name, function in inspect.getmembers(queries, inspect.isfunction)
        if name.endswith("_query") and function.__module__ == queries.__name__
    ]
    for name, build in builders:
        for resource in queries.SELECTIONS:
            documents[f"queries.{name}({resource!r})"] = build(resource)
    return documents


DOCUMENTS = connector_documents()


def _schema(version: str) -> GraphQLSchema:
    vendor_file("shopify", f"admin_{version}.json.gz")  # skip (or fail in CI) where absent
    schema = admin_schema(version)
    assert schema is not None
    return schema


def test_documents_are_collected_from_the_connector() -> None:
    # the collection itself must find the reads, the writes and the generated queries
    assert {"queries.SHOP", "queries.BULK_RUN", "queries.WHATSAPP_CONSENT_UPDATE"} <= set(DOCUMENTS)
    assert "queries.page_query('carts')" in DOCUMENTS
    assert "queries.bulk_query('orders')" in DOCUMENTS
    assert len(DOCUMENTS) >= 14  # 6 written out, 2 builders for 4 resources


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_connector_document_is_valid_and_not_deprecated(name: str, version: str) -> None:
    schema = _schema(version)
    document = parse(DOCUMENTS[name])
    assert [error.message for error in validate(schema, document)] == []
    assert [error.message for error in validate(schema, document, [NoDeprecatedCustomRule])] == []


@pytest.mark.parametrize("version", VERSIONS)
def test_subscribed_webhook_topics_exist_and_are_not_deprecated(version: str) -> None:
    topic_type = _schema(version).get_type("WebhookSubscriptionTopic")
    assert isinstance(topic_type, GraphQLEnumType)
    missing = [topic for topic in TOPICS if topic not in topic_type.values]
    deprecated = [
        topic
        for topic in TOPICS
        if topic in topic_type.values and topic_type.values[topic].deprecation_reason
    ]
    assert (missing, deprecated) == ([], [])


@pytest.mark.parametrize("version", VERSIONS)
def test_the_old_cart_sort_key_would_have_been_caught(version: str) -> None:
    # the check is not vacuous: the document the connector sent before names no real sort key
    schema = _schema(version)
    old = queries.page_query("carts").replace("sortKey: ID", "sortKey: UPDATED_AT")
    assert [e.message for e in validate(schema, parse(old))] == [
        "Value 'UPDATED_AT' does not exist in 'AbandonedCheckoutSortKeys' enum."
        " Did you mean the enum value 'CREATED_AT'?"
    ]
    deprecated = (
        "query { currentBulkOperation(type: QUERY) { id } "
        "customer(id: 1) { defaultPhoneNumber { marketingState } } }"
    )
    messages = [e.message for e in validate(schema, parse(deprecated), [NoDeprecatedCustomRule])]
    assert [message.split(" is deprecated")[0] for message in messages] == [
        "The field QueryRoot.currentBulkOperation",
        "The field CustomerPhoneNumber.marketingState",
    ]
