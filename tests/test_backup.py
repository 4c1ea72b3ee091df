"""Backup and restore: a dump of a store, restored into a fresh database, serves the same
feeds byte for byte, keeps ids never reused, and a damaged or misplaced dump is refused."""

import io
import json

import pytest
from sqlalchemy import func, select

from feedsvc.backup import export_store, import_store, snapshot
from feedsvc.categories import delete_category, list_categories
from feedsvc.db import Database, create_database, upgrade_database
from feedsvc.errors import Conflict, InvalidInput
from feedsvc.models import Category
from feedsvc.settings import Settings
from feedsvc.web import create_app
from tests.conftest import BASE_URL, Store
from tests.test_cli import feedsvc

FORMATS = ("rss", "atom", "json")


def served_feeds(database: Database, settings: Settings) -> dict[str, tuple[bytes, str, str]]:
    """Every category's feed (and the all-categories one) in every format: body, ETag and
    Last-Modified, as a client gets them."""
    with database.transaction() as session:
        slugs = ["all", *(category.slug for category in list_categories(session))]
    app = create_app(settings)
    client = app.test_client()
    served = {}
    for slug in slugs:
        for fmt in FORMATS:
            response = client.get(f"/feeds/{slug}.{fmt}")
            assert response.status_code == 200, (slug, fmt)
            served[f"{slug}.{fmt}"] = (
                response.data,
                response.headers["ETag"],
                response.headers["Last-Modified"],
            )
    app.extensions["feedsvc.db"].dispose()
    return served


def migrated(url: str) -> Database:
    upgrade_database(Settings(database_url=url))
    return create_database(url)


def test_a_restored_dump_serves_the_same_feeds_byte_for_byte(
    store: Store, db: Database, settings: Settings, unmigrated_url: str
) -> None:
    store.demo()
    gone = store.category("Sẽ bị xoá")  # the highest id, deleted: never handed out again
    with db.transaction() as session:
        delete_category(session, gone.slug)
    before = served_feeds(db, settings)
    dump = io.StringIO()
    exported = export_store(db, dump)
    assert exported.rows > 64

    restored = migrated(unmigrated_url)
    imported = import_store(restored, io.StringIO(dump.getvalue()))
    assert imported.rows == exported.rows
    after = served_feeds(restored, Settings(database_url=unmigrated_url, base_url=BASE_URL))
    assert after.keys() == before.keys()
    for name, (body, etag, last_modified) in before.items():
        assert after[name] == (body, etag, last_modified), name

    assert Store(restored, settings).category("Mới").id > gone.id
    restored.dispose()


def _without_date(dump: str) -> list[object]:
    header, *rest = dump.splitlines()
    return [{**json.loads(header), "exported_at": None}, *rest]


def test_a_dump_is_the_same_from_either_database(
    store: Store, db: Database, unmigrated_url: str
) -> None:
    """Export, import elsewhere, export again: the same lines (so SQLite <-> PostgreSQL moves
    lose nothing: the other kind of database is covered by the other parametrisation)."""
    store.demo()
    first = io.StringIO()
    export_store(db, first)
    restored = migrated(unmigrated_url)
    import_store(restored, io.StringIO(first.getvalue()))
    second = io.StringIO()
    export_store(restored, second)
    restored.dispose()
    assert _without_date(second.getvalue()) == _without_date(first.getvalue())


def test_import_refuses_a_database_with_data(store: Store, db: Database) -> None:
    store.demo()
    dump = io.StringIO()
    export_store(db, dump)
    with pytest.raises(Conflict, match="not empty"):
        import_store(db, io.StringIO(dump.getvalue()))


def test_a_damaged_dump_is_refused_and_nothing_is_kept(
    store: Store, db: Database, unmigrated_url: str
) -> None:
    store.demo()
    dump = io.StringIO()
    export_store(db, dump)
    lines = dump.getvalue().splitlines(keepends=True)
    restored = migrated(unmigrated_url)
    cases = {
        "cut short": lines[: len(lines) // 2],
        "not a dump": ["<rss/>\n"],
        "other format": ['{"format": "other"}\n'],
        "other schema": [lines[0].replace('"schema":"', '"schema":"x'), *lines[1:]],
        "rows missing": [*lines[:-1], lines[-1].replace('"rows":', '"rows":1')],
    }
    for name, damaged in cases.items():
        with pytest.raises(InvalidInput):
            import_store(restored, damaged)
        with restored.transaction() as session:
            assert list_categories(session) == [], name
    restored.dispose()


def test_db_export_and_import_commands(store: Store, database_url: str, tmp_path) -> None:
    store.demo()
    dump = tmp_path / "feedsvc.jsonl"
    exported = feedsvc("db", "export", str(dump), database_url=database_url)
    assert exported.returncode == 0, exported.stderr
    assert "exported" in exported.stderr
    streamed = feedsvc("db", "export", "-", database_url=database_url)
    assert streamed.stdout.splitlines()[1:] == dump.read_text().splitlines()[1:]
    fresh = f"sqlite:///{tmp_path / 'restored.db'}"
    assert feedsvc("db", "upgrade", database_url=fresh).returncode == 0
    imported = feedsvc("db", "import", str(dump), database_url=fresh)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("imported ")
    twice = feedsvc("db", "import", str(dump), database_url=fresh)
    assert twice.returncode == 1
    assert "not empty" in twice.stderr
    missing = feedsvc("db", "import", str(tmp_path / "nothing"), database_url=fresh)
    assert missing.returncode == 2  # click: no such file


def test_the_export_snapshot_sees_one_state_and_blocks_no_writer(
    store: Store, db: Database, database_url: str
) -> None:
    """What makes `db export` safe while the service runs: a writer commits in the middle of
    the read (on SQLite without waiting: its busy timeout is tiny), and the read does not see it."""
    store.category("Thời sự")
    writer = create_database(database_url, sqlite_busy_timeout=0.01)
    with snapshot(db) as connection:
        count = select(func.count()).select_from(Category)
        assert connection.scalar(count) == 1
        Store(writer, store.settings).category("Kinh tế")
        assert connection.scalar(count) == 1
    writer.dispose()
    with db.transaction() as session:
        assert len(list_categories(session)) == 2
