"""Who a message greets: Meta refuses a template whose text parameter is empty.

A buyer whose first name is unknown (a guest checkout, a widget opt-in) would otherwise get
"Hi , your cart…" — or rather nothing: the Cloud API answers `(#100) Invalid parameter`
("Parameter 'text' is mandatory for component parameter type 'text'") and the message is lost.
"""

from __future__ import annotations

#: The word that stands for the name in "Hi {{1}}" / "Hallo {{1}}", per language.
UNNAMED: dict[str, str] = {"de": "du", "en": "there"}


def greeting_name(first_name: str | None, locale: str | None) -> str:
    """The buyer's first name, or the language's word for an unnamed greeting."""
    if first_name and first_name.strip():
        return first_name.strip()
    return UNNAMED.get((locale or "en")[:2].lower(), UNNAMED["en"])
