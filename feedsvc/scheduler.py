"""The APScheduler scheduler of `feedsvc serve` and `feedsvc worker`.

Jobs only decide *when*; each calls one service inside its own transaction. The periodic
work (polling sources, delivering notifications) registers here as the ingestion and
notification services land; `JOBS` is the one list of them.
"""

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from feedsvc.db import Database
from feedsvc.settings import Settings

log = logging.getLogger(__name__)

# (job id, seconds between runs, function of (settings, database))
JOBS: list[tuple[str, int, Callable[[Settings, Database], None]]] = []


def build_scheduler(settings: Settings, database: Database, blocking: bool) -> BaseScheduler:
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC")
    )
    for job_id, seconds, job in JOBS:
        scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            args=(settings, database),
            id=job_id,
            max_instances=1,
            coalesce=True,
            jitter=max(1, seconds // 10),
        )
    log.info("scheduler built with %d job(s)", len(JOBS))
    return scheduler
