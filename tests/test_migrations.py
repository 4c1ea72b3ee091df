"""The migrated schema is exactly the models' schema, on SQLite and PostgreSQL; data
migrations keep what is stored."""

import uuid
from datetime import datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, make_url, text

from feedsvc.articles import list_visible
from feedsvc.db import create_database, upgrade_database
from feedsvc.models import Base, in_models
from feedsvc.notify.rows import new_payload
from feedsvc.settings import Settings
from feedsvc.text import normalise_search, utcnow
from tests.conftest import POSTGRES_ADMIN_URL


def test_migrations_match_models(database_url, db):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": in_models}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_url(request, tmp_path):  # type: ignore[no-untyped-def]
    """An empty database of each kind, for migrating step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("postgresql_url")  # skips (or fails) like every PostgreSQL test
    admin_url = make_url(POSTGRES_ADMIN_URL)
    name = f"feedsvc_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_deliveries_keep_their_payloads_when_payloads_move_out(unmigrated_url):
    """0010 moves each delivery's payload into delivery_payloads; new payloads get new ids."""
    settings = Settings(database_url=unmigrated_url)
    upgrade_database(settings, "0009")
    engine = create_engine(unmigrated_url)
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO webhook_endpoints (id, url, description, secret, categories,"
                " keywords, enabled, disabled_reason, consecutive_failures, created_at)"
                " VALUES (1, 'http://example.vn/h', '', 'whsec_x', '[]', '[]', true, '', 0, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO deliveries (id, message_id, endpoint_id, content_type, payload,"
                " state, attempts, next_attempt_at, last_error, created_at)"
                " VALUES (7, 'msg_old', 1, 'application/json', '{\"a\": \"Thời sự\"}',"
                " 'dead', 12, :now, 'HTTP 500', :now)"
            ),
            {"now": now},
        )
    upgrade_database(settings)
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT p.body, p.content_type, d.state FROM deliveries d"
                " JOIN delivery_payloads p ON p.id = d.payload_id WHERE d.message_id = 'msg_old'"
            )
        ).one()
    assert tuple(row) == ('{"a": "Thời sự"}', "application/json", "dead")
    database = create_database(unmigrated_url)
    with database.transaction() as session:
        assert new_payload(session, "{}", "application/json", now) != 7
    database.dispose()
    engine.dispose()


def test_long_texts_use_lz4_on_postgresql(postgresql_url):
    """Migration 0011: where the server has lz4, long texts are compressed with it."""
    engine = create_engine(postgresql_url)
    with engine.connect() as connection:
        has_lz4 = connection.execute(
            text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
                " WHERE name = 'default_toast_compression'"
            )
        ).scalar()
        methods = connection.execute(
            text(
                "SELECT attname, attcompression FROM pg_attribute"
                " WHERE attrelid = 'articles'::regclass"
                " AND attname IN ('body_html', 'search_text', 'summary')"
            )
        ).all()
    engine.dispose()
    assert {method for _name, method in methods} == ({"l"} if has_lz4 else {""})


def test_search_index_holds_the_articles_written_before_it(unmigrated_url):
    """0018 indexes the existing articles; the index then follows their writes."""
    settings = Settings(database_url=unmigrated_url)
    upgrade_database(settings, "0015")
    engine = create_engine(unmigrated_url)
    now = utcnow()

    def stored(moment: datetime) -> datetime:  # as UTCDateTime stores it
        return moment.replace(tzinfo=None) if engine.dialect.name == "sqlite" else moment

    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO categories (id, slug, name, description, position,"
                " content_version, content_changed_at) VALUES (1, 'thoi-su', 'Thời sự', '', 0,"
                " 0, :now)"
            ),
            {"now": now},
        )
        for n, title in enumerate(("Thi đua yêu nước", "Thi đấu", "Đua thuyền thi")):
            connection.execute(
                text(
                    "INSERT INTO articles (guid, category_id, title, slug, summary, body_html,"
                    " author, origin, published_at, published_at_estimated, created_at,"
                    " updated_at, search_text) VALUES (:guid, 1, :title, 's', '', '', '',"
                    " 'local', :published, false, :now, :now, :search)"
                ),
                {
                    "guid": f"urn:x:{n}",
                    "title": title,
                    "published": stored(now - timedelta(hours=n + 1)),
                    "now": now,
                    "search": normalise_search(title),
                },
            )
    upgrade_database(settings)
    database = create_database(unmigrated_url)
    with database.transaction() as session:
        assert [a.title for a in list_visible(session, now, 10, query="thi dua")] == [
            "Thi đua yêu nước"
        ]
        assert [a.title for a in list_visible(session, now, 10, query="thi")] == [
            "Thi đua yêu nước",
            "Thi đấu",
            "Đua thuyền thi",
        ]
        session.execute(text("DELETE FROM articles WHERE title = 'Thi đấu'"))
        assert len(list_visible(session, now, 10, query="thi")) == 2
    database.dispose()
    engine.dispose()
