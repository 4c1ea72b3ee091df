"""SQLite: concurrent units of work wait for each other's lock instead of failing or losing
updates (busy timeout and BEGIN IMMEDIATE, see feedsvc.db)."""

import threading
import time
import uuid

from feedsvc.categories import create_category
from feedsvc.db import Database, create_database
from feedsvc.models import Category
from feedsvc.text import utcnow

ROUNDS = 150


def _category(database: Database) -> Category:
    with database.transaction() as session:
        return create_category(session, f"Khóa {uuid.uuid4().hex[:8]}", utcnow())


def _run_together(*targets) -> list[BaseException]:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def guarded(target) -> None:  # type: ignore[no-untyped-def]
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_read_then_write_units_of_work_neither_fail_nor_lose_updates(sqlite_url):
    """Two engines (as two processes) each read a counter and write it back, many times."""
    databases = [create_database(sqlite_url) for _ in range(2)]
    category = _category(databases[0])
    category_id, start = category.id, category.position

    def increment(database: Database) -> None:
        for _ in range(ROUNDS):
            with database.transaction() as session:
                category = session.get(Category, category_id)
                assert category is not None
                category.position = category.position + 1

    errors = _run_together(*(lambda d=d: increment(d) for d in databases))
    with databases[0].sessions() as session:
        position = session.get(Category, category_id).position  # type: ignore[union-attr]
    for database in databases:
        database.dispose()
    assert errors == []
    assert position == start + 2 * ROUNDS


def test_a_writer_waits_for_a_long_write_of_another_engine(sqlite_url):
    """A write held for a second (an ingest storing a large feed) delays, not fails, another."""
    holder, waiter = create_database(sqlite_url), create_database(sqlite_url)
    category_id = _category(holder).id
    holding = threading.Event()

    def hold() -> None:
        with holder.transaction() as session:
            session.get(Category, category_id).description = "đang ghi"  # type: ignore[union-attr]
            session.flush()
            holding.set()
            time.sleep(1)

    def write() -> None:
        holding.wait()
        with waiter.transaction() as session:
            session.get(Category, category_id).position = 7  # type: ignore[union-attr]

    errors = _run_together(hold, write)
    with waiter.sessions() as session:
        category = session.get(Category, category_id)
        assert category is not None
        assert (category.description, category.position) == ("đang ghi", 7)
    holder.dispose()
    waiter.dispose()
    assert errors == []
