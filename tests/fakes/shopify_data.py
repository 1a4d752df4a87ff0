"""The fake shop's catalogue, buyers, orders and checkouts, in Admin GraphQL shapes."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

BASE_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
#: Generated records are this far apart in updated_at, so the sync overlap re-reads few.
SPACING = dt.timedelta(minutes=30)


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: int, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": f"{amount / 100:.2f}", "currencyCode": currency}}


@dataclass
class ShopData:
    """Everything in the fake shop; ids are numbers well above 2**53 like Shopify's."""

    domain: str
    currency: str = "EUR"
    #: `Shop.ianaTimezone` and `Shop.shopAddress.countryCodeV2`.
    timezone: str = "Europe/Berlin"
    country: str = "DE"
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    checkouts: dict[int, dict[str, Any]] = field(default_factory=dict)

    def seed(
        self,
        *,
        products: int = 0,
        customers: int = 0,
        orders: int = 0,
        checkouts: int = 0,
        seed: int = 7,
    ) -> None:
        rng = random.Random(seed)
        for n in range(1, products + 1):
            self._product(9_100_000_000_000_000 + n, n, rng)
        for n in range(1, customers + 1):
            self._customer(9_200_000_000_000_000 + n, n, rng)
        product_ids = list(self.products)
        customer_ids = list(self.customers)
        for n in range(1, orders + 1):
            self._order(9_300_000_000_000_000 + n, n, rng, product_ids, customer_ids)
        for n in range(1, checkouts + 1):
            self._checkout(9_400_000_000_000_000 + n, n, rng, product_ids, customer_ids)

    def _at(self, n: int) -> str:
        return iso(BASE_TIME + SPACING * n)

    def _product(self, pid: int, n: int, rng: random.Random) -> None:
        variants = [
            {
                "id": gid("ProductVariant", pid * 10 + k),
                "title": f"{250 * (k + 1)} g",
                "sku": f"SKU-{n}-{k}",
                "price": f"{rng.randint(300, 4000) / 100:.2f}",
                "inventoryQuantity": rng.randint(0, 40),
                "availableForSale": True,
            }
            for k in range(rng.randint(1, 3))
        ]
        self.products[pid] = {
            "id": gid("Product", pid),
            "title": f"Tea blend {n}",
            "handle": f"tea-blend-{n}",
            "onlineStoreUrl": f"https://{self.domain}/products/tea-blend-{n}",
            "productType": "Tea",
            "tags": ["organic"] if n % 2 else [],
            "status": "ACTIVE",
            "updatedAt": self._at(n),
            "featuredMedia": {
                "__typename": "MediaImage",  # featuredMedia is the Media interface
                "preview": {"image": {"url": f"https://cdn.example/{n}.jpg"}},
            },
            "variants": {"nodes": variants},
            "collections": {
                "nodes": [
                    {
                        "id": gid("Collection", 500 + n % 4),
                        "title": ["Green", "Black", "Herbal", "Gifts"][n % 4],
                    }
                ]
            },
        }

    def _customer(self, cid: int, n: int, rng: random.Random) -> None:
        self.customers[cid] = {
            "id": gid("Customer", cid),
            "firstName": "Erika",
            "lastName": f"Muster{n}",
            "locale": "de",
            "updatedAt": self._at(n),
            "defaultEmailAddress": {"emailAddress": f"buyer{n}@example.com"},
            "defaultPhoneNumber": {
                "phoneNumber": f"+4915{n:09d}",
                "whatsAppMarketingConsent": {"state": "NEVER_SUBSCRIBED"},
            },
            "defaultAddress": {"countryCodeV2": "DE"},
        }

    def _lines(self, oid: int, rng: random.Random, product_ids: list[int], kind: str) -> list:
        lines = []
        for k in range(rng.randint(1, 3)):
            product = self.products[rng.choice(product_ids)] if product_ids else None
            variant = product["variants"]["nodes"][0] if product else None
            lines.append(
                {
                    "id": gid(kind, oid * 10 + k),
                    "title": product["title"] if product else "Gift",
                    "quantity": rng.randint(1, 3),
                    "originalUnitPriceSet": money(rng.randint(300, 4000), self.currency),
                    "product": {"id": product["id"]} if product else None,
                    "variant": {"id": variant["id"]} if variant else None,
                }
            )
        return lines

    def _order(
        self, oid: int, n: int, rng: random.Random, products: list[int], customers: list[int]
    ) -> None:
        customer = self.customers[rng.choice(customers)] if customers else None
        lines = self._lines(oid, rng, products, "LineItem")
        total = sum(
            int(float(line["originalUnitPriceSet"]["shopMoney"]["amount"]) * 100) * line["quantity"]
            for line in lines
        )
        self.orders[oid] = {
            "id": gid("Order", oid),
            "name": f"#{1000 + n}",
            "createdAt": self._at(n),
            "processedAt": self._at(n),
            "updatedAt": self._at(n),
            "cancelledAt": None,
            "closed": False,
            "checkoutToken": f"tok{oid}",
            "email": None,
            "phone": None,
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": "UNFULFILLED",
            "customer": {"id": customer["id"]} if customer else None,
            "totalPriceSet": money(total, self.currency),
            "lineItems": {"nodes": lines},
        }

    def _checkout(
        self, cid: int, n: int, rng: random.Random, products: list[int], customers: list[int]
    ) -> None:
        customer = self.customers[rng.choice(customers)] if customers else None
        self.checkouts[cid] = {
            "id": gid("AbandonedCheckout", cid),
            "abandonedCheckoutUrl": f"https://{self.domain}/1/checkouts/ck{cid}/recover?key=k{n}",
            "createdAt": self._at(n),
            "updatedAt": self._at(n),
            "completedAt": None,
            "customer": {"id": customer["id"], "locale": "de"} if customer else None,
            "totalPriceSet": money(rng.randint(1000, 9000), self.currency),
            "lineItems": {"nodes": self._lines(cid, rng, products, "AbandonedCheckoutLineItem")},
        }

    def collection(self, resource: str) -> dict[int, dict[str, Any]]:
        return {
            "products": self.products,
            "customers": self.customers,
            "orders": self.orders,
            "carts": self.checkouts,
        }[resource]

    # -- one record at a time (journeys and tests that need a particular buyer) ----------------
    def _next_number(self, resource: str, base: int) -> int:
        return max(self.collection(resource), default=base) + 1

    def add_product(
        self, *, title: str = "Tea blend", price_minor: int = 990, at: dt.datetime | None = None
    ) -> int:
        """One product with one variant in stock; returns its number (the gid's last part)."""
        pid = self._next_number("products", 9_100_000_000_000_000)
        n = len(self.products) + 1
        self._product(pid, n, random.Random(pid))
        node = self.products[pid]
        node.update(title=title, updatedAt=iso(at or BASE_TIME))
        variant = node["variants"]["nodes"][0]
        variant.update(price=f"{price_minor / 100:.2f}", inventoryQuantity=10)
        node["variants"]["nodes"] = [variant]
        return pid

    def add_customer(
        self,
        *,
        phone: str | None,
        email: str | None = None,
        locale: str = "de",
        whatsapp_state: str = "NEVER_SUBSCRIBED",
        country: str = "DE",
        at: dt.datetime | None = None,
    ) -> int:
        """One customer; `whatsapp_state` is their WhatsApp marketing consent on Shopify."""
        cid = self._next_number("customers", 9_200_000_000_000_000)
        self._customer(cid, len(self.customers) + 1, random.Random(cid))
        node = self.customers[cid]
        node.update(locale=locale, updatedAt=iso(at or BASE_TIME))
        node["defaultEmailAddress"] = {"emailAddress": email} if email else None
        node["defaultAddress"] = {"countryCodeV2": country}
        node["defaultPhoneNumber"] = (
            {"phoneNumber": phone, "whatsAppMarketingConsent": {"state": whatsapp_state}}
            if phone
            else None
        )
        return cid

    def _lines_of(self, number: int, products: list[tuple[int, int]], kind: str) -> list:
        """Lines for (product number, quantity) pairs, at each product's first variant's price."""
        lines = []
        for k, (pid, quantity) in enumerate(products):
            product = self.products[pid]
            variant = product["variants"]["nodes"][0]
            price = round(float(variant["price"]) * 100)
            lines.append(
                {
                    "id": gid(kind, number * 10 + k),
                    "title": product["title"],
                    "quantity": quantity,
                    "originalUnitPriceSet": money(price, self.currency),
                    "product": {"id": product["id"]},
                    "variant": {"id": variant["id"]},
                }
            )
        return lines

    @staticmethod
    def _total(lines: list[dict[str, Any]]) -> int:
        return sum(
            round(float(line["originalUnitPriceSet"]["shopMoney"]["amount"]) * 100)
            * line["quantity"]
            for line in lines
        )

    def add_checkout(
        self,
        *,
        products: list[tuple[int, int]],
        customer: int | None = None,
        token: str | None = None,
        at: dt.datetime | None = None,
        completed_at: dt.datetime | None = None,
    ) -> int:
        """One abandoned checkout of (product, quantity) lines; its token is in its recovery URL."""
        cid = self._next_number("carts", 9_400_000_000_000_000)
        lines = self._lines_of(cid, products, "AbandonedCheckoutLineItem")
        buyer = self.customers[customer] if customer else None
        self.checkouts[cid] = {
            "id": gid("AbandonedCheckout", cid),
            "abandonedCheckoutUrl": (
                f"https://{self.domain}/1/checkouts/{token or f'ck{cid}'}/recover?key=k{cid}"
            ),
            "createdAt": iso(at or BASE_TIME),
            "updatedAt": iso(at or BASE_TIME),
            "completedAt": iso(completed_at) if completed_at else None,
            "customer": {"id": buyer["id"], "locale": buyer["locale"]} if buyer else None,
            "totalPriceSet": money(self._total(lines), self.currency),
            "lineItems": {"nodes": lines},
        }
        return cid

    def add_order(
        self,
        *,
        products: list[tuple[int, int]],
        customer: int | None = None,
        checkout_token: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        at: dt.datetime | None = None,
        financial_status: str = "PAID",
    ) -> int:
        """One order of (product, quantity) lines, placed (and last updated) at `at`."""
        oid = self._next_number("orders", 9_300_000_000_000_000)
        lines = self._lines_of(oid, products, "LineItem")
        moment = iso(at or BASE_TIME)
        self.orders[oid] = {
            "id": gid("Order", oid),
            "name": f"#{1000 + len(self.orders) + 1}",
            "createdAt": moment,
            "processedAt": moment,
            "updatedAt": moment,
            "cancelledAt": None,
            "closed": False,
            "checkoutToken": checkout_token,
            "email": email,
            "phone": phone,
            "displayFinancialStatus": financial_status,
            "displayFulfillmentStatus": "UNFULFILLED",
            "customer": {"id": self.customers[customer]["id"]} if customer else None,
            "totalPriceSet": money(self._total(lines), self.currency),
            "lineItems": {"nodes": lines},
        }
        return oid

    def touch(self, resource: str, ids: list[int], at: dt.datetime, **changes: Any) -> None:
        for number in ids:
            node = self.collection(resource)[number]
            node.update(changes)
            node["updatedAt"] = iso(at)


CHILD_FIELDS = ("variants", "collections", "lineItems")


def bulk_lines(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSONL objects for a bulk result; each parent's last child comes after the next parent."""
    out: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []
    for node in nodes:
        parent = {k: v for k, v in node.items() if k not in CHILD_FIELDS}
        out.append(parent)
        out.extend(late)
        late = []
        children = [
            dict(child, __parentId=node["id"])
            for name in CHILD_FIELDS
            for child in (node.get(name) or {}).get("nodes", [])
        ]
        if children:
            late = children[-1:]
            out.extend(children[:-1])
    out.extend(late)
    return out
