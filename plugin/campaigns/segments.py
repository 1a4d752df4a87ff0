"""Segments: a small rule language over what ShopNudge knows, compiled to one SQL query.

A segment is `{"rules": [rule, ...]}`; every rule must hold (AND). A rule names one fact:

    {"rule": "language", "in": ["de"]}              subscription (else customer) language
    {"rule": "country", "in": ["DE", "AT"]}         the customer's country
    {"rule": "days_since_last_order", "min": 30, "max": 90}
    {"rule": "orders", "min": 2}                    number of orders (purchases only)
    {"rule": "total_spent", "min": 5000}            minor units, over all purchases
    {"rule": "bought", "product": "<platform product id>", "within_days": 30}
    {"rule": "bought", "category": "<product type>"}
    {"rule": "never_bought", "product": "..."}      (or "category")
    {"rule": "engaged", "within_days": 30}          read or clicked a message of the shop
    {"rule": "cart_abandoned", "within_days": 7}
    {"rule": "subscribed_days", "min": 14}          confirmed at least that long ago

A buyer's orders are those of their customer record or their phone number, as attribution
matches them. The query selects subscriptions in any state: the audience module then says why
each one is or is not sent to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session, aliased

from plugin.models import (
    Cart,
    CartState,
    Customer,
    Notification,
    Order,
    OrderLine,
    Product,
    Store,
    Subscription,
)
from plugin.sync.purchases import NOT_A_PURCHASE

RANGE_RULES = ("days_since_last_order", "orders", "total_spent", "subscribed_days")
LIST_RULES = ("language", "country")
PRODUCT_RULES = ("bought", "never_bought")
WITHIN_RULES = ("engaged", "cart_abandoned")
RULES = RANGE_RULES + LIST_RULES + PRODUCT_RULES + WITHIN_RULES


class SegmentError(ValueError):
    """A segment the rule language does not allow; the message says where and why."""


def validate(segment: Any) -> dict[str, Any]:
    """The segment as given when it is valid; SegmentError naming the first mistake otherwise."""
    if not isinstance(segment, dict) or set(segment) - {"rules"}:
        raise SegmentError('a segment is an object {"rules": [...]}')
    rules = segment.get("rules", [])
    if not isinstance(rules, list):
        raise SegmentError('"rules" must be a list')
    for number, rule in enumerate(rules, 1):
        _validate_rule(number, rule)
    return {"rules": rules}


def _validate_rule(number: int, rule: Any) -> None:
    where = f"rule {number}"
    if not isinstance(rule, dict) or rule.get("rule") not in RULES:
        raise SegmentError(f'{where}: "rule" must be one of {", ".join(RULES)}')
    name = rule["rule"]
    allowed = {"rule"} | _keys(name)
    unknown = sorted(set(rule) - allowed)
    if unknown:
        raise SegmentError(f"{where} ({name}): unknown key {unknown[0]!r}")
    if name in LIST_RULES:
        values = rule.get("in")
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) for v in values)
        ):
            raise SegmentError(f'{where} ({name}): "in" must be a non-empty list of codes')
    if name in RANGE_RULES:
        if "min" not in rule and "max" not in rule:
            raise SegmentError(f'{where} ({name}): give "min", "max" or both')
        for key in ("min", "max"):
            _whole(where, name, key, rule.get(key))
        if "min" in rule and "max" in rule and rule["min"] > rule["max"]:
            raise SegmentError(f'{where} ({name}): "min" is greater than "max"')
    if name in PRODUCT_RULES and sum(k in rule for k in ("product", "category")) != 1:
        raise SegmentError(f'{where} ({name}): give exactly one of "product" or "category"')
    if name in PRODUCT_RULES:
        target = rule.get("product", rule.get("category"))
        if not isinstance(target, str) or not target.strip():
            raise SegmentError(f"{where} ({name}): the product or category must be a text")
    if name in WITHIN_RULES and "within_days" not in rule:
        raise SegmentError(f'{where} ({name}): "within_days" is required')
    if "within_days" in rule:
        _whole(where, name, "within_days", rule["within_days"])


def _keys(name: str) -> set[str]:
    if name in LIST_RULES:
        return {"in"}
    if name in RANGE_RULES:
        return {"min", "max"}
    if name in PRODUCT_RULES:
        return {"product", "category", "within_days"}
    return {"within_days"}


#: The largest number a rule may hold: days beyond a century overflow the date arithmetic, and
#: counts or minor units beyond a database integer overflow the query's parameters.
MAX_DAYS = 36_500
MAX_NUMBER = 2**53


def _whole(where: str, name: str, key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SegmentError(f"{where} ({name}): {key!r} must be a whole number ≥ 0")
    days = key == "within_days" or name in ("days_since_last_order", "subscribed_days")
    limit = MAX_DAYS if days else MAX_NUMBER
    if value > limit:
        raise SegmentError(f"{where} ({name}): {key!r} must be at most {limit}")


#: Memory PostgreSQL may give each hash and sort of a segment query in its transaction. The
#: purchase figures hash one row per customer (100,000 customers: about 10 MB): under the
#: default 4 MB the hash spills to disk and the planner reads the orders through an index
#: instead, and a count over 1M orders costs 1.2 CPU-seconds instead of 0.8.
WORK_MEM = "32MB"


def make_room(session: Session) -> None:
    """Let this transaction's segment queries hash in memory (PostgreSQL; nothing elsewhere)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))


#: Rules answered from the buyer's purchase figures (one grouped query, joined once).
ORDER_RULES = ("orders", "total_spent", "days_since_last_order")


def audience_query(store: Store, segment: dict[str, Any], now: dt.datetime) -> Select[Any]:
    """(Subscription, Customer or None) of every subscription of the shop in the segment."""
    rules = validate(segment)["rules"]
    statement = select(Subscription, Customer).outerjoin(
        Customer, Customer.id == Subscription.customer_id
    )
    figures = None
    if any(rule["rule"] in ORDER_RULES for rule in rules):
        figures = purchase_figures(store)
        statement = statement.outerjoin(
            figures.by_customer, figures.by_customer.c.customer_id == Subscription.customer_id
        ).outerjoin(figures.by_phone, figures.by_phone.c.subscription_id == Subscription.id)
    conditions = [_condition(store, rule, now, figures) for rule in rules]
    return statement.where(Subscription.store_id == store.id, and_(true(), *conditions)).order_by(
        Subscription.id
    )


def count_query(store: Store, segment: dict[str, Any], now: dt.datetime) -> Select[Any]:
    """How many subscriptions the segment holds (any state), as one query."""
    inner = audience_query(store, segment, now).with_only_columns(Subscription.id).order_by(None)
    return select(func.count()).select_from(inner.subquery())


def _is_purchase() -> ColumnElement[bool]:
    return and_(
        Order.cancelled_at.is_(None),
        or_(Order.status.is_(None), func.lower(Order.status).not_in(NOT_A_PURCHASE)),
    )


@dataclass(frozen=True)
class Figures:
    """A buyer's purchases in two parts joined to the subscription: those of their customer
    record (one row per customer) and those placed with their number under no or another
    customer record (one row per subscription). The two sets are disjoint, so the sums add."""

    by_customer: Any
    by_phone: Any

    @property
    def orders(self) -> ColumnElement[Any]:
        return func.coalesce(self.by_customer.c.orders, 0) + func.coalesce(
            self.by_phone.c.orders, 0
        )

    @property
    def total_minor(self) -> ColumnElement[Any]:
        return func.coalesce(self.by_customer.c.total_minor, 0) + func.coalesce(
            self.by_phone.c.total_minor, 0
        )

    @property
    def last_placed_at(self) -> ColumnElement[Any]:
        """The later of the two (either may be missing; SQLite has no GREATEST)."""
        mine, by_number = self.by_customer.c.placed_at, self.by_phone.c.placed_at
        return case(
            (by_number.is_(None), mine),
            (mine.is_(None), by_number),
            (mine >= by_number, mine),
            else_=by_number,
        )


def purchase_figures(store: Store) -> Figures:
    """Per buyer: purchases, their total and the last one's time, as two grouped queries.

    The orders are summed per customer in one grouped pass and joined by customer record: no
    per-order join to the subscriptions, no second grouping, and the planner joins it to the
    subscriptions by hash (joining each of 1M orders to its subscription first, then grouping
    again, cost twice the CPU). A correlated count per subscription had made 100,000
    subscriptions scan the orders 100,000 times.
    """
    by_customer = (
        select(
            Order.customer_id,
            func.count().label("orders"),
            func.sum(Order.total_minor).label("total_minor"),
            func.max(Order.placed_at).label("placed_at"),
        )
        .where(Order.store_id == store.id, Order.customer_id.is_not(None), _is_purchase())
        .group_by(Order.customer_id)
        .subquery("by_customer")
    )
    buyer = aliased(Subscription, name="buyer")
    by_phone = (
        select(
            buyer.id.label("subscription_id"),
            func.count().label("orders"),
            func.sum(Order.total_minor).label("total_minor"),
            func.max(Order.placed_at).label("placed_at"),
        )
        .join(Order, and_(Order.store_id == store.id, Order.phone == buyer.phone))
        .where(
            buyer.store_id == store.id,
            _is_purchase(),
            or_(
                buyer.customer_id.is_(None),
                Order.customer_id.is_(None),
                Order.customer_id != buyer.customer_id,
            ),
        )
        .group_by(buyer.id)
        .subquery("by_phone")
    )
    return Figures(by_customer, by_phone)


def _purchases(store: Store) -> ColumnElement[bool]:
    """Orders of this subscription's buyer that count as purchases (the product rules)."""
    buyer = or_(
        and_(Subscription.customer_id.is_not(None), Order.customer_id == Subscription.customer_id),
        Order.phone == Subscription.phone,
    )
    return and_(Order.store_id == store.id, buyer, _is_purchase())


def _range(column: Any, rule: dict[str, Any]) -> ColumnElement[bool]:
    parts = []
    if rule.get("min") is not None:
        parts.append(column >= rule["min"])
    if rule.get("max") is not None:
        parts.append(column <= rule["max"])
    return and_(*parts)


def _condition(
    store: Store, rule: dict[str, Any], now: dt.datetime, figures: Figures | None = None
) -> ColumnElement[bool]:
    name = rule["rule"]
    if name == "language":
        language = func.lower(
            func.substr(func.coalesce(Subscription.locale, Customer.locale, ""), 1, 2)
        )
        return language.in_([code.lower()[:2] for code in rule["in"]])
    if name == "country":
        return func.upper(Customer.country).in_([code.upper() for code in rule["in"]])
    if name == "orders":
        return _range(figures.orders, rule)
    if name == "total_spent":
        return _range(figures.total_minor, rule)
    if name == "days_since_last_order":
        last = figures.last_placed_at
        parts = []
        if rule.get("min") is not None:  # the last order is at least `min` days old
            parts.append(last <= now - dt.timedelta(days=rule["min"]))
        if rule.get("max") is not None:
            parts.append(last >= now - dt.timedelta(days=rule["max"]))
        return and_(last.is_not(None), *parts)
    if name == "subscribed_days":
        parts = [Subscription.confirmed_at.is_not(None)]
        if rule.get("min") is not None:
            parts.append(Subscription.confirmed_at <= now - dt.timedelta(days=rule["min"]))
        if rule.get("max") is not None:
            parts.append(Subscription.confirmed_at >= now - dt.timedelta(days=rule["max"]))
        return and_(*parts)
    if name in PRODUCT_RULES:
        bought = exists(_bought(store, rule, now))
        return bought if name == "bought" else ~bought
    since = now - dt.timedelta(days=rule["within_days"])
    if name == "engaged":
        return exists(
            select(Notification.id).where(
                Notification.store_id == store.id,
                Notification.phone == Subscription.phone,
                or_(Notification.read_at >= since, Notification.clicked_at >= since),
            )
        )
    return exists(  # cart_abandoned
        select(Cart.id).where(
            Cart.store_id == store.id,
            or_(
                Cart.phone == Subscription.phone,
                and_(
                    Subscription.customer_id.is_not(None),
                    Cart.customer_id == Subscription.customer_id,
                ),
            ),
            Cart.state == CartState.ABANDONED,
            Cart.last_activity_at >= since,
        )
    )


def _bought(store: Store, rule: dict[str, Any], now: dt.datetime) -> Select[Any]:
    statement = (
        select(OrderLine.id).join(Order, Order.id == OrderLine.order_id).where(_purchases(store))
    )
    if "product" in rule:
        statement = statement.where(OrderLine.platform_product_id == rule["product"].strip())
    else:
        statement = statement.join(Product, Product.id == OrderLine.product_id).where(
            func.lower(Product.product_type) == rule["category"].strip().lower()
        )
    if rule.get("within_days") is not None:
        statement = statement.where(Order.placed_at >= now - dt.timedelta(days=rule["within_days"]))
    return statement
