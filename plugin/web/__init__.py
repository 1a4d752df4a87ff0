"""The web app's blueprints, one per area; a new area adds one line here."""

from __future__ import annotations

from flask import Blueprint


def blueprints() -> list[Blueprint]:
    from plugin.web import (
        admin_consent,
        auth,
        carts,
        health,
        home,
        storefront,
        unsubscribe,
        woocommerce,
    )

    return [
        health.bp,
        home.bp,
        auth.bp,
        storefront.bp,
        unsubscribe.bp,
        admin_consent.bp,
        woocommerce.bp,
        carts.bp,
    ]
