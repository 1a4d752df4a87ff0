"""Dashboard, outbox browser and consent lookup: read-only pages for the signed-in shop."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from connectors.money import from_minor
from plugin.charts import Series, line_chart
from plugin.dashboard import build_dashboard
from plugin.db import get_for_store, request_session, utcnow
from plugin.i18n import current_language, format_decimal
from plugin.i18n import gettext as _
from plugin.models import (
    ConsentEvent,
    Flow,
    Notification,
    NotificationState,
    OptinWording,
    Store,
    Subscription,
    WhatsAppTemplate,
)
from plugin.phones import InvalidPhone, parse_phone
from plugin.shopify.embedded import embedded_params
from plugin.web.app.blueprint import bp
from plugin.web.auth import current_store, store_required

#: Outbox rows per page; keyset pagination by id keeps deep pages cheap.
OUTBOX_PAGE = 50


def _store() -> Store:
    store = current_store()
    assert store is not None  # store_required ran
    return store


@bp.get("/app/")
@store_required
def dashboard() -> ResponseReturnValue:
    store = _store()
    board = build_dashboard(request_session(), store, utcnow())
    weeks = board.weeks
    words = {"locale": current_language(), "last_week": _("%(series)s: %(value)s in the last week")}
    charts = {
        "messages": line_chart(
            _("Messages per week"),
            weeks,
            [
                Series(_("Sent"), board.messages_by_week["sent"]),
                Series(_("Delivered"), board.messages_by_week["delivered"]),
                Series(_("Read"), board.messages_by_week["read"]),
            ],
            **words,
        ),
        "optins": line_chart(
            _("Opt-ins per week"),
            weeks,
            [
                Series(_("Opt-ins"), board.optins_by_week["requested"]),
                Series(_("Confirmations"), board.optins_by_week["confirmed"]),
                Series(_("Opt-outs"), board.optins_by_week["opted_out"]),
            ],
            **words,
        ),
        "spend": line_chart(
            _("Spend per week") + f" ({store.currency})",
            weeks,
            [Series(_("Spend"), [v / 1_000_000 for v in board.spend_by_week])],
            format_value=lambda v: format_decimal(v, "#,##0.00"),
            **words,
        ),
        "revenue": line_chart(
            _("Attributed revenue per week") + f" ({store.currency})",
            weeks,
            [
                Series(
                    _("Revenue"),
                    [float(from_minor(v, store.currency)) for v in board.revenue_by_week],
                )
            ],
            **words,
        ),
    }
    return render_template("app/dashboard.html", store=store, board=board, charts=charts)


@bp.get("/app/outbox")
@store_required
def outbox() -> ResponseReturnValue:
    store = _store()
    db_session = request_session()
    filters = {name: request.args.get(name) or "" for name in ("state", "flow", "reason")}
    query = select(Notification).where(Notification.store_id == store.id)
    if filters["state"]:
        query = query.where(Notification.state == filters["state"])
    if filters["flow"]:
        query = query.where(Notification.flow == filters["flow"])
    if filters["reason"]:
        query = query.where(Notification.reason == filters["reason"])
    before = request.args.get("before", type=int)
    if before:
        query = query.where(Notification.id < before)
    rows = db_session.scalars(query.order_by(Notification.id.desc()).limit(OUTBOX_PAGE + 1)).all()
    reasons = db_session.execute(
        select(Notification.reason, func.count())
        .where(
            Notification.store_id == store.id,
            Notification.state == NotificationState.SKIPPED,
            Notification.reason.is_not(None),
        )
        .group_by(Notification.reason)
        .order_by(Notification.reason)
    ).all()
    return render_template(
        "app/outbox.html",
        store=store,
        rows=rows[:OUTBOX_PAGE],
        older=rows[OUTBOX_PAGE - 1].id if len(rows) > OUTBOX_PAGE else None,
        filters=filters,
        states=[state.value for state in NotificationState],
        flows=[flow.value for flow in Flow],
        reasons=reasons,
    )


@bp.get("/app/outbox/<int:notification_id>")
@store_required
def notification_detail(notification_id: int) -> ResponseReturnValue:
    store = _store()
    row = get_for_store(request_session(), Notification, store.id, notification_id)
    if row is None:
        abort(404)
    template = (
        request_session()
        .scalars(  # what the message looks like: its template's parts
            select(WhatsAppTemplate).where(
                WhatsAppTemplate.store_id == store.id,
                WhatsAppTemplate.name == row.template_name,
                WhatsAppTemplate.language == row.language,
            )
        )
        .first()
    )
    return render_template("app/notification.html", store=store, row=row, template=template)


@bp.get("/app/consent")
@store_required
def consent_search() -> ResponseReturnValue:
    store = _store()
    typed = (request.args.get("phone") or "").strip()
    error = None
    if typed:
        try:
            phone = parse_phone(typed, store.country, mobile_only=False)
        except InvalidPhone:
            error = _("This is not a valid phone number.")
        else:
            return redirect(url_for("owner.consent_proof", phone=phone, **embedded_params(store)))
    return render_template(
        "app/consent.html", store=store, typed=typed, error=error, subscription=None
    ), (422 if error else 200)


@bp.get("/app/consent/<phone>")
@store_required
def consent_proof(phone: str) -> ResponseReturnValue:
    """The subscription and every ledger event with the exact wording text and version."""
    store = _store()
    db_session = request_session()
    subscription = db_session.scalars(
        select(Subscription).where(Subscription.store_id == store.id, Subscription.phone == phone)
    ).first()
    if subscription is None:
        abort(404)
    events = db_session.execute(
        select(ConsentEvent, OptinWording)
        .outerjoin(
            OptinWording,
            (OptinWording.id == ConsentEvent.wording_id)
            & (OptinWording.store_id == ConsentEvent.store_id),
        )
        .where(
            ConsentEvent.store_id == store.id,
            ConsentEvent.subscription_id == subscription.id,
        )
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    ).all()
    return render_template(
        "app/consent.html",
        store=store,
        typed=phone,
        error=None,
        subscription=subscription,
        events=events,
    )
