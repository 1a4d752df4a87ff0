"""The settings page: every form checks its CSRF token, every change is audited."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent.wording import current_wording, ensure_default_wordings
from plugin.models import AuditEntry, LoginToken, OptinWording, Store
from tests.factories import make_store
from tests.owner import csrf_token, sign_in


def _settings(client: FlaskClient) -> str:
    response = client.get("/app/settings")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _audit(session: Session, store: Store) -> list[tuple[str, str, object, object]]:
    session.expire_all()
    return [
        (e.actor, e.field, e.old_value, e.new_value)
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.store_id == store.id).order_by(AuditEntry.id)
        )
    ]


def test_pages_redirect_to_sign_in_without_a_session(client: FlaskClient) -> None:
    response = client.get("/app/settings")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/app/signed-out")


def test_saving_quiet_hours_changes_only_what_changed_and_audits_it(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, name="Bohne & Blatt")
    sign_in(client, session, store)
    token = csrf_token(_settings(client))

    response = client.post(
        "/app/settings/quiet",
        data={
            "csrf_token": token,
            "quiet_hours_start": "21:30",
            "quiet_hours_end": "09:00",
            "quiet_days": ["7"],
            "cap_per_24h": "1",
            "cap_per_7d": "2",
        },
    )

    assert response.status_code == 302
    session.refresh(store)
    assert store.settings == {"quiet_hours_start": "21:30", "quiet_days": [7], "cap_per_7d": 2}
    assert [(f, o, n) for _, f, o, n in _audit(session, store)] == [
        ("quiet_hours_start", "20:00", "21:30"),
        ("quiet_days", [], [7]),
        ("cap_per_7d", 3, 2),
    ]
    login = session.scalars(select(LoginToken).where(LoginToken.store_id == store.id)).one()
    assert {actor for actor, *_ in _audit(session, store)} == {f"login link #{login.id}"}


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, name="Bohne & Blatt")
    sign_in(client, session, store)

    response = client.post(
        "/app/settings/budget", data={"monthly_budget": "50", "holdout_percent": "20"}
    )

    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    session.refresh(store)
    assert store.settings == {}
    assert _audit(session, store) == []


def test_pause_switch_pauses_and_resumes_sending_with_audit(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    token = csrf_token(_settings(client))

    paused = client.post(
        "/app/settings/sending", data={"csrf_token": token, "action": "pause", "reason": "Urlaub"}
    )
    session.refresh(store)
    status_after_pause = (store.status, store.paused_reason)
    resumed = client.post("/app/settings/sending", data={"csrf_token": token, "action": "resume"})
    session.refresh(store)

    assert (paused.status_code, resumed.status_code) == (302, 302)
    assert status_after_pause == ("paused", "Urlaub")
    assert (store.status, store.paused_reason) == ("active", None)
    assert [(f, o, n) for _, f, o, n in _audit(session, store)] == [
        ("status", "active", "paused"),
        ("paused_reason", None, "Urlaub"),
        ("status", "paused", "active"),
        ("paused_reason", "Urlaub", None),
    ]


def test_the_pause_switch_never_reinstalls_an_uninstalled_shop(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    token = csrf_token(_settings(client))
    store.status = "uninstalled"
    session.commit()

    response = client.post("/app/settings/sending", data={"csrf_token": token, "action": "resume"})

    assert response.status_code == 409
    session.refresh(store)
    assert store.status == "uninstalled"
    assert _audit(session, store) == []


def test_saving_wording_adds_a_version_and_keeps_the_old_one(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, name="Bohne & Blatt")
    first = ensure_default_wordings(session, store)["de"]
    session.commit()
    sign_in(client, session, store)
    token = csrf_token(_settings(client), "wording-de-")
    text = "Ja, Bohne & Blatt darf mir WhatsApp-Nachrichten senden. Abmelden mit STOPP."

    response = client.post(
        "/app/settings/wording/de",
        data={"wording-de-csrf_token": token, "wording-de-locale": "de", "wording-de-text": text},
    )

    assert response.status_code == 302
    session.expire_all()
    latest = current_wording(session, store, "de")
    assert (latest.version, latest.text) == (2, text)
    assert session.get(OptinWording, first.id).text.startswith("Ja, Bohne & Blatt darf mir")
    assert _audit(session, store)[0][1:] == (
        "optin_wording.de",
        {"version": 1, "text": first.text},
        {"version": 2, "text": text},
    )


def test_wording_without_the_business_name_is_not_saved(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, name="Bohne & Blatt")
    ensure_default_wordings(session, store)
    session.commit()
    sign_in(client, session, store)
    token = csrf_token(_settings(client), "wording-de-")

    response = client.post(
        "/app/settings/wording/de",
        data={
            "wording-de-csrf_token": token,
            "wording-de-locale": "de",
            "wording-de-text": "Ja, schickt mir Nachrichten per WhatsApp. STOPP beendet es.",
        },
    )

    assert response.status_code == 400
    assert 'data-code="business_missing"' in response.get_data(as_text=True)
    session.expire_all()
    assert current_wording(session, store, "de").version == 1


def test_lint_endpoint_answers_as_the_owner_types(client: FlaskClient, session: Session) -> None:
    store = make_store(session, name="Bohne & Blatt")
    sign_in(client, session, store)

    response = client.get("/app/settings/wording/lint", query_string={"text": "Hallo"})

    assert [m["code"] for m in response.json["messages"]] == [
        "business_missing",
        "channel_missing",
        "opt_out_hint_missing",
    ]


def test_shop_supplied_text_is_escaped(client: FlaskClient, session: Session) -> None:
    store = make_store(session, name='<script>alert("x")</script>')
    sign_in(client, session, store)

    html = _settings(client)

    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;alert(" in html


def test_budget_is_entered_in_currency_units_and_stored_in_minor_units(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    token = csrf_token(_settings(client))

    client.post(
        "/app/settings/budget",
        data={"csrf_token": token, "monthly_budget": "49.90", "holdout_percent": "10"},
    )

    session.refresh(store)
    assert store.setting("monthly_budget_minor") == 4990
    assert store.setting("holdout_percent") == 10
    assert 'value="49.90"' in _settings(client)
