"""Where the benchmark stores live: SQLite files under bench/results/, or PostgreSQL databases
created for the run on the local server and dropped at the end."""

import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from bench import BenchError
from feedsvc.db import upgrade_database
from feedsvc.settings import load_settings

RESULTS_DIR = Path(__file__).resolve().parent / "results"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class Databases:
    """Hands out migrated, empty databases; ``close`` drops the PostgreSQL ones."""

    def __init__(self, backend: str) -> None:
        if backend not in BACKENDS:
            raise ValueError(backend)
        self.backend = backend
        self._created: list[str] = []
        self._admin = None
        if backend == "postgresql":
            self._admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            try:
                with self._admin.connect() as connection:
                    self.server_version = str(
                        connection.execute(text("SHOW server_version")).scalar()
                    )
            except OperationalError as exc:
                self._admin.dispose()
                raise BenchError(
                    f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc.orig}", exit_code=2
                ) from exc
        else:
            import sqlite3

            self.server_version = sqlite3.sqlite_version

    def fresh(self, label: str) -> str:
        """URL of a new, migrated, empty store."""
        if self.backend == "sqlite":
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            path = RESULTS_DIR / f"{label}.sqlite"
            remove_sqlite(path)
            url = sqlite_url(path)
        else:
            assert self._admin is not None
            name = f"feedsvc_bench_{label.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
            with self._admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            self._created.append(name)
            url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
        upgrade_database(load_settings(database_url=url))
        return url

    def copy(self, url: str, label: str) -> str:
        """URL of a new store holding what the store at ``url`` holds (nobody may be using it:
        PostgreSQL copies a database only while no one is connected to it)."""
        if self.backend == "sqlite":
            import sqlite3

            path = RESULTS_DIR / f"{label}.sqlite"
            remove_sqlite(path)
            source_path = make_url(url).database
            assert source_path is not None
            with sqlite3.connect(source_path) as source, sqlite3.connect(path) as copy:
                source.backup(copy)  # the WAL's pages included
            source.close()
            copy.close()
            return sqlite_url(path)
        assert self._admin is not None
        name = f"feedsvc_bench_{label.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        with self._admin.connect() as connection:
            template = make_url(url).database
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        self._created.append(name)
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)

    def close(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as connection:
            for name in self._created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._created.clear()
        self._admin.dispose()
