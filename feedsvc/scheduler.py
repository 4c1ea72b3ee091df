"""The APScheduler scheduler of `feedsvc serve` and `feedsvc worker`.

Jobs only decide *when*; each calls one service, which owns its transactions. Several
workers may run this scheduler against one PostgreSQL database: the services claim their
work with row locks, so running a job in two processes at once does no work twice.
"""

from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from feedsvc.db import Database
from feedsvc.ingest.fetch import new_client
from feedsvc.ingest.parse_pool import ParserPool
from feedsvc.ingest.refresh import refresh_due_sources
from feedsvc.notify.deliver import (
    announce_new_articles,
    deliver_due,
    queue_daily_digests,
    verify_hub_intents,
)
from feedsvc.settings import Settings


class Jobs:
    """The scheduler and the processes its fetches parse in, started and stopped together.

    ``blocking``: ``start`` runs the jobs until ``stop`` (a worker); otherwise in a thread
    (``feedsvc serve``, inside its web process).
    """

    def __init__(self, settings: Settings, database: Database, blocking: bool) -> None:
        self.blocking = blocking
        self.parsers = ParserPool(settings.parse_processes)
        self.client = new_client(settings)
        self.scheduler: BaseScheduler = (
            BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC")
        )
        self.scheduler.add_job(
            refresh_due_sources,
            "interval",
            seconds=settings.scheduler_tick_seconds,
            args=(database, settings, None, self.parsers.parse, self.client),
            id="refresh-due-sources",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        for job_id, job, args in (
            ("announce-new-articles", announce_new_articles, (database, settings)),
            ("deliver-due", deliver_due, (database, settings, self.client)),
            ("verify-hub-intents", verify_hub_intents, (database, settings, self.client)),
            ("queue-daily-digests", queue_daily_digests, (database, settings)),
        ):
            self.scheduler.add_job(
                job,
                "interval",
                seconds=settings.notify_tick_seconds,
                args=args,
                id=job_id,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
            )

    def start(self) -> None:
        try:
            self.scheduler.start()
        finally:
            if self.blocking:  # start() returned: the jobs have stopped
                self._close()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)
        if not self.blocking:
            self._close()

    def _close(self) -> None:
        self.parsers.close()
        self.client.close()
