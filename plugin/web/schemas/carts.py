"""A buyer's cart snapshot from the widget, and what we answer about a cart."""

from __future__ import annotations

from plugin.models import CartState
from plugin.web.guards import MAX_DATABASE_INTEGER
from plugin.web.schemas.base import TEXT, object_schema

#: The widget's cart snapshot (WooCommerce has no abandoned carts of its own).
CART_ITEM = object_schema(
    {
        "product_id": {"type": ["string", "integer"], "minLength": 1, "maxLength": 64},
        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_DATABASE_INTEGER},
        "price_minor": {"type": "integer", "minimum": 0, "maximum": MAX_DATABASE_INTEGER},
    },
    variation_id={"type": ["string", "integer", "null"], "maxLength": 64},
    name={"type": ["string", "null"], "maxLength": 512},
)
CART_SNAPSHOT = object_schema(
    {
        "cart_token": {"type": ["string", "integer"], "minLength": 1, "maxLength": 255},
        "items": {"type": "array", "maxItems": 250, "items": CART_ITEM},
        "total_minor": {"type": "integer", "minimum": 0, "maximum": MAX_DATABASE_INTEGER},
        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
    },
    phone={"type": ["string", "integer", "null"], "maxLength": 64},
    email={"type": ["string", "null"], "maxLength": 320},
    locale={"type": ["string", "null"], "maxLength": 35},
    country={"type": ["string", "null"], "maxLength": 2},
) | {
    "examples": [
        {
            "cart_token": "t-0001",
            "items": [{"product_id": "31", "quantity": 2, "name": "Beans", "price_minor": 1290}],
            "total_minor": 2580,
            "currency": "EUR",
            "phone": "0151 23456789",
        }
    ]
}
_CART_STATE = {"enum": [state.value for state in CartState]}
CART_ACCEPTED = object_schema({"cart": object_schema({"token": TEXT, "state": _CART_STATE})})
CART = object_schema(
    {
        "cart": object_schema(
            {
                "token": TEXT,
                "state": _CART_STATE,
                "remaining_items": {"type": "array", "items": {"type": "object"}},
                "store_api_path": TEXT,
            }
        )
    }
)
