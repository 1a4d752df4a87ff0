"""Coupon-code buttons in a template send: what Meta documents after the v23 spec.

Meta's coupon templates ("Coupon code templates", marketing) carry a COPY_CODE button; a send
fills it with a button component of `sub_type` COPY_CODE and one parameter
`{"type": "coupon_code", "coupon_code": "..."}` (at most 15 characters). The v23 OpenAPI
description knows neither, so the fake's contract is widened by exactly these two and nothing
else: the sub-type (in either case, as Meta's pages write it upper-case), and that parameter.
https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/marketing-templates/coupon-templates
"""

from __future__ import annotations

from typing import Any

#: Meta's limit on a coupon code's length.
COUPON_CODE_MAX = 15
_REF = "#/components/schemas/"


def allow_coupon_buttons(schemas: dict[str, Any]) -> None:
    """Add the COPY_CODE sub-type and the coupon_code button parameter to the schemas."""
    button = next(
        branch
        for branch in schemas["ButtonComponent"]["allOf"]
        if "sub_type" in branch.get("properties", {})
    )
    for schema in (button, schemas["TemplateComponent"]):  # the base repeats the sub-types
        schema["properties"]["sub_type"]["enum"] += ["copy_code", "COPY_CODE"]
    parameter = schemas["ButtonParameterObject"]
    parameter["properties"]["type"]["enum"].append("coupon_code")
    parameter["discriminator"]["mapping"]["coupon_code"] = f"{_REF}ButtonCouponCodeParameter"
    schemas["ButtonCouponCodeParameter"] = {
        "allOf": [
            {"$ref": f"{_REF}ButtonParameterObject"},
            {
                "type": "object",
                "required": ["coupon_code"],
                "properties": {
                    "type": {"enum": ["coupon_code"]},
                    "coupon_code": {"type": "string", "minLength": 1, "maxLength": COUPON_CODE_MAX},
                },
            },
        ]
    }
