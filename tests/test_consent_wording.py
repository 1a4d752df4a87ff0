"""Opt-in wording: versions stay, locales are BCP-47, the lint catches wording that fails."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from plugin.consent import wording
from plugin.models import Store
from tests.factories import make_store


def codes(text: str, store: Store) -> list[tuple[str, str]]:
    return [(m.level, m.code) for m in wording.lint_wording(text, store)]


def test_default_wordings_pass_the_lint(session: Session) -> None:
    store = make_store(session, name="Kaffeerösterei Wagner")

    shipped = wording.ensure_default_wordings(session, store)

    assert set(shipped) == {"de", "en"}
    for version in shipped.values():
        assert wording.lint_wording(version.text, store) == []
        assert "Kaffeerösterei Wagner" in version.text and "WhatsApp" in version.text


def test_lint_rejects_wording_without_business_or_channel(session: Session) -> None:
    store = make_store(session, name="Wagner")

    assert codes("Ja, ich möchte Angebote per WhatsApp. Abmelden mit STOP.", store) == [
        ("error", "business_missing")
    ]
    assert codes("Ja, Wagner darf mir Angebote schicken. Abmelden mit STOP.", store) == [
        ("error", "channel_missing")
    ]
    assert codes("", store) == [("error", "empty")]


def test_lint_warns_without_an_opt_out_hint(session: Session) -> None:
    store = make_store(session, name="Wagner")

    assert codes("Ja, Wagner darf mir per WhatsApp Angebote schicken.", store) == [
        ("warning", "opt_out_hint_missing")
    ]
    assert codes("Yes, WAGNER may send me whatsapp offers. Reply STOP to end.", store) == []


def test_editing_makes_a_new_version_and_keeps_the_old_text(session: Session) -> None:
    store = make_store(session, name="Wagner")
    first = wording.add_wording_version(session, store, "pt-BR", "Sim, Wagner WhatsApp v1", "o")

    second = wording.add_wording_version(session, store, "pt_br", "Sim, Wagner WhatsApp v2", "o")

    assert (first.locale, first.version, first.text) == ("pt-BR", 1, "Sim, Wagner WhatsApp v1")
    assert (second.locale, second.version) == ("pt-BR", 2)
    assert wording.current_wording(session, store, "pt-BR") is second


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [("de", "de"), ("DE-at", "de-AT"), ("zh-hant-tw", "zh-Hant-TW"), ("es-419", "es-419")],
)
def test_locales_are_canonical_bcp47(tag: str, canonical: str) -> None:
    assert wording.normalise_locale(tag) == canonical


@pytest.mark.parametrize("tag", ["", "german", "de-", "d", "de-AT-", "<script>", "en GB"])
def test_malformed_locales_are_refused(session: Session, tag: str) -> None:
    store = make_store(session)
    with pytest.raises(wording.InvalidLocale):
        wording.add_wording_version(session, store, tag, "Wagner WhatsApp", "owner")


@given(st.text(max_size=40))
def test_locale_candidates_always_end_with_the_shops_default(requested: str) -> None:
    candidates = wording.locale_candidates(requested, "de")

    assert "de" in candidates
    assert len(candidates) == len(set(candidates))
    assert all(wording.normalise_locale(c) == c for c in candidates)
