"""The owner sees a message as the buyer will: on its outbox page and in the template list,
with the raw parameters behind a details toggle."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import make_notification, make_store, make_template
from tests.owner import sign_in

COMPONENTS: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "IMAGE"},
    {"type": "BODY", "text": "Hallo {{1}}, dein Warenkorb bei {{2}} wartet."},
    {"type": "FOOTER", "text": "Antworte STOPP zum Abmelden"},
    {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Zum Warenkorb", "url": "x"}]},
]
PARAMETERS = {
    "body": [{"type": "text", "text": "Anna"}, {"type": "text", "text": "Bohne & Blatt"}],
    "header": [{"type": "image", "image": {"link": "https://cdn.example/kaffee.jpg"}}],
}
GERMAN = {"Accept-Language": "de-DE"}


def test_the_message_page_shows_the_filled_message_and_hides_raw_json_in_details(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, name="Bohne & Blatt")
    make_template(session, store, "cart_reminder_1", name="erinnerung", components=COMPONENTS)
    row = make_notification(
        session, store, "n-1", template_name="erinnerung", parameters=PARAMETERS
    )
    session.commit()
    sign_in(client, session, store)

    html = client.get(f"/app/outbox/{row.id}", headers=GERMAN).get_data(as_text=True)

    assert '<h2 id="preview-h">So sieht der Kunde sie</h2>' in html
    assert '<img src="https://cdn.example/kaffee.jpg" alt="">' in html
    assert "Hallo Anna, dein Warenkorb bei Bohne &amp; Blatt wartet." in html
    assert '<p class="wa-footer">Antworte STOPP zum Abmelden</p>' in html
    assert "Zum Warenkorb</li>" in html
    details = html.index('<details class="raw">')
    assert (
        html.index("<summary>Details: Rohdaten der Parameter und des Kontexts</summary>") > details
    )
    assert html.index('"Bohne \\u0026 Blatt"') > details  # raw JSON only inside the toggle


def test_a_message_whose_template_is_gone_still_shows_its_words(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    row = make_notification(session, store, "n-2", template_name="weg", parameters=PARAMETERS)
    session.commit()
    sign_in(client, session, store)

    html = client.get(f"/app/outbox/{row.id}").get_data(as_text=True)

    assert "Anna · Bohne &amp; Blatt" in html
    assert "The template is no longer on file; only its filled parameters are shown." in html


def test_the_template_list_previews_each_template_with_its_placeholders_marked(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    make_template(session, store, "cart_reminder_1", name="erinnerung", components=COMPONENTS)
    session.commit()
    sign_in(client, session, store)

    html = client.get("/app/settings").get_data(as_text=True)

    assert '<td>erinnerung<details class="template-preview"><summary>Preview</summary>' in html
    assert "Hallo <mark>{{1}}</mark>, dein Warenkorb bei <mark>{{2}}</mark> wartet." in html
