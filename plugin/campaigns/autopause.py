"""The job that pauses running campaigns whose template, quality or opt-outs say stop.

The rules are plugin.campaigns.watch; pausing is the owner's pause (plugin.campaigns.lifecycle).
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.campaigns.lifecycle import pause_campaign
from plugin.campaigns.watch import pause_reason
from plugin.db import get_database
from plugin.jobs import Job
from plugin.models import Campaign, CampaignStatus, Store

log = logging.getLogger(__name__)


def pause_failing_campaigns(session: Session, now: dt.datetime) -> list[tuple[int, str]]:
    """Pause every running campaign that should stop; (campaign id, reason) of each paused."""
    paused = []
    running = session.scalars(select(Campaign).where(Campaign.status == CampaignStatus.RUNNING))
    for campaign in running.all():
        store = session.get(Store, campaign.store_id)
        if store is None:
            continue
        reason = pause_reason(session, store, campaign)
        if reason is None:
            continue
        held = pause_campaign(session, store, campaign, now)
        campaign.status_reason = reason
        log.warning("campaign %s paused itself (%s rows held): %s", campaign.id, held, reason)
        paused.append((campaign.id, reason))
    return paused


def campaign_watch_job(app: Flask, now: dt.datetime) -> None:
    with get_database(app).session() as session:
        if pause_failing_campaigns(session, now):
            session.commit()


#: Every 5 s: the dispatch takes a batch a second, so a paused template or a wave of
#: opt-outs stops the campaign within a few batches.
JOBS = (Job("campaign_watch", campaign_watch_job, every_seconds=5),)
