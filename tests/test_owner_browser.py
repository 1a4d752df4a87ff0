"""The owner's pages in real headless Chromium: sign in, edit wording, dashboard, keyboard."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.consent.wording import current_wording, ensure_default_wordings
from plugin.demo.shop import seed_demo
from plugin.models import Notification, NotificationState, Store, Subscription
from tests.factories import make_store
from tests.fakes.server import LocalServer
from tests.owner import login_path
from tests.test_consent_widget_browser import storefront_app

pytestmark = pytest.mark.browser

#: The widget's element tree: tag, class and input type of every element, in document order
#: (the preview's form is a div and its button does not submit: it sits inside the owner's form).
STRUCTURE = """root => [root, ...root.querySelectorAll('*')].map(e => [
    e.tagName === 'FORM' ? 'DIV' : e.tagName, e.className,
    e.tagName === 'INPUT' ? e.getAttribute('type') : ''])"""

NEW_GERMAN = (
    "Ja, Bohne & Blatt darf mir Angebote per WhatsApp schicken. Abmelden jederzeit mit STOPP."
)


@pytest.fixture
def german_page(browser: Any) -> Iterator[Any]:
    """A browser whose owner reads German (Accept-Language: de-DE)."""
    context = browser.new_context(locale="de-DE", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def storefront(live_app: str) -> Iterator[dict[str, Any]]:
    """A shop's own site with the widget, on another origin."""
    holder: dict[str, Any] = {"widget_url": ""}
    with LocalServer(storefront_app(holder)) as server:
        holder["origin"] = server.url
        yield holder


def _shop(session: Session) -> Store:
    store = make_store(
        session, name="Bohne & Blatt", privacy_url="https://bohne.example/datenschutz"
    )
    ensure_default_wordings(session, store)
    session.commit()
    return store


def test_owner_changes_german_wording_with_live_lint_and_preview(
    german_page: Any, live_app: str, session: Session, artifacts: Path, storefront: dict[str, Any]
) -> None:
    page = german_page
    store = _shop(session)
    store.settings = {"storefront_origins": [storefront["origin"]]}
    session.commit()
    storefront["widget_url"] = f"{live_app}/widget/{store.public_key}.js"
    page.goto(live_app + login_path(session, store))
    assert page.url == f"{live_app}/app/"
    page.get_by_role("link", name="Einstellungen").click()
    page.wait_for_url(f"{live_app}/app/settings")
    page.wait_for_load_state("load")  # app.js wires the live lint once the page has loaded
    textarea = page.locator("#wording-de-text")
    lint = page.locator("#lint-de")
    preview = page.locator("#preview-de [data-preview-text]")

    textarea.fill("Ja, Bohne & Blatt darf mir Angebote schicken.")
    lint.locator('[data-code="channel_missing"]').wait_for()
    assert preview.text_content() == "Ja, Bohne & Blatt darf mir Angebote schicken."
    assert lint.locator('[data-code="opt_out_hint_missing"]').count() == 1

    textarea.fill(NEW_GERMAN)
    lint.locator(".lint-ok").wait_for()
    assert preview.text_content() == NEW_GERMAN
    page.screenshot(path=str(artifacts / "settings-wording-de.png"), full_page=False)
    preview_tree = page.locator("#preview-de .shopnudge-optin").evaluate(STRUCTURE)
    page.get_by_role("button", name="Als neue Version speichern").first.click()

    page.get_by_text("Gespeichert. Version 2.").wait_for()
    session.expire_all()
    latest = current_wording(session, store, "de")
    assert (latest.version, latest.text) == (2, NEW_GERMAN)
    assert page.locator(f'tr[data-wording-id="{latest.id}"] td.text').text_content() == NEW_GERMAN
    assert page.locator("#wording-de-text").input_value() == NEW_GERMAN

    page.goto(f"{storefront['origin']}/page/de")
    widget = page.locator("form.shopnudge-optin")
    widget.wait_for()
    assert widget.locator("label").first.text_content() == NEW_GERMAN
    assert widget.get_attribute("data-wording-version") == "2"
    assert widget.evaluate(STRUCTURE) == preview_tree
    page.screenshot(path=str(artifacts / "storefront-widget-new-wording.png"))


def test_a_form_posted_without_its_csrf_token_is_refused(
    page: Any, live_app: str, session: Session
) -> None:
    store = _shop(session)
    page.goto(live_app + login_path(session, store))
    page.goto(f"{live_app}/app/settings")
    form = page.locator("#budget form")
    form.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    page.fill("#holdout_percent", "40")

    with page.expect_navigation():
        form.get_by_role("button").click()

    assert page.locator("#budget .banner.error").text_content().startswith("The CSRF token")
    session.refresh(store)
    assert store.setting("holdout_percent") == 10


def test_dashboard_charts_render_with_the_demo_data(
    page: Any, live_app: str, session: Session, artifacts: Path
) -> None:
    summary = seed_demo(session, now=dt.datetime.now(dt.UTC))
    session.commit()
    store = session.get(Store, summary.store_id)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(live_app + login_path(session, store))

    charts = page.locator("figure.chart svg")
    assert charts.count() == 4
    for index in range(4):
        points = charts.nth(index).locator("polyline").first.get_attribute("points")
        assert len(points.split()) == 13
        assert charts.nth(index).bounding_box()["height"] > 100
    sent = session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.state == NotificationState.SENT)
    )
    assert page.locator('[data-metric="sent"]').text_content() == f"{sent:,}"
    interval = page.locator('[data-metric="uplift_interval"]').text_content()
    assert re.fullmatch(r"[+-]\d+\.\d \u2013 [+-]\d+\.\d", interval), interval
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
    page.goto(f"{live_app}/app/outbox?state=skipped&reason=holdout")
    page.screenshot(path=str(artifacts / "outbox-holdout.png"), full_page=False)
    assert page.locator("tbody tr").count() > 10
    phone = session.scalars(
        select(Subscription.phone)
        .where(Subscription.state == "opted_out")
        .order_by(Subscription.id)
    ).first()
    page.goto(f"{live_app}/app/consent")
    page.get_by_label("Phone number").fill(phone)
    page.get_by_label("Phone number").press("Enter")
    page.locator("figure.wording-proof").first.wait_for()
    assert page.locator("ol.ledger > li").count() == 3
    page.screenshot(path=str(artifacts / "consent-proof.png"), full_page=True)


def test_pages_fit_a_phone_screen_without_sideways_scrolling(
    page: Any, live_app: str, session: Session, artifacts: Path
) -> None:
    summary = seed_demo(session, now=dt.datetime.now(dt.UTC))
    session.commit()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_app + login_path(session, session.get(Store, summary.store_id)))
    for path in ("/app/", "/app/settings", "/app/outbox", "/app/consent"):
        page.goto(live_app + path)
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
    page.goto(live_app + "/app/")
    page.screenshot(path=str(artifacts / "dashboard-phone.png"), full_page=False)


def _tab_to(page: Any, selector: str, limit: int = 400) -> None:
    """Press Tab from the top of the page until `selector` has the focus."""
    page.locator("body").evaluate("body => document.activeElement.blur()")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
            return
    raise AssertionError(f"keyboard never reached {selector}")


def test_keyboard_alone_reaches_and_submits_every_form(
    page: Any, live_app: str, session: Session, artifacts: Path
) -> None:
    store = _shop(session)
    page.goto(live_app + login_path(session, store))
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(live_app + "/app/settings")
    page.screenshot(path=str(artifacts / "settings.png"), full_page=True)
    pages = ["/app/settings", "/app/outbox", "/app/consent"]
    submitted = []
    for path in pages:
        page.goto(live_app + path)
        count = page.locator("main form").count()
        for index in range(count):
            page.goto(live_app + path)
            form = f"main form:nth-of-type({index + 1})"
            selector = page.evaluate(
                """i => {
                    const form = document.querySelectorAll('main form')[i];
                    form.dataset.kbd = 'yes';
                    return 'form[data-kbd="yes"] button[type="submit"]';
                }""",
                index,
            )
            fields = page.locator(
                'form[data-kbd="yes"] input:not([type=hidden]), '
                'form[data-kbd="yes"] select, form[data-kbd="yes"] textarea'
            )
            for field in range(fields.count()):
                element_id = fields.nth(field).get_attribute("id") or ""
                if element_id:
                    _tab_to(page, f'[id="{element_id}"]')
            _tab_to(page, selector)
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert page.locator(".banner.error").count() == 0, f"{path} {form}"
            submitted.append(f"{path}#{index}")
    assert len(submitted) >= 9
    session.refresh(store)
    assert store.status == "paused"  # the last settings form is the pause switch


def test_a_refused_save_puts_the_focus_on_the_field_to_fix(
    page: Any, live_app: str, session: Session
) -> None:
    store = _shop(session)
    page.goto(live_app + login_path(session, store))
    page.goto(f"{live_app}/app/settings")
    page.fill("#cap_per_24h", "99")

    with page.expect_navigation():
        page.locator("#quiet form").get_by_role("button").click()

    assert page.evaluate("document.activeElement.id") == "cap_per_24h"
    assert page.locator("#cap_per_24h-error").text_content() == ("Number must be between 0 and 10.")
    session.refresh(store)
    assert store.settings == {}
