"""Ids of deleted rows are never handed out again, on SQLite as on PostgreSQL; migration 0013
rebuilds an existing SQLite store that way and keeps its rows, indexes and foreign keys."""

import random

from alembic import command
from sqlalchemy import create_engine, select, text

from feedsvc.articles import ArticleCreate, create_article, delete_article
from feedsvc.categories import create_category
from feedsvc.db import Database, alembic_config, create_database, upgrade_database
from feedsvc.models import Article, Delivery
from feedsvc.notify.deliver import announce_new_articles
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.settings import Settings
from feedsvc.sources import SourceCreate, add_source
from feedsvc.text import utcnow
from tests.conftest import BASE_URL

REBUILT = ("articles", "deliveries", "sources", "webhook_endpoints", "categories")


def _article(database: Database, title: str) -> int:
    with database.transaction() as session:
        article, _ = create_article(
            session, ArticleCreate(category="thoi-su", title=title), BASE_URL, utcnow()
        )
        return article.id


def _delete(database: Database, article_id: int) -> None:
    with database.transaction() as session:
        delete_article(session, article_id, utcnow())


def test_the_id_of_a_deleted_newest_article_is_not_given_again(db, store):
    store.category("Thời sự")
    kept = _article(db, "Tin thứ nhất")
    newest = _article(db, "Tin thứ hai")
    _delete(db, newest)
    again = _article(db, "Tin thứ ba")
    _delete(db, again)
    assert kept < newest < again < _article(db, "Tin thứ tư")


def _schema(url: str) -> dict[str, object]:
    """What must survive a rebuild: index definitions and foreign keys of the rebuilt tables."""
    engine = create_engine(url)
    with engine.connect() as connection:
        indexes = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
        ).all()
        foreign_keys = {
            table: sorted(
                tuple(row[2:6])
                for row in connection.exec_driver_sql(f"PRAGMA foreign_key_list({table})")
            )
            for table in REBUILT
        }
    engine.dispose()
    return {"indexes": indexes, "foreign_keys": foreign_keys}


def test_migration_0013_keeps_sqlite_rows_and_never_reuses_their_ids(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    settings = Settings(database_url=url, base_url=BASE_URL, allow_private_urls=True)
    upgrade_database(settings)  # the data is made by today's code, then taken back to 0012
    database = create_database(url)
    with database.transaction() as session:
        create_category(session, "Thời sự", utcnow())
        add_source(
            session,
            SourceCreate(url="http://127.0.0.1:9/rss", category="thoi-su"),
            settings,
            utcnow(),
            random.Random(1),
        )
        add_endpoint(session, EndpointCreate(url="http://127.0.0.1:9/hook"), settings, utcnow())
    first, second, newest = (_article(database, f"Tin {n}") for n in range(3))
    announce_new_articles(database, settings)  # a delivery per article
    _delete(database, newest)  # before the migration: its id may be given again, once
    database.dispose()
    command.downgrade(alembic_config(url), "0012")
    before = _schema(url)

    upgrade_database(settings, "0013")

    assert _schema(url) == before
    engine = create_engine(url)
    with engine.connect() as connection:
        for table in REBUILT:
            sql = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                {"t": table},
            ).scalar_one()
            assert "AUTOINCREMENT" in sql, table
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()
    upgrade_database(settings)
    database = create_database(url)
    with database.sessions() as session:
        assert session.scalars(select(Article.id).order_by(Article.id)).all() == [first, second]
        deliveries = session.scalars(select(Delivery.article_id).order_by(Delivery.id)).all()
        assert deliveries == [first, second, None]  # the deleted article's, kept and unlinked
    _delete(database, second)
    assert _article(database, "Tin sau khi nâng cấp") > second  # second's id is not given again
    database.dispose()


def test_every_exposed_table_keeps_autoincrement_at_the_head(tmp_path):
    """A later migration whose batch rebuilds a table must keep its AUTOINCREMENT."""
    url = f"sqlite:///{tmp_path / 'feedsvc.db'}"
    upgrade_database(Settings(database_url=url))
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        tables = {name: sql for name, sql in rows}
    engine.dispose()
    assert [table for table in REBUILT if "AUTOINCREMENT" not in tables[table]] == []
