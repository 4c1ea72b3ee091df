"""Engine, sessions, migrations and change watching, made from settings (never at import).

A ``ChangeWatch`` tells, without a query, whether the store may have changed: its *token*
moves whenever it may have. On SQLite that is ``PRAGMA data_version`` of a connection of its
own (it changes with any commit of any other connection, in any process). On PostgreSQL a
thread LISTENs for the NOTIFY that ``content.touch_categories`` sends with every content change,
and this process's own commits move the token at once (``after_commit``), so a process always
reads its own writes; other processes follow when PostgreSQL delivers the notification,
milliseconds after the commit. ``None`` means "cannot tell": callers must query.

SQLite keeps the driver's default ("legacy") transaction control, under which a SELECT outside
a write takes no lock, and adds two things: a busy timeout, so a writer waits for another's
lock instead of failing with "database is locked"; and ``BEGIN IMMEDIATE`` for every
``Database.transaction()``, so a unit of work takes the write lock before its first read. A
deferred transaction that reads and then writes can neither wait for the lock (SQLite answers
SQLITE_BUSY at once, whatever the timeout, when another writer committed after its read) nor
exclude another writer between its read and its write (a lost update).
"""

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from feedsvc.errors import ConfigurationError
from feedsvc.settings import Settings
from feedsvc.text import search_pairs

MIGRATIONS_DIR = str(files("feedsvc") / "migrations")
CHANGES_CHANNEL = "feedsvc_content"
IMMEDIATE = "feedsvc_begin_immediate"  # execution option: the next BEGIN takes the write lock
# The database cannot be reached or used right now (down, restarting, locked, no free
# connection): worth trying again shortly, unlike an error in the statement itself.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)
log = logging.getLogger(__name__)


class ChangeWatch(Protocol):
    def token(self) -> int | None:
        """Moves whenever the store may have changed; None when that cannot be told."""

    def close(self) -> None: ...


class SqliteWatch:
    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(path, check_same_thread=False)
        self._lock = threading.Lock()

    def token(self) -> int | None:
        with self._lock:
            return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self._connection.close()


class PostgresWatch:
    """A daemon thread LISTENs on a connection of its own; each notification moves the token.

    While that connection is down the token is None, and a reconnect moves it, since
    notifications may have been missed meanwhile.
    """

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self._engine = engine
        self._generation = 0
        self._listening = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        event.listen(sessions, "after_commit", self._changed)

    def _changed(self, _session: Session | None = None) -> None:
        self._generation += 1

    def token(self) -> int | None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:  # started on first use: after gunicorn's fork
                    self._thread = threading.Thread(
                        target=self._listen, daemon=True, name="feedsvc-changes"
                    )
                    self._thread.start()
        return self._generation if self._listening else None

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self._engine.raw_connection()
                try:
                    connection = raw.driver_connection  # psycopg's, untyped by SQLAlchemy
                    assert connection is not None, "a connection just taken from the pool"
                    connection.autocommit = True
                    connection.execute(f"LISTEN {CHANGES_CHANNEL}")
                    self._changed()
                    self._listening = True
                    while not self._stop.is_set():
                        for _notify in connection.notifies(timeout=0.5):
                            self._changed()
                finally:
                    self._listening = False
                    raw.invalidate()  # never back into the pool: it was LISTENing
            except Exception:  # the connection broke: callers query until it is back
                if not self._stop.is_set():
                    log.warning("lost the change listener; reconnecting", exc_info=True)
            self._changed()
            self._stop.wait(1)

    def close(self) -> None:
        """The thread notices within half a second and drops its connection."""
        self._stop.set()


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]
    changes: ChangeWatch | None = field(default=None, compare=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception.

        On SQLite it holds the write lock from its start (``BEGIN IMMEDIATE``).
        """
        with self.sessions.begin() as session:
            if self.engine.dialect.name == "sqlite":
                session.connection(execution_options={IMMEDIATE: True})
            yield session

    def dispose(self) -> None:
        if self.changes is not None:
            self.changes.close()
        self.engine.dispose()


def add_sqlite_functions(dbapi_connection: Any, _record: object = None) -> None:
    """The functions the schema calls, on each new SQLite connection (the migrations' too):
    ``search_pairs()``, which the search index's triggers call (migration 0022). A
    connection without it (the ``sqlite3`` shell) cannot write articles ("no such function:
    search_pairs") rather than leave the index out of step."""
    dbapi_connection.create_function("search_pairs", 1, search_pairs, deterministic=True)


def _set_sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: safe from crashes, not power cuts
    cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    """The driver begins other transactions itself, deferred, before their first write."""
    if connection.get_execution_options().get(IMMEDIATE):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_database(
    database_url: str, *, sqlite_busy_timeout: float = 10, connect_timeout: int = 5
) -> Database:
    """``sqlite_busy_timeout``: seconds a SQLite statement waits for another's lock;
    ``connect_timeout``: seconds to reach a PostgreSQL server before the attempt fails.

    Connections to a server are checked before each use (``pool_pre_ping``): after an outage
    the pool reconnects by itself, and a request meanwhile fails at once with one of
    ``UNAVAILABLE_ERRORS`` rather than on a dead connection.
    """
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        engine = create_engine(url, connect_args={"timeout": sqlite_busy_timeout})
    else:
        connect_args = {"connect_timeout": connect_timeout}
        engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    sessions = sessionmaker(engine, expire_on_commit=False)
    changes: ChangeWatch | None = None
    if backend == "sqlite":
        event.listen(engine, "connect", add_sqlite_functions)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
        if url.database not in (None, "", ":memory:"):
            changes = SqliteWatch(url.database)
    elif backend == "postgresql":
        changes = PostgresWatch(engine, sessions)
    return Database(engine, sessions, changes)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(settings: Settings, revision: str = "head") -> None:
    """Apply the migrations (what `feedsvc db upgrade` and the container entrypoint run)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings.database_url), revision)


def schema_head() -> str:
    """The newest migration of this code."""
    return str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def check_schema(database: Database) -> None:
    """Raise ConfigurationError unless the database answers and is migrated to this code's
    head: a process started on an old or empty database says so once, instead of failing
    at every request or tick."""
    head = schema_head()
    try:
        with database.engine.connect() as connection:  # alembic's own reader logs at INFO
            current = (
                connection.scalar(text("SELECT version_num FROM alembic_version"))
                if inspect(connection).has_table("alembic_version")
                else None
            )
    except SQLAlchemyError as exc:
        raise ConfigurationError(
            f"the database is not ready ({exc.__class__.__name__}); run `feedsvc db upgrade`"
        ) from exc
    if current != head:
        raise ConfigurationError(
            f"the database schema is at {current or 'nothing'}, this feedsvc needs {head}:"
            " run `feedsvc db upgrade`"
        )
