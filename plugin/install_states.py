"""Single-use state nonces that tie an install flow's return to the request that started it."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import OAuthState


def new_install_state(session: Session, platform: str, shop: str, lifetime: dt.timedelta) -> str:
    """Remember a fresh nonce for this platform and shop; the flow's return must spend it."""
    nonce = secrets.token_urlsafe(24)
    session.add(
        OAuthState(nonce=nonce, shop=shop, platform=platform, expires_at=utcnow() + lifetime)
    )
    session.flush()
    return nonce
