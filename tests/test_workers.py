"""Several `feedsvc worker` processes on one PostgreSQL database share the due sources:
each source is fetched once per interval, never by two workers."""

import signal
import time

import pytest
from sqlalchemy import func, select

from feedsvc.db import Database, create_database
from feedsvc.models import Source
from feedsvc.settings import Settings
from tests.conftest import Store, _empty_store, start_worker
from tests.ingest_helpers import Sources
from tests.waiting import wait_until

RSS = (
    '<rss version="2.0"><channel><title>Nguồn {n}</title><link>http://x.vn/</link>'
    "<description>d</description><item><title>Tin {n}</title><guid>{n}</guid></item>"
    "</channel></rss>"
)
SOURCES = 24


@pytest.mark.slow
def _fetched(database: Database) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).where(Source.fetch_count > 0))  # type: ignore[return-value]


def test_two_workers_never_fetch_a_source_twice(postgresql_url, upstream, tmp_path):
    settings = Settings(database_url=postgresql_url, allow_private_urls=True)
    database = create_database(postgresql_url)
    _empty_store(database)
    Store(database, settings).category("Thời sự")
    sources = Sources(database, settings)
    for n in range(SOURCES):
        # slow answers, so that both workers are busy at the same time
        source_id = sources.add(upstream.serve(f"/{n}", RSS.format(n=n), delay=0.3))
        sources.make_due(source_id, sources.get(source_id).created_at)
    logs = [tmp_path / f"worker{n}.log" for n in range(2)]
    workers = [
        start_worker(postgresql_url, log, scheduler_tick_seconds="1", fetch_concurrency="2")
        for log in logs
    ]
    try:
        wait_until(lambda: _fetched(database) == SOURCES, 60, every=0.2)
        time.sleep(1.5)  # a further tick of both workers: nothing is due any more
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
    with database.transaction() as session:
        counts = list(session.scalars(select(Source.fetch_count)))
    database.dispose()
    assert counts == [1] * SOURCES
    assert [upstream.hits(f"/{n}") for n in range(SOURCES)] == [1] * SOURCES
    worked = [log.read_text().count(" fetched <") for log in logs]
    assert all(worked), f"both workers should have fetched some sources: {worked}"
