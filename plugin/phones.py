"""Phone numbers: parsed and checked with phonenumbers, stored as E.164."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class InvalidPhone(ValueError):
    """Not a number WhatsApp can reach; `reason` is machine-readable, the message human."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_phone(raw: str, default_region: str, *, mobile_only: bool = True) -> str:
    """E.164 for a typed number; the shop's country is the region for numbers without +prefix."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("phone_missing", "Please enter a mobile number.")
    try:
        number = phonenumbers.parse(text, default_region.upper() or None)
    except NumberParseException:  # its own text is for developers, not for buyers
        raise InvalidPhone("phone_unparseable", "This is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("phone_invalid", "This number does not exist in its country's plan.")
    if mobile_only:
        kind = phonenumbers.number_type(number)
        # Where the metadata cannot tell (UNKNOWN), give the buyer the benefit of the doubt.
        if kind not in _MOBILE_TYPES and kind != PhoneNumberType.UNKNOWN:
            raise InvalidPhone("phone_not_mobile", "WhatsApp needs a mobile number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(raw: str | None, default_region: str) -> str | None:
    """E.164 for a number a platform gave us, or None when it is not a valid number."""
    if not raw:
        return None
    try:
        return parse_phone(raw, default_region, mobile_only=False)
    except InvalidPhone:
        return None


def phone_region(e164: str) -> str | None:
    """ISO country of an E.164 number, for its time zone when nothing better is known."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except NumberParseException:
        return None
