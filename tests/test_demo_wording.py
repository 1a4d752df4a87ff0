"""The demo's consent never predates its text: each wording exists before it is first agreed to."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.demo.shop import seed_demo
from plugin.models import ConsentEvent, OptinWording

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def test_every_demo_wording_is_created_before_it_is_first_used(session: Session) -> None:
    seed_demo(session, now=NOW)
    session.commit()
    session.expire_all()

    wordings = session.scalars(select(OptinWording)).all()
    events = session.scalars(select(ConsentEvent).where(ConsentEvent.wording_id.is_not(None)))

    assert wordings and all(w.first_used_at is not None for w in wordings)
    assert [w.locale for w in wordings if aware(w.created_at) > aware(w.first_used_at)] == []
    created = {w.id: aware(w.created_at) for w in wordings}
    assert [e.id for e in events if aware(e.occurred_at) < created[e.wording_id]] == []
