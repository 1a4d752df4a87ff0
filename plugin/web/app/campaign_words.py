"""A segment's rules in the owner's words ("At least 2 orders"), not as their JSON."""

from __future__ import annotations

from typing import Any

from plugin.i18n import gettext as _
from plugin.i18n import money_minor


def _range(rule: dict[str, Any], words: tuple[str, str, str], money: str | None = None) -> str:
    """One of "from min to max", "at least min", "at most max", each already translated."""
    low, high = rule.get("min"), rule.get("max")
    shown = {
        key: money_minor(value, money) if money else value
        for key, value in (("min", low), ("max", high))
        if value is not None
    }
    both, at_least, at_most = words
    if low is not None and high is not None:
        return both % shown
    return (at_least if low is not None else at_most) % shown


def describe_rule(rule: dict[str, Any], currency: str) -> str:
    """The rule as a sentence in the owner's language."""
    name = rule["rule"]
    if name == "language":
        return _("Language: %(codes)s", codes=", ".join(rule["in"]))
    if name == "country":
        return _("Country: %(codes)s", codes=", ".join(rule["in"]))
    if name == "days_since_last_order":
        return _range(
            rule,
            (
                _("Last order %(min)s to %(max)s days ago"),
                _("Last order at least %(min)s days ago"),
                _("Last order at most %(max)s days ago"),
            ),
        )
    if name == "orders":
        return _range(
            rule,
            (
                _("%(min)s to %(max)s orders"),
                _("At least %(min)s orders"),
                _("At most %(max)s orders"),
            ),
        )
    if name == "total_spent":
        return _range(
            rule,
            (
                _("Spent %(min)s to %(max)s"),
                _("Spent at least %(min)s"),
                _("Spent at most %(max)s"),
            ),
            money=currency,
        )
    if name == "subscribed_days":
        return _range(
            rule,
            (
                _("Subscribed %(min)s to %(max)s days ago"),
                _("Subscribed for at least %(min)s days"),
                _("Subscribed for at most %(max)s days"),
            ),
        )
    if name in ("bought", "never_bought"):
        return _bought(rule)
    if name == "engaged":
        return _("Read or clicked a message within %(days)s days", days=rule["within_days"])
    return _("Left a cart within %(days)s days", days=rule["within_days"])


def _bought(rule: dict[str, Any]) -> str:
    product, category = rule.get("product"), rule.get("category")
    days = rule.get("within_days")
    if rule["rule"] == "never_bought":
        if product is not None:
            return _("Never bought product %(target)s", target=product)
        return _("Never bought from category %(target)s", target=category)
    if days is None:
        if product is not None:
            return _("Bought product %(target)s", target=product)
        return _("Bought from category %(target)s", target=category)
    if product is not None:
        return _("Bought product %(target)s within %(days)s days", target=product, days=days)
    return _("Bought from category %(target)s within %(days)s days", target=category, days=days)
