"""The APScheduler scheduler of `feedsvc serve` and `feedsvc worker`.

Jobs only decide *when*; each calls one service, which owns its transactions. Several
workers may run this scheduler against one PostgreSQL database: the services claim their
work with row locks, so running a job in two processes at once does no work twice.
"""

import logging
import random
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from feedsvc.db import Database
from feedsvc.housekeeping import sweep_due
from feedsvc.ingest.parse_pool import ParserPool
from feedsvc.ingest.refresh import refresh_due_sources
from feedsvc.log import settings_summary
from feedsvc.notify.deliver import (
    announce_new_articles,
    deliver_due,
    queue_daily_digests,
    verify_hub_intents,
)
from feedsvc.outbound import delivery_client, fetch_client
from feedsvc.settings import Settings
from feedsvc.text import utcnow

log = logging.getLogger(__name__)


class Jobs:
    """The scheduler (in its own threads) and the processes its fetches parse in, started
    and stopped together, by ``feedsvc worker`` and inside ``feedsvc serve``'s web process.

    ``stop`` sets ``stopping``, which the long-running jobs look at between two claims of
    work (what they claimed and did not start is due again), then waits for running jobs;
    never call it from a signal handler, which may have interrupted the very thread holding
    the scheduler's locks: set an event there instead (see ``run_until``).
    """

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self.parsers = ParserPool(settings.parse_processes, settings.parse_recycle_bytes)
        self.fetch_client = fetch_client(settings)
        self.delivery_client = delivery_client(settings)
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler.add_job(
            refresh_due_sources,
            "interval",
            seconds=settings.scheduler_tick_seconds,
            args=(
                database,
                settings,
                utcnow,
                random.Random(),
                self.parsers.parse,
                self.fetch_client,
            ),
            kwargs={"stopping": self.stopping},
            id="refresh-due-sources",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        for job_id, job, args in (
            ("announce-new-articles", announce_new_articles, (database, settings)),
            ("deliver-due", deliver_due, (database, settings, self.delivery_client)),
            ("verify-hub-intents", verify_hub_intents, (database, settings, self.delivery_client)),
            ("queue-daily-digests", queue_daily_digests, (database, settings)),
        ):
            self.scheduler.add_job(
                job,
                "interval",
                seconds=settings.notify_tick_seconds,
                args=args,
                kwargs={"clock": utcnow, "stopping": self.stopping},
                id=job_id,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
            )

        self.scheduler.add_job(
            sweep_due,
            "interval",
            minutes=settings.housekeeping_interval_minutes,
            args=(database, settings, utcnow),
            kwargs={"stopping": self.stopping},
            id="housekeeping",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )

    def start(self) -> None:
        self.scheduler.start()
        log.info("jobs started: %s", settings_summary(self.settings))

    def stop(self) -> None:
        self.stopping.set()
        self.scheduler.shutdown(wait=True)
        self.parsers.close()
        self.fetch_client.close()
        self.delivery_client.close()
        log.info("jobs stopped")

    def run_until(self, stopping: threading.Event) -> None:
        """Run the jobs until ``stopping`` is set (by a signal handler), then stop them."""
        self.start()
        try:
            while not stopping.wait(timeout=1):
                pass
        finally:
            self.stop()
