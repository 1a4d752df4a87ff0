"""The `shopnudge campaigns` commands as an owner types them."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from plugin.models import Campaign
from tests.campaigns.test_campaigns import NOW, shop


def test_create_prints_the_id_and_preview_json_shows_audience_and_cost(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    store = shop(session)
    segment = tmp_path / "segment.json"
    segment.write_text('{"rules": [{"rule": "subscribed_days", "min": 14}]}')
    created = runner.invoke(
        args=["campaigns", "create", str(store.id), "--name", "Winter", "--template",
              "winter_sale", "--segment", str(segment), "--window", "09:00-20:00"]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    campaign_id = int(created.output.strip())
    assert session.get(Campaign, campaign_id).window_start == "09:00"  # type: ignore[union-attr]

    shown = runner.invoke(
        args=["campaigns", "preview", str(store.id), str(campaign_id), "--json",
              "--now", NOW.isoformat()]
    )  # fmt: skip
    figures = json.loads(shown.output)
    assert (figures["segment_size"], figures["audience"]) == (4, 4)  # confirmed 30 days ago
    assert figures["cost_minor"] == {"EUR": 45}


def test_create_refuses_a_bad_segment_with_its_reason_and_writes_nothing(
    runner: FlaskCliRunner, session: Session, tmp_path: Path
) -> None:
    store = shop(session)
    segment = tmp_path / "segment.json"
    segment.write_text('{"rules": [{"rule": "orders", "min": 3, "max": 1}]}')
    result = runner.invoke(
        args=["campaigns", "create", str(store.id), "--name", "X", "--template", "winter_sale",
              "--segment", str(segment)]
    )  # fmt: skip
    assert result.exit_code == 2
    assert 'segment: rule 1 (orders): "min" is greater than "max"' in result.output
    assert session.query(Campaign).count() == 0
