"""The Shopify theme app extension loads the widget from the URL our server serves it at."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import make_store

EXTENSION = Path(__file__).parent.parent / "extensions" / "shopify-theme"


def schema(block: str) -> dict[str, object]:
    text = (EXTENSION / "blocks" / block).read_text()
    match = re.search(r"{% schema %}(.*){% endschema %}", text, re.S)
    assert match, block
    return json.loads(match.group(1))


def test_app_embed_targets_the_body_and_asks_for_server_and_key() -> None:
    embed = schema("optin-embed.liquid")
    box = schema("optin-box.liquid")

    assert embed["target"] == "body"
    assert box["target"] == "section"
    ids = [setting["id"] for setting in embed["settings"]]  # type: ignore[attr-defined]
    assert ids[:2] == ["server_url", "store_key"]
    assert 'type = "theme"' in (EXTENSION / "shopify.extension.toml").read_text()


def test_the_embeds_script_url_is_the_widget_route(client: FlaskClient, session: Session) -> None:
    store = make_store(session)
    session.commit()
    text = (EXTENSION / "blocks" / "optin-embed.liquid").read_text()
    src = re.search(r'<script src="([^"]+)"', text)
    assert src is not None
    path = (
        src.group(1)
        .replace("{{ server | escape }}", "")
        .replace("{{ key | url_encode }}", store.public_key)
    )

    response = client.get(path)

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "data-shopnudge-optin" in response.text
    assert len(response.data) < 10 * 1024
