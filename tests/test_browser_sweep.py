"""Every owner and buyer page in a real browser, in German and English, at 1280 and 390 px.

A page fails when it scrolls sideways, shows a raw code of the enums as text, or shows an
English text on a German page that the catalogue translates. Screenshots go to
tests/screenshots/ (ignored by git; CI keeps them as artefacts). With
SHOPNUDGE_DOCS_SCREENSHOTS=1 the English dashboard at 1280 px is also written to
docs/dashboard.png, the picture in the README's quick start.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.demo.shop import seed_demo
from plugin.i18n import TRANSLATIONS
from plugin.models import Notification, NotificationState, Store, Subscription
from tests.owner import login_path
from tests.test_labels import raw_codes_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "tests" / "screenshots"
DASHBOARD_PNG = ROOT / "docs" / "dashboard.png"
WIDTHS = (1280, 390)
LANGUAGES = {"de": "de-DE", "en": "en-GB"}


def english_texts_german_translates() -> set[str]:
    """Every msgid whose German differs: shown whole on a German page, it is untranslated."""
    with (TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    found = set()
    for message in catalogue:
        if not message.id or isinstance(message.id, tuple) or "%(" in message.id:
            continue
        if message.string and message.string != message.id and " " in message.id:
            found.add(message.id)
    return found


#: The visible text nodes whose nearest `lang` is German.
GERMAN_TEXT = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, pre, code, [hidden]')) continue;
    const lang = (parent.closest('[lang]') || document.documentElement).lang;
    if (lang.split('-')[0] !== 'de') continue;
    if (node.textContent.trim()) found.push(node.textContent.trim());
  }
  return found;
}"""


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def demo(session: Session) -> dict[str, Any]:
    """The demo shop, and the addresses of every page an owner or a buyer can reach."""
    summary = seed_demo(session, now=dt.datetime.now(dt.UTC))
    session.commit()
    store = session.get_one(Store, summary.store_id)
    sent = session.scalars(
        select(Notification.id).where(
            Notification.store_id == store.id, Notification.state == NotificationState.SENT
        )
    ).first()
    skipped = session.scalars(
        select(Notification.id).where(
            Notification.store_id == store.id, Notification.state == NotificationState.SKIPPED
        )
    ).first()
    subscription = session.scalars(
        select(Subscription).where(Subscription.store_id == store.id)
    ).first()
    assert sent and skipped and subscription
    owner = {
        "dashboard": "/app/",
        "settings": "/app/settings",
        "outbox": "/app/outbox",
        "outbox-skipped": "/app/outbox?state=skipped",
        "message-sent": f"/app/outbox/{sent}",
        "message-skipped": f"/app/outbox/{skipped}",
        "consent": "/app/consent",
        "consent-proof": f"/app/consent/{subscription.phone}",
        "owner-404": "/app/nothing-here",
    }
    buyer = {
        "unsubscribe": f"/u/{subscription.unsubscribe_token}",
        "unsubscribe-bad": "/u/not-a-token",
        "tracked-link-bad": "/r/not-a-token",
        "restore-bad": f"/carts/{store.public_key}/no-such-cart/restore",
    }
    return {"store": store, "owner": owner, "buyer": buyer}


@pytest.fixture
def sweep_browser(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def context_for(language: str, width: int) -> Any:
        context = browser.new_context(
            locale=LANGUAGES[language], viewport={"width": width, "height": 900}
        )
        contexts.append(context)
        return context

    yield context_for
    for context in contexts:
        context.close()


def problems_on(page: Any, language: str, english: set[str]) -> list[str]:
    found = []
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        found.append(f"scrolls sideways by {overflow}px")
    html = page.content()
    found += [f"raw code: {code}" for code in raw_codes_in(html, language)]
    if language == "de":  # what the page says in German (a preview of the English box is English)
        german = page.evaluate(GERMAN_TEXT)
        found += [f"untranslated: {node!r}" for node in german if node.strip() in english]
    return found


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_page_fits_speaks_the_language_and_shows_no_codes(
    sweep_browser: Any,
    live_app: str,
    session: Session,
    demo: dict[str, Any],
    screenshots: Path,
    language: str,
) -> None:
    english = english_texts_german_translates()
    failures: dict[str, list[str]] = {}
    for width in WIDTHS:
        page = sweep_browser(language, width).new_page()
        page.goto(live_app + login_path(session, demo["store"]))
        for name, path in {**demo["owner"], **demo["buyer"]}.items():
            page.goto(live_app + path)
            page.wait_for_load_state("load")
            shot = screenshots / f"{language}-{width}-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            problems = problems_on(page, language, english)
            if problems:
                failures[f"{width}px {path}"] = problems
            if (name, language, width) == ("dashboard", "en", 1280) and os.environ.get(
                "SHOPNUDGE_DOCS_SCREENSHOTS"
            ):
                page.screenshot(path=str(DASHBOARD_PNG), full_page=False)

    assert failures == {}


def test_buyer_pages_name_the_shop_and_never_shopnudge(
    sweep_browser: Any, live_app: str, demo: dict[str, Any]
) -> None:
    page = sweep_browser("de", 390).new_page()
    seen = {}
    for name, path in demo["buyer"].items():
        page.goto(live_app + path)
        seen[name] = page.inner_text("body")

    assert [name for name, text in seen.items() if "ShopNudge" in text] == []
    assert demo["store"].name in seen["unsubscribe"]
    assert demo["store"].name in seen["restore-bad"]
    assert all("STOP" in text for text in seen.values())  # STOPP in German


def test_screenshots_are_not_committed() -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()

    assert "tests/screenshots/" in ignored


def test_the_message_preview_is_styled_under_the_pages_content_policy(
    sweep_browser: Any, live_app: str, session: Session, demo: dict[str, Any]
) -> None:
    page = sweep_browser("en", 390).new_page()
    page.goto(live_app + login_path(session, demo["store"]))
    page.goto(live_app + demo["owner"]["message-sent"])

    colour = page.evaluate(
        "getComputedStyle(document.querySelector('.wa-preview')).backgroundColor"
    )
    buttons = page.evaluate("getComputedStyle(document.querySelector('.wa-buttons')).display")

    assert colour == "rgb(239, 234, 226)"
    assert buttons == "grid"
