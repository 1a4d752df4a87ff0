"""The gettext catalogues: complete, compiled, and the owner pages in the owner's locale."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.charts import Series, line_chart
from plugin.i18n import TRANSLATIONS
from tests.factories import make_notification, make_store
from tests.owner import sign_in

ROOT = Path(__file__).resolve().parent.parent
GERMAN_PO = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po"
GERMAN_MO = GERMAN_PO.with_suffix(".mo")
#: The same mapping as babel.cfg: every template and every module (flashed messages included).
METHODS = [("plugin/**.py", "python"), ("plugin/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}


def marked_strings() -> set[str]:
    """Every string marked for translation in plugin/, as `pybabel extract` finds them."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_marked_string_has_a_german_translation() -> None:
    with GERMAN_PO.open("rb") as handle:
        catalogue = read_po(handle)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalogue
        if m.id and (m.string if isinstance(m.string, str) else all(m.string)) and not m.fuzzy
    }

    missing = sorted(marked_strings() - translated)

    assert missing == [], "run `python3 dev.py translations` and translate these"


def entries(catalogue: Catalog) -> dict[object, object]:
    """Each message as id -> text, plural forms as tuples (lists do not compare as keys)."""
    return {
        tuple(m.id) if isinstance(m.id, list | tuple) else m.id: (
            tuple(m.string) if isinstance(m.string, list | tuple) else m.string
        )
        for m in catalogue
        if m.id
    }


def test_the_compiled_catalogue_matches_its_source() -> None:
    with GERMAN_PO.open("rb") as handle:
        source = read_po(handle)
    compiled_now = io.BytesIO()
    write_mo(compiled_now, source)
    compiled_now.seek(0)
    with GERMAN_MO.open("rb") as handle:
        shipped = read_mo(handle)

    assert entries(shipped) == entries(read_mo(compiled_now))


def test_german_dashboard_writes_money_and_numbers_the_german_way(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    for key in "12345":  # 5 x 1,613 EUR (one row's micros must fit PostgreSQL's INTEGER)
        make_notification(session, store, key, state="sent", sent_at=dt.datetime.now(dt.UTC),
                          cost_micros=1_613_000_000, cost_currency="EUR")  # fmt: skip
    session.commit()
    sign_in(client, session, store)

    german = client.get("/app/", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)
    english = client.get("/app/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)

    assert '<dd data-metric="spend">8.065,00\xa0€' in german
    assert '<dd data-metric="spend">€8,065.00' in english


def test_outbox_times_are_in_the_shops_time_zone_and_costs_keep_every_digit(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, timezone="America/New_York")
    due = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    make_notification(session, store, "1", state="sent", cost_micros=113_100,
                      cost_currency="EUR", due_at=due)  # fmt: skip
    session.commit()
    sign_in(client, session, store)

    german = client.get("/app/outbox", headers={"Accept-Language": "de"}).get_data(as_text=True)
    english = client.get("/app/outbox", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert '<time datetime="2026-12-01T12:00:00+00:00">01.12.26, 07:00</time>' in german
    assert "0,1131\xa0€" in german
    assert "€0.1131" in english
    assert " UTC</time>" not in german


def test_chart_dates_follow_the_pages_locale() -> None:
    weeks = [dt.date(2026, 9, 2), dt.date(2026, 9, 9)]

    english = str(line_chart("Sent", weeks, [Series("Sent", [1200, 3])], locale="en"))
    german = str(line_chart("Gesendet", weeks, [Series("Gesendet", [1200, 3])], locale="de"))

    assert (">Sep 2</text>" in english, "02.09." in english) == (True, False)
    assert ">2. Sept.</text>" in german
    assert ">1.500</text>" in german and ">1,500</text>" in english
