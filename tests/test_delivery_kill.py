"""Killing a worker (SIGKILL) in the middle of a fan-out loses nothing: after a restart every
subscriber receives the article, and any repeat carries the same webhook-id."""

import signal
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from feedsvc.db import create_database
from feedsvc.models import Delivery
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from tests.conftest import Store, _empty_store, start_worker
from tests.receiver import Receiver
from tests.waiting import wait_until

ENDPOINTS = 20


@pytest.mark.slow
def test_sigkill_mid_fan_out_loses_nothing(postgresql_url, tmp_path):
    settings = Settings(database_url=postgresql_url, allow_private_urls=True)
    database = create_database(postgresql_url)
    _empty_store(database)
    store = Store(database, settings)
    store.category("Thời sự")
    with Receiver(delay=0.3) as receiver:  # slow receivers: the fan-out takes a while
        with database.transaction() as session:
            for n in range(ENDPOINTS):
                add_endpoint(
                    session, EndpointCreate(url=f"{receiver.url}/e{n}"), settings, utcnow()
                )
        store.article("thoi-su", "Tin khẩn", published_at=utcnow())
        worker_settings = {
            "notify_tick_seconds": "1",
            "delivery_concurrency": "2",
            "delivery_timeout": "1",
        }
        log = tmp_path / "workers.log"
        first = start_worker(postgresql_url, log, **worker_settings)
        # The first answer arrives while the rest of its batch is still being sent (0.3 s each,
        # two at a time): the batch is not recorded yet when the worker is killed.
        assert wait_until(lambda: len(receiver.received) >= 1, 30), log.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert len({r.path for r in receiver.received}) < ENDPOINTS  # really mid fan-out
        second = start_worker(postgresql_url, log, **worker_settings)

        def all_delivered() -> bool:
            with database.transaction() as session:
                return set(session.scalars(select(Delivery.state))) == {"delivered"}

        try:
            # The killed worker's batch is sent again once its lease (12 s here) has ended.
            assert wait_until(all_delivered, 60), log.read_text()
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    ids_by_endpoint = defaultdict(set)
    for received in receiver.received:
        ids_by_endpoint[received.path].add(received.headers["webhook-id"])
    assert all(len(ids) == 1 for ids in ids_by_endpoint.values()), ids_by_endpoint
    assert len(ids_by_endpoint) == ENDPOINTS
    assert len(receiver.received) > ENDPOINTS  # the killed batch was sent again: same ids
    with database.transaction() as session:
        assert session.scalar(select(func.count(Delivery.id))) == ENDPOINTS
    database.dispose()
