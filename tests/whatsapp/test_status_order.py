"""Property: whatever order and repetition statuses arrive in, the outcome is the same."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from plugin.models import NotificationState, Store
from plugin.whatsapp.statuses import apply_status
from tests.factories import make_notification

BASE = 1_764_000_000  # seconds; sent < delivered < read in time
TIMES = {"sent": BASE, "delivered": BASE + 5, "read": BASE + 60}
_keys = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["sent", "delivered", "read"]), min_size=1, max_size=8))
def test_statuses_in_any_order_end_at_the_furthest_one(
    session: Session, shop: Store, arrivals: list[str]
) -> None:
    # given a notification Meta accepted
    wamid = f"wamid.order{next(_keys)}"
    notification = make_notification(
        session, shop, wamid, state=NotificationState.SENT, provider_message_id=wamid
    )

    # when its statuses arrive in this order, with repeats
    for kind in arrivals:
        apply_status(session, shop, {"id": wamid, "status": kind, "timestamp": str(TIMES[kind])})

    # then it ends at the furthest status, and delivery is implied by read
    furthest = max(arrivals, key=["sent", "delivered", "read"].index)
    assert notification.delivery_status == furthest
    assert notification.state == NotificationState.SENT
    # delivered at the delivery's own time, or at the read's when only a read arrived
    delivered = next((TIMES[k] for k in ("delivered", "read") if k in arrivals), None)
    assert notification.delivered_at == (
        None if delivered is None else dt.datetime.fromtimestamp(delivered, dt.UTC)
    )
    read = TIMES["read"] if "read" in arrivals else None
    assert notification.read_at == (
        None if read is None else dt.datetime.fromtimestamp(read, dt.UTC)
    )
