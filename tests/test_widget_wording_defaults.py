"""What the widget shows by default, and how its script is served."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.consent import wording
from tests.factories import make_store


def test_default_wording_points_to_no_privacy_policy_that_has_no_address(
    session: Session, client: FlaskClient
) -> None:
    # given a new shop that has not set the address of its privacy policy
    store = make_store(session, name="Rösterei Wagner", privacy_url="")
    wording.ensure_default_wordings(session, store)
    session.commit()
    # when the widget asks for its wording in either shipped language
    forms = {
        locale: client.get(f"/api/v1/stores/{store.public_key}/optin-form?locale={locale}").json
        for locale in ("en", "de")
    }
    # then neither text refers to a privacy policy, and no address is given to link
    assert forms["en"]["text"] == (
        "Yes, Rösterei Wagner may send me WhatsApp messages at this number: reminders about my "
        "cart, product recommendations and offers. I can unsubscribe at any time, e.g. by "
        "replying STOP."
    )
    assert "Datenschutz" not in forms["de"]["text"]
    assert forms["de"]["text"].endswith("z. B. mit der Antwort STOPP.")
    assert forms["en"]["privacy_url"] == forms["de"]["privacy_url"] == ""


def test_widget_script_leaves_the_date_header_to_the_http_server(
    session: Session, client: FlaskClient
) -> None:
    store = make_store(session)
    session.commit()
    response = client.get(f"/widget/{store.public_key}.js")
    assert response.status_code == 200
    # the server (werkzeug, gunicorn) stamps Date; one from the app as well made two
    assert response.headers.getlist("Date") == []
    assert response.headers["ETag"] and response.headers["Cache-Control"] == "public, max-age=300"
    # a revalidation still answers 304
    again = client.get(
        f"/widget/{store.public_key}.js", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    assert again.headers.getlist("Date") == []
