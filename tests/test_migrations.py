"""The migrated schema is exactly the models' schema, on SQLite and PostgreSQL; data
migrations keep what is stored."""

import random
from datetime import datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from feedsvc.articles import page_visible, summarise
from feedsvc.db import alembic_config, create_database, upgrade_database
from feedsvc.ingest.history import record_fetch
from feedsvc.models import Base, Source, in_models
from feedsvc.notify.rows import delivery_row, insert_deliveries, new_payload
from feedsvc.paging import Position
from feedsvc.settings import Settings
from feedsvc.sources import SourceCreate, add_source
from feedsvc.text import html_to_text, normalise_search, utcnow


def test_migrations_match_models(database_url, db):
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": in_models}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


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


def test_sources_that_had_fetched_keep_announcing_after_0016(unmigrated_url):
    """0016: a source fetched successfully before it counts as baselined (its new entries
    are still announced); one that never was gets its baseline at its first fetch."""
    settings = Settings(database_url=unmigrated_url)
    upgrade_database(settings, "0015")
    engine = create_engine(unmigrated_url)
    created = utcnow()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO categories (id, name, slug, description, position, content_version,"
                " content_changed_at) VALUES (1, 'Thời sự', 'thoi-su', '', 0, 0, :now)"
            ),
            {"now": created},
        )
        for source_id, fetches, errors in ((1, 5, 1), (2, 2, 2), (3, 0, 0)):
            connection.execute(
                text(
                    "INSERT INTO sources (id, url, title, category_id, category_map,"
                    " interval_minutes, enabled, disabled_reason, created_at, next_fetch_at,"
                    " last_new, last_updated, last_skipped, last_error, last_warning,"
                    " consecutive_failures, websub_state, websub_error, fetch_count,"
                    " error_count, item_count) VALUES (:id, :url, '', 1, '{}', 15, true, '',"
                    " :now, :now, 0, 0, 0, '', '', 0, '', '', :fetches, :errors, 0)"
                ),
                {
                    "id": source_id,
                    "url": f"http://example.vn/{source_id}.rss",
                    "now": created,
                    "fetches": fetches,
                    "errors": errors,
                },
            )
    upgrade_database(settings)
    database = create_database(unmigrated_url)
    with database.transaction() as session:
        sources = {s.id: s for s in session.scalars(select(Source))}
        assert sources[1].baseline_at == created
        assert sources[2].baseline_at is None and sources[3].baseline_at is None
        assert (sources[1].unannounced_baseline, sources[1].unannounced_old) == (0, 0)
    database.dispose()
    engine.dispose()


def test_summaries_stored_before_0017_are_derived_where_the_body_gives_them(unmigrated_url):
    """0017: a summary that is empty or what the body gives is derived; any other explicit."""
    settings = Settings(database_url=unmigrated_url)
    upgrade_database(settings, "0016")
    engine = create_engine(unmigrated_url)
    now = utcnow()
    body = "<p>" + "Câu dài. " * 60 + "</p>"
    rows = {  # id: (summary, body)
        1: (summarise(html_to_text(body)), body),
        2: ("Tóm tắt của biên tập viên", body),
        3: ("", ""),
    }
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO categories (id, name, slug, description, position, content_version,"
                " content_changed_at) VALUES (1, 'Thời sự', 'thoi-su', '', 0, 0, :now)"
            ),
            {"now": now},
        )
        for article_id, (summary, body_html) in rows.items():
            connection.execute(
                text(
                    "INSERT INTO articles (id, guid, category_id, title, slug, summary, body_html,"
                    " author, origin, published_at, published_at_estimated, created_at,"
                    " updated_at, search_text) VALUES (:id, :guid, 1, 'Tin', 'tin', :summary,"
                    " :body, '', 'local', :now, false, :now, :now, '')"
                ),
                {
                    "id": article_id,
                    "guid": f"urn:x:{article_id}",
                    "summary": summary,
                    "body": body_html,
                    "now": now,
                },
            )
    upgrade_database(settings)
    with engine.connect() as connection:
        derived = dict(connection.execute(text("SELECT id, summary_derived FROM articles")).all())
    engine.dispose()
    assert derived == {1: True, 2: False, 3: True}


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
        assert [
            a.title for a in page_visible(session, now, Position(), 10, query="thi dua").items
        ] == ["Thi đua yêu nước"]
        assert [a.title for a in page_visible(session, now, Position(), 10, query="thi").items] == [
            "Thi đua yêu nước",
            "Thi đấu",
            "Đua thuyền thi",
        ]
        session.execute(text("DELETE FROM articles WHERE title = 'Thi đấu'"))
        assert len(page_visible(session, now, Position(), 10, query="thi").items) == 2
    database.dispose()
    engine.dispose()


ONE_SUBSCRIBER = "ck_deliveries_one_subscriber"


def _deliver(connection: Connection, message_id: str, now: datetime, **subscriber: int) -> None:
    """A delivery row as SQL writes it, with only the given subscriber columns set."""
    named = "".join(f"{column}, " for column in subscriber)
    values = "".join(f":{column}, " for column in subscriber)
    connection.execute(
        text(
            f"INSERT INTO deliveries (message_id, {named}payload_id, state, attempts,"
            f" next_attempt_at, last_error, created_at) VALUES (:message_id, {values}1,"
            " 'pending', 0, :now, '', :now)"
        ),
        {"message_id": message_id, "now": now, **subscriber},
    )


def _delivery_ids(connection: Connection) -> list[int]:
    return list(connection.scalars(text("SELECT id FROM deliveries ORDER BY id")))


def test_0023_holds_each_delivery_to_one_subscriber_and_keeps_the_rows(unmigrated_url):
    """The CHECK comes with 0023 and goes with its downgrade; the rows stay, and so does the
    largest id ever given (on SQLite the table is rebuilt after the newest was removed)."""
    settings = Settings(database_url=unmigrated_url)
    upgrade_database(settings, "0022")
    engine = create_engine(unmigrated_url)
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO webhook_endpoints (id, url, description, secret, categories,"
                " keywords, enabled, disabled_reason, consecutive_failures, created_at,"
                " consecutive_timeouts) VALUES (1, 'http://example.vn/h', '', 'whsec_x', '[]',"
                " '[]', true, '', 0, :now, 0)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO delivery_payloads (id, body, content_type, created_at)"
                " VALUES (1, '{}', 'application/json', :now)"
            ),
            {"now": now},
        )
        for n in (1, 2, 3):
            _deliver(connection, f"msg_{n}", now, endpoint_id=1)
        connection.execute(text("DELETE FROM deliveries WHERE id = 3"))
    upgrade_database(settings)
    database = create_database(unmigrated_url)
    with database.transaction() as session:  # the outbox's own insert
        insert_deliveries(session, [delivery_row(now, None, 1, endpoint_id=1)])
    database.dispose()
    with engine.begin() as connection:
        assert _delivery_ids(connection) == [1, 2, 4]  # 3 is not given again
    with engine.begin() as connection, pytest.raises(IntegrityError, match=ONE_SUBSCRIBER):
        _deliver(connection, "msg_none", now)
    command.downgrade(alembic_config(unmigrated_url), "0022")
    with engine.begin() as connection:
        _deliver(connection, "msg_none", now)  # nothing refuses it any more
        connection.execute(text("DELETE FROM deliveries WHERE message_id = 'msg_none'"))
        _deliver(connection, "msg_after", now, endpoint_id=1)
        assert _delivery_ids(connection)[:3] == [1, 2, 4]
        assert _delivery_ids(connection)[3] > 5  # after the removed one's id
    upgrade_database(settings)
    engine.dispose()


@pytest.mark.parametrize(
    "subscriber",
    [
        {},
        {"endpoint_id": 1, "email_subscriber_id": 1},
        {"hub_subscription_id": 1, "endpoint_id": 1},
    ],
    ids=["none", "webhook and e-mail", "hub and webhook"],
)
def test_a_delivery_without_exactly_one_subscriber_is_refused(db, subscriber):
    """The CHECK is evaluated before the foreign keys: the error names it."""
    now = utcnow()
    with db.transaction() as session:
        payload_id = new_payload(session, "{}", "application/json", now)
    with pytest.raises(IntegrityError, match=ONE_SUBSCRIBER), db.transaction() as session:
        insert_deliveries(session, [delivery_row(now, None, payload_id, **subscriber)])


def test_fetch_history_and_delivery_indexes_go_and_come_back(unmigrated_url):
    """0024 downgrades to 0021 (keeping the sources and their AUTOINCREMENT) and upgrades
    again to the models' schema."""
    settings = Settings(database_url=unmigrated_url)
    upgrade_database(settings)
    engine = create_engine(unmigrated_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO categories (id, slug, name, description, position,"
                " content_version, content_changed_at) VALUES (1, 'thoi-su', 'Thời sự', '', 0,"
                " 0, :now)"
            ),
            {"now": utcnow()},
        )
    database = create_database(unmigrated_url)
    with database.transaction() as session:
        source = add_source(
            session,
            SourceCreate(url="https://tinh.example.vn/rss", category="thoi-su"),
            settings.model_copy(update={"allow_private_urls": True}),
            utcnow(),
            random.Random(1),
        )
        source.site_url = "https://tinh.example.vn/"
        record_fetch(session, source.id, utcnow(), "ok", 200, 12, 3)
    database.dispose()
    command.downgrade(alembic_config(unmigrated_url), "0023")
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        columns = {c["name"] for c in inspect(connection).get_columns("sources")}
        indexes = {i["name"] for i in inspect(connection).get_indexes("deliveries")}
        assert connection.scalar(text("SELECT url FROM sources")) == "https://tinh.example.vn/rss"
        if engine.dialect.name == "sqlite":
            assert "AUTOINCREMENT" in connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'sources'")
            )
    assert "source_fetches" not in tables and "site_url" not in columns
    assert not {
        i for i in indexes if i.startswith(("ix_deliveries_endpoint", "ix_deliveries_channel"))
    }
    upgrade_database(settings)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": in_models}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
