"""The campaign composer in headless Chromium, in German and English, on a phone and a laptop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import Notification
from tests.campaigns.test_campaigns import shop
from tests.owner import login_path

pytestmark = pytest.mark.browser

WORDS = {
    "en": {
        "nav": "Campaigns",
        "new": "New campaign",
        "name": "Campaign name",
        "template": "Template",
        "languages": "Languages",
        "spread": "Spread over … hours",
        "preview": "Preview audience and cost",
        "start": "Start: send to 4 buyers · €0.4524",
        "started": "Started: 4 messages wait to be sent.",
        "opted_out": "Opted out: the buyer asked to get no more messages",
        "count": "7 subscribers match, 5 of them confirmed.",
        "none": "0 subscribers match, 0 of them confirmed.",
    },
    "de": {
        "nav": "Kampagnen",
        "new": "Neue Kampagne",
        "name": "Name der Kampagne",
        "template": "Vorlage",
        "languages": "Sprachen",
        "spread": "Verteilt über … Stunden",
        "preview": "Empfänger und Kosten ansehen",
        "start": "Starten: an 4 Käufer senden · 0,4524\xa0€",
        "started": "Gestartet: 4 Nachrichten warten auf den Versand.",
        "opted_out": "Abgemeldet: der Käufer möchte keine Nachrichten mehr",
        "count": "7 Abonnenten passen, 5 davon bestätigt.",
        "none": "0 Abonnenten passen, 0 davon bestätigt.",
    },
}


@pytest.fixture(params=[("de", 390), ("en", 390), ("de", 1280), ("en", 1280)], ids=str)
def owner_page(request: Any, browser: Any) -> Iterator[tuple[Any, str, int]]:
    language, width = request.param
    context = browser.new_context(
        locale="de-DE" if language == "de" else "en-US",
        viewport={"width": width, "height": 900},
    )
    yield context.new_page(), language, width
    context.close()


def sideways(page: Any) -> int:
    """How far the page scrolls sideways (0 when it fits the screen)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def test_owner_composes_previews_and_starts_a_campaign_without_sideways_scrolling(
    owner_page: tuple[Any, str, int], live_app: str, session: Session, artifacts: Path
) -> None:
    page, language, width = owner_page
    words = WORDS[language]
    store = shop(session)
    page.goto(live_app + login_path(session, store))

    # the owner finds the composer from the navigation
    page.get_by_role("link", name=words["nav"]).click()
    page.get_by_role("link", name=words["new"]).click()
    page.wait_for_url(f"{live_app}/app/campaigns/new")
    assert sideways(page) <= 0, f"the composer scrolls sideways at {width}px"
    page.screenshot(
        path=str(artifacts / f"campaign-composer-{language}-{width}.png"), full_page=True
    )
    preview = page.locator('[data-template="winter_sale"] .wa-body')
    assert preview.text_content() == (
        f"Hallo {'[Vorname]' if language == 'de' else '[first name]'}, bei {store.name} "
        "gibt es diese Woche 20 % auf alles."
    )

    # composes a campaign to German speakers, spread over two hours
    page.get_by_label(words["name"]).fill("Winter")
    page.get_by_label(words["template"]).select_option("winter_sale")
    live = page.locator("[data-segment-count]")
    live.get_by_text(words["count"]).wait_for()  # counted live as the rules change
    page.get_by_label(words["languages"]).fill("en")
    live.get_by_text(words["none"]).wait_for()
    page.get_by_label(words["languages"]).fill("de")
    live.get_by_text(words["count"]).wait_for()
    page.get_by_label(words["spread"]).fill("2")
    page.get_by_role("button", name=words["preview"]).click()

    # sees who gets it, who does not and why, and what it costs, then confirms those figures
    page.locator('[data-metric="audience"]').wait_for()
    assert sideways(page) <= 0, f"the preview scrolls sideways at {width}px"
    assert page.locator('[data-metric="audience"]').text_content() == "4"
    assert page.locator('tr[data-reason="opted_out"] th').text_content() == words["opted_out"]
    page.screenshot(
        path=str(artifacts / f"campaign-preview-{language}-{width}.png"), full_page=True
    )
    page.get_by_role("button", name=words["start"]).click()
    page.get_by_text(words["started"]).wait_for()
    assert sideways(page) <= 0, f"the campaign page scrolls sideways at {width}px"
    assert page.locator('[data-metric="pending"]').text_content() == "4"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Notification)) == 4
