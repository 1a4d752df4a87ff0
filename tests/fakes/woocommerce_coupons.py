"""The coupons endpoint of the fake WooCommerce: create, as WC_REST_Coupons_Controller does.

Codes are kept lower-case (wc_format_coupon_code) and unique per shop: a second one is 400
`woocommerce_rest_coupon_code_already_exists`; a missing code, an unknown discount type or an
amount that is not a number is refused as WordPress refuses a bad parameter.
https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-coupon
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")


def _refusal(code: str, message: str, status: int = 400) -> Response:
    response = jsonify(code=code, message=message, data={"status": status})
    response.status_code = status
    return response


def add_coupon_routes(app: Flask, coupons: dict[str, dict[str, Any]], api: str) -> None:
    """POST {api}/coupons; the created coupons are kept in `coupons` by their code."""

    @app.post(f"{api}/coupons")
    def create_coupon() -> Response:
        body: Any = request.get_json(silent=True)
        if not isinstance(body, dict) or not str(body.get("code") or "").strip():
            return _refusal("rest_missing_callback_param", "Missing parameter(s): code")
        if body.get("discount_type", "fixed_cart") not in DISCOUNT_TYPES:
            return _refusal("rest_invalid_param", "Invalid parameter(s): discount_type")
        try:
            float(str(body.get("amount", "0")))
        except ValueError:
            return _refusal("rest_invalid_param", "Invalid parameter(s): amount")
        code = str(body["code"]).strip().lower()
        if code in coupons:
            return _refusal(
                "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists"
            )
        coupon = {"id": len(coupons) + 1, **body, "code": code, "usage_count": 0}
        coupons[code] = coupon
        response = jsonify(coupon)
        response.status_code = 201
        return response
