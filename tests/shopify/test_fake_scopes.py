"""The fake shop refuses a field whose schema entry requires a scope the token lacks, as Shopify.

Shopify answers HTTP 200 with the field null and an error whose `extensions.code` is
ACCESS_DENIED and whose `requiredAccess` quotes the schema; nothing is done. The requirement is
read from the vendor's schema (`requiredAccess` of each field), not from a list of our own.
https://shopify.dev/changelog/new-error-messages-for-graphql-operations-without-necessary-access-scopes
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.coupons import CouponRequest
from connectors.shopify import queries
from connectors.shopify.coupons import DISCOUNT_CODE_CREATE, discount_input
from connectors.shopify.scopes import GRANTED_SCOPES
from plugin.config import ENVIRONMENT, Settings
from plugin.models import Store
from tests.fakes.shopify import FakeShopify
from tests.fakes.shopify_access import required_access, scope_groups
from tests.shopify.test_oauth import _signed
from tests.vendor import vendor_file

ASKED_BY_DEFAULT = "read_products,read_customers,write_customers,read_orders"
CARTS = "query Carts { abandonedCheckouts(first: 1) { nodes { id } } }"


@pytest.fixture(autouse=True)
def _schema_present() -> None:
    vendor_file("shopify", "admin_2026-07.json.gz")


def _post(fake: FakeShopify, token: str, query: str, variables: dict[str, Any]) -> Any:
    return requests.post(
        f"{fake.url}/admin/api/2026-07/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": token},
        timeout=10,
    )


def _discount(code: str) -> dict[str, Any]:
    starts = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    return {"basicCodeDiscount": discount_input(CouponRequest(code, "Winter", 15, starts, None))}


def test_discount_code_without_write_discounts_is_denied_in_shopifys_shape_and_not_created() -> (
    None
):
    with FakeShopify() as fake:
        # given a token with what ShopNudge asked for before it asked for write_discounts
        token = fake.issue_token(scopes=ASKED_BY_DEFAULT)

        # when it creates a discount code
        answer = _post(fake, token, DISCOUNT_CODE_CREATE, _discount("WINTERAAAA11"))

        # then HTTP 200, the field null, ACCESS_DENIED with the schema's own requirement
        column = DISCOUNT_CODE_CREATE.index("discountCodeBasicCreate(") + 1
        assert answer.status_code == 200
        body = answer.json()
        assert body["data"] == {"discountCodeBasicCreate": None}
        assert body["errors"] == [
            {
                "message": "Access denied for discountCodeBasicCreate field. Required access: "
                "Apps must have `write_discounts` access scope.",
                "locations": [{"line": 1, "column": column}],
                "path": ["discountCodeBasicCreate"],
                "extensions": {
                    "code": "ACCESS_DENIED",
                    "documentation": "https://shopify.dev/api/usage/access-scopes",
                    "requiredAccess": "Apps must have `write_discounts` access scope.",
                },
            }
        ]
        # and nothing was resolved or created
        assert fake.discounts == {} and fake.operations == []
        assert [r.operation for r in fake.denied] == ["CreateDiscountCode"]


def test_discount_code_with_write_discounts_is_created() -> None:
    with FakeShopify() as fake:
        token = fake.issue_token(scopes=ASKED_BY_DEFAULT + ",write_discounts")
        answer = _post(fake, token, DISCOUNT_CODE_CREATE, _discount("WINTERAAAA11")).json()
        assert "errors" not in answer
        assert list(fake.discounts) == ["WINTERAAAA11"]
        assert fake.denied == []


def test_a_write_scope_includes_its_read_scope_and_a_missing_read_is_denied() -> None:
    with FakeShopify() as fake:
        writes = fake.issue_token(scopes="write_orders")
        nothing = fake.issue_token(scopes="read_products")

        allowed = _post(fake, writes, CARTS, {}).json()
        denied = _post(fake, nothing, CARTS, {}).json()

        assert "errors" not in allowed and allowed["data"]["abandonedCheckouts"]["nodes"] == []
        assert [e["extensions"]["requiredAccess"] for e in denied["errors"]] == [
            required_access("2026-07")[("QueryRoot", "abandonedCheckouts")]
        ]
        assert denied["errors"][0]["extensions"]["requiredAccess"].startswith(
            "`read_orders` access scope."
        )


def test_scopes_read_back_are_the_tokens_and_change_when_the_owner_approves_more() -> None:
    with FakeShopify() as fake:
        token = fake.issue_token(scopes=ASKED_BY_DEFAULT)
        before = _post(fake, token, GRANTED_SCOPES, {}).json()["data"]
        fake.grant(ASKED_BY_DEFAULT + ",write_discounts")
        after = _post(fake, token, GRANTED_SCOPES, {}).json()["data"]
        created = _post(fake, token, DISCOUNT_CODE_CREATE, _discount("WINTERAAAA11")).json()

        handles = [s["handle"] for s in before["currentAppInstallation"]["accessScopes"]]
        assert handles == sorted(ASKED_BY_DEFAULT.split(","))
        assert "write_discounts" in [
            s["handle"] for s in after["currentAppInstallation"]["accessScopes"]
        ]
        assert "errors" not in created and list(fake.discounts) == ["WINTERAAAA11"]


def test_oauth_grants_what_the_app_asked_for_and_the_refreshed_token_keeps_it() -> None:
    with FakeShopify() as fake:
        approved = requests.get(
            f"{fake.url}/admin/oauth/authorize",
            params={"client_id": fake.api_key, "scope": "read_orders", "redirect_uri": "x"},
            allow_redirects=False,
            timeout=5,
        )
        code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
        keys = {"client_id": fake.api_key, "client_secret": fake.secret}
        first = requests.post(
            f"{fake.url}/admin/oauth/access_token", json={**keys, "code": code}, timeout=5
        ).json()
        second = requests.post(
            f"{fake.url}/admin/oauth/access_token",
            json={**keys, "grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            timeout=5,
        ).json()

        assert (first["scope"], second["scope"]) == ("read_orders", "read_orders")
        denied = _post(fake, second["access_token"], DISCOUNT_CODE_CREATE, _discount("A1"))
        assert denied.json()["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("Apps must have `write_discounts` access scope.", [{"write_discounts"}]),
        (
            "`read_orders` access scope. Also: The user must have manage_abandoned_checkouts "
            "permission.",
            [{"read_orders"}],
        ),
        (
            "`write_customers` access scope or `write_companies` access scope.",
            [{"write_customers", "write_companies"}],
        ),
        (
            "`write_products` access scope as well as any of `write_own_subscription_contracts`, "
            "`write_purchase_options` access scopes.",
            [{"write_products"}, {"write_own_subscription_contracts", "write_purchase_options"}],
        ),
        ("the same access level needed to mutate the owner resource.", None),
        ("Any of `shipping` access scopes or `manage_delivery_settings` user permission.", None),
    ],
)
def test_requirement_texts_read_as_scope_groups(text: str, groups: list[set[str]] | None) -> None:
    assert scope_groups(text) == ([frozenset(g) for g in groups] if groups else None)


def test_the_app_toml_and_the_default_setting_ask_for_write_discounts() -> None:
    toml = Path(__file__).resolve().parents[2] / "shopify.app.toml"
    with toml.open("rb") as raw:
        managed = set(tomllib.load(raw)["access_scopes"]["scopes"].split(","))
    asked = set(str(ENVIRONMENT["SHOPIFY_SCOPES"]).split(","))
    (field,) = [f for f in dataclasses.fields(Settings) if f.name == "shopify_scopes"]
    assert field.default == ENVIRONMENT["SHOPIFY_SCOPES"]
    assert "write_discounts" in asked
    assert asked <= managed and managed - asked == {"write_app_proxy"}


def test_an_install_asks_for_write_discounts_and_the_shop_keeps_the_scopes_granted(
    client: FlaskClient, session: Session, fake: FakeShopify
) -> None:
    # given the owner installs through the OAuth flow and approves on Shopify's page
    start = client.get("/shopify/install", query_string=_signed(fake))
    asked = parse_qs(urlsplit(start.headers["Location"]).query)["scope"][0]
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(approved.headers["Location"])
    installed = client.get(f"{callback.path}?{callback.query}")

    # then ShopNudge asked for write_discounts, and the shop row keeps what Shopify granted
    assert installed.status_code == 302
    assert asked == ENVIRONMENT["SHOPIFY_SCOPES"] and "write_discounts" in asked.split(",")
    store = session.scalars(select(Store)).one()
    assert set(store.credentials["scope"].split(",")) == set(asked.split(","))
    # and its token may create discount codes on the shop
    token = store.credentials["access_token"]
    created = _post(fake, token, DISCOUNT_CODE_CREATE, _discount("WINTERAAAA11")).json()
    assert "errors" not in created and list(fake.discounts) == ["WINTERAAAA11"]


def test_a_bulk_query_needing_a_scope_the_token_lacks_fails_with_access_denied() -> None:
    with FakeShopify() as fake:
        # given the abandoned-checkout bulk query, run with and without read_orders
        inner = queries.bulk_query("carts")
        results = []
        for scopes in ("read_products", "read_orders"):
            token = fake.issue_token(scopes=scopes)
            run = _post(fake, token, queries.BULK_RUN, {"query": inner}).json()
            operation = run["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
            for _ in range(2):  # the fake finishes a permitted operation at its second look
                node = _post(fake, token, queries.BULK_NODE, {"id": operation}).json()
            results.append((node["data"]["node"]["status"], node["data"]["node"]["errorCode"]))

        # then Shopify's documented outcome: created, then FAILED with ACCESS_DENIED
        assert results == [("FAILED", "ACCESS_DENIED"), ("COMPLETED", None)]
