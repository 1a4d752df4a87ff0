"""Finding one buyer in free text: a stored webhook body, an error message, a data export.

Platforms write the same buyer many ways: a number in E.164, nationally with spaces or
slashes, or as WhatsApp's bare digits; an e-mail in any case; a name in any case, escaped in
JSON (`J\\u00fcrgen`) or decomposed. Text is decoded and folded before it is compared, and
numbers are recognised with `phonenumbers`, so an erasure does not hinge on one spelling.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import phonenumbers
from phonenumbers import Leniency, NumberParseException, PhoneNumberMatcher

#: A run of characters a written phone number consists of (digits and the usual separators).
NUMBER_RUN = re.compile(r"[+\d][\d\s().\-/]{4,}\d")


def fold(text: str) -> str:
    """Compatibility-composed and case-folded: "JÜRGEN", "Ju\u0308rgen" and "jürgen" agree."""
    return unicodedata.normalize("NFKC", text).casefold()


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        yield str(value)


def readable(raw: bytes | str) -> str:
    """A body's text with JSON escapes and URL encoding undone (what a person would read)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        decoded = json.loads(text)
    except ValueError:
        return f"{text}\n{unquote_plus(text)}"
    return "\n".join([text, *_leaves(decoded)])


def _digit_forms(e164: str) -> tuple[set[str], set[str]]:
    """Every digit string the number is written as, and the regions to read text in."""
    try:
        number = phonenumbers.parse(e164)
    except NumberParseException:
        digits = re.sub(r"\D", "", e164)
        return ({digits} if digits else set()), set()
    country = str(number.country_code)
    national = phonenumbers.national_significant_number(number)
    region = phonenumbers.region_code_for_number(number)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region or "", None)
    trunk = (metadata.national_prefix if metadata else None) or ""
    forms = {country + national, "00" + country + national, trunk + national}
    if trunk:
        forms.add(country + trunk + national)  # "+49 (0)151 …"
    return forms, {region} if region else set()


@dataclass(frozen=True)
class BuyerTraces:
    """The buyer's identifiers in every form they may be written in."""

    phones: frozenset[str]
    digit_forms: frozenset[str]
    regions: frozenset[str]
    emails: frozenset[str]
    names: tuple[re.Pattern[str], ...]
    addresses: frozenset[str]
    #: WhatsApp business-scoped user ids: a hidden number's webhooks name the buyer by these.
    user_ids: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        phones: Iterable[str],
        emails: Iterable[str],
        names: Iterable[str],
        addresses: Iterable[str] = (),
        region: str = "",
        user_ids: Iterable[str] = (),
    ) -> BuyerTraces:
        forms: set[str] = set()
        regions = {region.upper()} if region else set()
        for phone in phones:
            phone_forms, phone_regions = _digit_forms(phone)
            forms |= phone_forms
            regions |= phone_regions
        return cls(
            phones=frozenset(phones),
            digit_forms=frozenset(form for form in forms if len(form) >= 6),
            regions=frozenset(regions),
            emails=frozenset(fold(e) for e in emails if e),
            names=tuple(
                re.compile(rf"(?<!\w){re.escape(fold(name))}(?!\w)")
                for name in {n.strip() for n in names if n and n.strip()}
            ),
            addresses=frozenset(a for a in addresses if a),
            user_ids=frozenset(u for u in user_ids if u),
        )

    def __bool__(self) -> bool:
        return bool(self.phones or self.emails or self.names or self.addresses or self.user_ids)

    def found_in(self, text: str | bytes | None) -> bool:
        """True when the text names the buyer in any of the ways above."""
        if not text:
            return False
        plain = readable(text)
        folded = fold(plain)
        if any(email in folded for email in self.emails):
            return True
        if any(pattern.search(folded) for pattern in self.names):
            return True
        if any(address in plain for address in self.addresses):
            return True
        if any(user_id in plain for user_id in self.user_ids):
            return True
        return self._has_phone(plain)

    def _has_phone(self, text: str) -> bool:
        if not self.digit_forms:
            return False
        for run in NUMBER_RUN.findall(text):
            if re.sub(r"\D", "", run) in self.digit_forms:
                return True
        for region in self.regions:
            for match in PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE):
                e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
                if e164 in self.phones:
                    return True
        return False
