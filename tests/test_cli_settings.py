"""Changing a shop's settings with `shopnudge stores set STORE KEY VALUE`."""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import AuditEntry, Store
from plugin.stores.settings import InvalidSetting, parse_setting
from tests.factories import make_store


def audit(session: Session) -> list[tuple[str, object, object, str]]:
    session.expire_all()
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    return [(r.field, r.old_value, r.new_value, r.actor) for r in rows]


def test_storefront_origins_are_set_normalised_and_audited(
    runner: FlaskCliRunner, session: Session
) -> None:
    store = make_store(session)
    session.commit()
    result = runner.invoke(
        args=[
            "stores",
            "set",
            store.public_key,
            "storefront_origins",
            "https://Shop.Example.com, http://127.0.0.1:8080",
        ]
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        'storefront_origins = ["http://127.0.0.1:8080", "https://shop.example.com"]\n'
    )
    session.expire_all()
    assert session.get(Store, store.id).setting("storefront_origins") == [
        "http://127.0.0.1:8080",
        "https://shop.example.com",
    ]
    assert audit(session) == [
        (
            "storefront_origins",
            [],
            ["http://127.0.0.1:8080", "https://shop.example.com"],
            "command line",
        )
    ]


def test_a_column_setting_changes_the_shop_itself(runner: FlaskCliRunner, session: Session) -> None:
    store = make_store(session)
    session.commit()
    result = runner.invoke(args=["stores", "set", str(store.id), "timezone", "America/New_York"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.get(Store, store.id).timezone == "America/New_York"
    assert audit(session) == [("timezone", "Europe/Berlin", "America/New_York", "command line")]


def test_setting_the_same_value_again_writes_no_audit_entry(
    runner: FlaskCliRunner, session: Session
) -> None:
    store = make_store(session)
    session.commit()
    result = runner.invoke(args=["stores", "set", store.public_key, "holdout_percent", "10"])
    assert (result.exit_code, result.output) == (0, "holdout_percent = 10 (unchanged)\n")
    assert audit(session) == []


def test_a_bad_value_exits_2_with_one_line_and_changes_nothing(
    runner: FlaskCliRunner, session: Session
) -> None:
    store = make_store(session)
    session.commit()
    for key, value, reason in (
        ("storefront_origins", "shop.example.com", "is not an origin"),
        ("storefront_origins", "https://shop.example.com/cart", "an origin has no path"),
        ("timezone", "Mars/Olympus", "an IANA time zone"),
        ("quiet_hours_start", "8pm", "a time as HH:MM"),
        ("holdout_percent", "101", "a whole number from 0 to 100"),
        ("double_optin_mode", "maybe", "one of template, link"),
    ):
        result = runner.invoke(args=["stores", "set", store.public_key, key, value])
        assert result.exit_code == 2, (key, value)
        assert result.output.count("\n") == 1
        assert result.output.startswith(f"error: {key} must be ")
        assert reason in result.output
    session.expire_all()
    assert session.get(Store, store.id).settings == {}
    assert session.get(Store, store.id).timezone == "Europe/Berlin"
    assert audit(session) == []


def test_an_unknown_shop_exits_2(runner: FlaskCliRunner, session: Session) -> None:
    result = runner.invoke(args=["stores", "set", "nope", "holdout_percent", "5"])
    assert (result.exit_code, result.output) == (
        2,
        "error: no store 'nope' (see `shopnudge stores list`)\n",
    )


@given(st.integers(min_value=-1000, max_value=1000))
def test_holdout_percent_accepts_exactly_0_to_100(value: int) -> None:
    try:
        parsed = parse_setting("holdout_percent", str(value))
    except InvalidSetting:
        assert not 0 <= value <= 100
    else:
        assert parsed == value and 0 <= value <= 100
