"""The fake shop refuses what Shopify refuses, in Shopify's shape, and resolves nothing then.

Shopify answers an invalid document with HTTP 200 and an `errors` list (message, locations,
extensions.code), without `data`. https://shopify.dev/docs/api/admin-graphql#status-and-error-codes
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests

from tests.fakes.shopify import FakeShopify
from tests.vendor import vendor_file


@pytest.fixture(autouse=True)
def _schema_present() -> None:
    vendor_file("shopify", "admin_2026-07.json.gz")


def _post(fake: FakeShopify, query: str, variables: dict[str, Any] | None = None) -> Any:
    return requests.post(
        f"{fake.url}/admin/api/2026-07/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": fake.issue_token()},
        timeout=10,
    )


@pytest.mark.parametrize(
    ("query", "variables", "message", "code", "location"),
    [
        (
            "query ShopNudgeCarts { abandonedCheckouts(first: 5, sortKey: UPDATED_AT) "
            "{ nodes { id } } }",
            {},
            "Value 'UPDATED_AT' does not exist in 'AbandonedCheckoutSortKeys' enum."
            " Did you mean the enum value 'CREATED_AT'?",
            "argumentLiteralsIncompatible",
            {"line": 1, "column": 62},
        ),
        (
            "query ShopNudgeShop { shop { currencyCode phoneNumber } }",
            {},
            "Cannot query field 'phoneNumber' on type 'Shop'.",
            "undefinedField",
            {"line": 1, "column": 43},
        ),
        (
            "query ShopNudgeBulkNode { node { id } }",
            {},
            "Argument 'QueryRoot.node(id:)' of type 'ID!' is required, but it was not provided.",
            "missingRequiredArguments",
            {"line": 1, "column": 27},
        ),
        (
            "query ShopNudgeBulkNode($id: ID!) { node(id: $id) { id } }",
            {},
            "Variable '$id' has invalid value:"
            " Expected a value of non-null type 'ID!' to be provided.",
            "INVALID_VARIABLE",
            {"line": 1, "column": 25},
        ),
    ],
    ids=["unknown-enum-value", "unknown-field", "missing-argument", "missing-variable"],
)
def test_fake_refuses_an_invalid_request_like_shopify(
    query: str, variables: dict[str, Any], message: str, code: str, location: dict[str, int]
) -> None:
    with FakeShopify() as fake:
        # when a request Shopify would refuse arrives
        response = _post(fake, query, variables)
        # then it is answered 200 with Shopify's error shape and no data
        assert response.status_code == 200
        assert response.json() == {
            "errors": [{"message": message, "locations": [location], "extensions": {"code": code}}]
        }
        # and nothing was resolved or charged, and the refusal is in the request log
        assert fake.operations == []
        assert fake.available == fake.maximum
        assert [(r.query, r.errors[0]["message"]) for r in fake.refused] == [(query, message)]


def test_fake_answers_a_valid_request_and_logs_it_unrefused() -> None:
    with FakeShopify() as fake:
        response = _post(fake, "query ShopNudgeShop { shop { currencyCode } }")
        assert response.json()["data"]["shop"]["currencyCode"] == "EUR"
        assert [(r.operation, r.errors) for r in fake.requests] == [("ShopNudgeShop", [])]
        assert fake.refused == []


def _ids(answer: Any) -> list[str]:
    return [n["id"].rsplit("/", 1)[1] for n in answer.json()["data"]["abandonedCheckouts"]["nodes"]]


def test_fake_honours_sort_key_reverse_updated_at_filters_and_cursors() -> None:
    # given three checkouts whose update times run against their ids
    with FakeShopify() as fake:
        product = fake.data.add_product()
        at = [dt.datetime(2026, 5, day, 12, tzinfo=dt.UTC) for day in (3, 2, 1)]
        first, second, third = (
            fake.data.add_checkout(products=[(product, 1)], at=moment) for moment in at
        )
        query = (
            "query Page($after: String, $search: String) { abandonedCheckouts(first: 1, "
            "after: $after, query: $search, sortKey: CREATED_AT, reverse: true) "
            "{ pageInfo { hasNextPage endCursor } nodes { id } } }"
        )
        # when they are read newest first, one per page, updated from 2 May on
        search = "updated_at:>='2026-05-02T00:00:00Z'"
        page_one = _post(fake, query, {"search": search})
        cursor = page_one.json()["data"]["abandonedCheckouts"]["pageInfo"]["endCursor"]
        page_two = _post(fake, query, {"search": search, "after": cursor})
        # then the filter drops the oldest and the order and cursors follow the sort key
        assert (_ids(page_one), _ids(page_two)) == ([str(first)], [str(second)])
        assert page_two.json()["data"]["abandonedCheckouts"]["pageInfo"]["hasNextPage"] is False
        by_id = _post(
            fake,
            "{ abandonedCheckouts(first: 5, sortKey: ID, "
            "query: \"updated_at:<'2026-05-03T00:00:00Z'\") { nodes { id } } }",
        )
        assert _ids(by_id) == [str(second), str(third)]
        assert fake.refused == []


def test_fake_refuses_a_bulk_query_that_does_not_fit_the_schema() -> None:
    with FakeShopify() as fake:
        answer = _post(
            fake,
            "mutation Run($query: String!) { bulkOperationRunQuery(query: $query) "
            "{ bulkOperation { id } userErrors { field message } } }",
            {"query": "{ abandonedCheckouts { edges { node { id phone } } } }"},
        )
        assert answer.json()["data"]["bulkOperationRunQuery"] == {
            "bulkOperation": None,
            "userErrors": [
                {
                    "field": ["query"],
                    "message": "Invalid bulk query: Cannot query field 'phone' on type "
                    "'AbandonedCheckout'. Did you mean 'note'?",
                }
            ],
        }
        assert fake.bulk == {}
