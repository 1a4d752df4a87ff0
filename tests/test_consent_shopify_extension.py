"""The Shopify theme app extension needs nothing typed: it loads the widget through the proxy."""

from __future__ import annotations

import json
import re
from pathlib import Path

EXTENSION = Path(__file__).parent.parent / "extensions" / "shopify-theme"


def schema(block: str) -> dict[str, object]:
    text = (EXTENSION / "blocks" / block).read_text()
    match = re.search(r"{% schema %}(.*){% endschema %}", text, re.S)
    assert match, block
    return json.loads(match.group(1))


def test_app_embed_targets_the_body_and_asks_for_nothing_to_type() -> None:
    embed = schema("optin-embed.liquid")
    box = schema("optin-box.liquid")

    assert embed["target"] == "body"
    assert box["target"] == "section"
    settings = embed["settings"]  # type: ignore[index]
    assert [(s["id"], s["type"]) for s in settings] == [  # type: ignore[index]
        ("on_cart", "checkbox"),
        ("on_product", "checkbox"),
    ]
    assert 'type = "theme"' in (EXTENSION / "shopify.extension.toml").read_text()


def test_every_label_is_translated_in_english_and_german() -> None:
    english = json.loads((EXTENSION / "locales" / "en.default.schema.json").read_text())
    german = json.loads((EXTENSION / "locales" / "de.schema.json").read_text())
    text = "".join(p.read_text() for p in (EXTENSION / "blocks").glob("*.liquid"))
    keys = re.findall(r'"t:([\w.]+)"', text)

    def lookup(tree: dict[str, object], key: str) -> object:
        for part in key.split("."):
            tree = tree[part]  # type: ignore[assignment]
        return tree

    assert len(keys) == 4
    assert all(isinstance(lookup(english, key), str) for key in keys)
    assert all(isinstance(lookup(german, key), str) for key in keys)


def test_the_embed_reads_the_app_metafield_and_loads_the_widget_through_the_proxy() -> None:
    text = (EXTENSION / "blocks" / "optin-embed.liquid").read_text()
    loader = (EXTENSION / "assets" / "shopnudge.js").read_text()

    assert "app.metafields.shopnudge.storefront.value" in text
    assert "customers/order" not in text
    assert "{{ 'shopnudge.js' | asset_url }}" in text
    assert '"/apps/shopnudge/widget/embed.js"' in loader
    assert '"/apps/shopnudge/api"' in loader
    assert len(loader.encode()) < 10_000  # theme-check's limit for an app block's JavaScript
