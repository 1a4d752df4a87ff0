"""The web app's blueprints, one per area; a new area adds one line here."""

from __future__ import annotations

from flask import Blueprint


def blueprints() -> list[Blueprint]:
    from plugin.web import auth, health, home, links

    return [health.bp, home.bp, auth.bp, links.bp]
