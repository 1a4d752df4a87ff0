"""The web app's blueprints, one per area; a new area adds one line here."""

from __future__ import annotations

from importlib import import_module

from flask import Blueprint

#: Every module that defines a blueprint `bp`, in registration order.
BLUEPRINT_MODULES = (
    "plugin.web.health",
    "plugin.web.home",
    "plugin.web.auth",
    "plugin.web.storefront",
    "plugin.web.unsubscribe",
    "plugin.web.admin_consent",
    "plugin.web.campaigns",
    "plugin.whatsapp.routes",
    "plugin.shopify.routes",
    "plugin.shopify.storefront",
    "plugin.web.app",
    "plugin.woocommerce.routes",
    "plugin.web.carts",
    "plugin.web.links",
    "plugin.web.openapi",
)


def blueprints() -> list[Blueprint]:
    return [import_module(name).bp for name in BLUEPRINT_MODULES]
