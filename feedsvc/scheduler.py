"""The APScheduler scheduler of `feedsvc serve` and `feedsvc worker`.

Jobs only decide *when*; each calls one service, which owns its transactions. Several
workers may run this scheduler against one PostgreSQL database: the services claim their
work with row locks, so running a job in two processes at once does no work twice.
"""

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from feedsvc.db import Database
from feedsvc.ingest.refresh import refresh_due_sources
from feedsvc.settings import Settings

log = logging.getLogger(__name__)


def build_scheduler(settings: Settings, database: Database, blocking: bool) -> BaseScheduler:
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC")
    )
    scheduler.add_job(
        refresh_due_sources,
        "interval",
        seconds=settings.scheduler_tick_seconds,
        args=(database, settings),
        id="refresh-due-sources",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    return scheduler
