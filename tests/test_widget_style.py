"""The widget's default look: readable at 390 px, the theme's font and colours, CSS variables to
override, the privacy policy linked once, and the served script under the README's 10 KB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.consent import wording
from plugin.models import Store
from plugin.web.widget_script import SOURCE, compact
from tests.factories import make_store
from tests.fakes.server import LocalServer

#: The README promises a script under 10 KB; this is what a buyer's browser downloads.
BUDGET_BYTES = 10 * 1024
THEME = (
    "body{font-family:Georgia,serif;color:rgb(40, 20, 90);font-size:17px}"
    ".shopnudge-optin{--shopnudge-error:rgb(200, 0, 100)}"
)


def theme_app(holder: dict[str, str]) -> Flask:
    shop = Flask("theme")

    @shop.get("/page/<lang>")
    def page(lang: str) -> str:
        return (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{THEME}</style></head><body><h1>Warenkorb</h1>"
            f'<div data-shopnudge-optin></div><script src="{holder["widget_url"]}" async>'
            "</script></body></html>"
        )

    return shop


@pytest.fixture
def theme(live_app: str) -> Iterator[dict[str, str]]:
    holder = {"widget_url": ""}
    with LocalServer(theme_app(holder)) as server:
        holder["origin"] = server.url
        yield holder


def shop(session: Session, live_app: str, theme: dict[str, str], **fields: Any) -> Store:
    store = make_store(
        session,
        name="Kaffeerösterei Wagner",
        privacy_url="https://wagner.example/datenschutz",
        settings={"storefront_origins": [theme["origin"]]},
        **fields,
    )
    wording.ensure_default_wordings(session, store)
    session.commit()
    theme["widget_url"] = f"{live_app}/widget/{store.public_key}.js"
    return store


def test_the_served_widget_is_under_10_kb_and_the_source_keeps_its_comments(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    session.commit()

    served = client.get(f"/widget/{store.public_key}.js").data

    assert len(served) <= BUDGET_BYTES
    assert served.decode() == compact(SOURCE.read_text())
    assert b"/*" not in served
    assert "/*" in SOURCE.read_text()


def test_compacting_keeps_code_beside_a_comment_and_strings_that_look_like_one() -> None:
    source = '  /* why */\n  var a = "/* not a comment */";\n    call(a); /* kept */\n'

    assert compact(source) == 'var a = "/* not a comment */";\ncall(a); /* kept */\n'


@pytest.mark.browser
@pytest.mark.parametrize("language", ["de", "en"])
def test_widget_at_390_px_is_readable_in_the_themes_font_without_sideways_scroll(
    page: Any,
    session: Session,
    live_app: str,
    theme: dict[str, str],
    language: str,
    artifacts: Path,
) -> None:
    from playwright.sync_api import expect

    shop(session, live_app, theme)
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"{theme['origin']}/page/{language}")
    form = page.locator("form.shopnudge-optin")
    expect(form).to_be_visible()
    page.screenshot(path=str(artifacts / f"widget-390-{language}.png"), full_page=True)

    layout = page.evaluate(
        """() => {
          const box = document.querySelector('.shopnudge-consent input');
          const label = document.querySelector('.shopnudge-consent label');
          const phone = document.querySelector('.shopnudge-phone input');
          const phoneLabel = document.querySelector('.shopnudge-phone label');
          const style = getComputedStyle(document.querySelector('.shopnudge-optin'));
          const b = box.getBoundingClientRect(), l = label.getBoundingClientRect();
          return {
            scroll: document.documentElement.scrollWidth,
            font: getComputedStyle(label).fontFamily,
            color: getComputedStyle(label).color,
            labelRightOfBox: l.left >= b.right,
            phoneBelowLabel:
              phone.getBoundingClientRect().top >= phoneLabel.getBoundingClientRect().bottom,
            phoneRight: phone.getBoundingClientRect().right,
            errorColour: style.getPropertyValue('--shopnudge-error').trim(),
            links: [...document.querySelectorAll('.shopnudge-optin a')].map(a => a.textContent),
          };
        }"""
    )

    assert layout["scroll"] <= 390
    assert layout["font"] == "Georgia, serif"
    assert layout["color"] == "rgb(40, 20, 90)"
    assert layout["labelRightOfBox"] is True
    assert layout["phoneBelowLabel"] is True
    assert layout["phoneRight"] <= 390
    assert layout["errorColour"] == "rgb(200, 0, 100)"
    privacy = {"de": "Datenschutzerklärung", "en": "Privacy policy"}[language]
    assert layout["links"] == [privacy]


@pytest.mark.browser
def test_a_wording_that_names_the_privacy_policy_links_those_words_instead_of_repeating_them(
    page: Any, session: Session, live_app: str, theme: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    store = shop(session, live_app, theme)
    wording.add_wording_version(
        session,
        store,
        "en",
        "Yes, Kaffeerösterei Wagner may send me WhatsApp messages. Reply STOP to stop. "
        "See the privacy policy.",
        "test",
    )
    session.commit()

    page.goto(f"{theme['origin']}/page/en")
    label = page.locator(".shopnudge-consent label")
    expect(label).to_be_visible()

    assert label.text_content() == (
        "Yes, Kaffeerösterei Wagner may send me WhatsApp messages. Reply STOP to stop. "
        "See the privacy policy."
    )
    links = page.locator(".shopnudge-optin a")
    assert links.count() == 1
    assert links.first.text_content() == "privacy policy"
    assert links.first.get_attribute("href") == "https://wagner.example/datenschutz"
    assert page.locator(".shopnudge-optin").text_content().count("rivacy policy") == 1
