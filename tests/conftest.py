"""Fixtures: a migrated real database per backend (SQLite and PostgreSQL), the app, helpers.

PostgreSQL: a fresh database is created for the run on the server at
FEEDSVC_TEST_POSTGRES_URL (default: the local server, trust auth) and dropped afterwards. If
no server answers, the PostgreSQL variants are skipped with the reason, unless
FEEDSVC_TEST_REQUIRE_POSTGRES=1 (as in .ci/run), which makes that a failure.
"""

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from feedsvc.articles import ArticleCreate, create_article
from feedsvc.categories import create_category
from feedsvc.db import Database, create_database, upgrade_database
from feedsvc.demo import load_demo
from feedsvc.models import Article, Base, Category
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from feedsvc.tokens import create_token
from feedsvc.web import create_app
from tests.ingest_helpers import Sources
from tests.upstream import Upstream

POSTGRES_ADMIN_URL = os.environ.get(
    "FEEDSVC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
pytest_plugins = ["tests.browser"]  # the `browser` fixture (Debian's Chromium)
REQUIRE_POSTGRES = os.environ.get("FEEDSVC_TEST_REQUIRE_POSTGRES") == "1"
BASE_URL = "http://feeds.example.vn"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer's FEEDSVC_* variables or config file leak into a test."""
    for name in list(os.environ):
        if name.startswith("FEEDSVC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FEEDSVC_CONFIG", str(ROOT / "tests" / "no-config.toml"))


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'feedsvc.db'}"
    upgrade_database(Settings(database_url=url))
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    admin_url = make_url(POSTGRES_ADMIN_URL)
    name = f"feedsvc_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL not reachable at {admin_url.render_as_string()}: {exc.orig}"
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=url))
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")  # type: ignore[no-any-return]


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


def _empty_store(database: Database) -> None:
    with database.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "instance_keys":
                continue  # made once by the migration, like in production
            if table.name == "content_state":
                session.execute(table.update().values(version=0))
            else:
                session.execute(table.delete())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, base_url=BASE_URL, media_dir=str(tmp_path / "media"))


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = create_database(settings.database_url)
    _empty_store(database)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    flask_app = create_app(settings)
    flask_app.config["TESTING"] = True
    yield flask_app
    flask_app.extensions["feedsvc.db"].dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def now() -> datetime:
    return utcnow()


class Store:
    """Builds test data through the same services users call."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def category(self, name: str, **kwargs: object) -> Category:
        with self.database.transaction() as session:
            return create_category(session, name, utcnow(), **kwargs)  # type: ignore[arg-type]

    def article(self, category: str, title: str, **fields: object) -> Article:
        fields.setdefault("body_html", f"<p>{title}</p>")
        with self.database.transaction() as session:
            article, _ = create_article(
                session,
                ArticleCreate(category=category, title=title, **fields),  # type: ignore[arg-type]
                self.settings.base_url,
                utcnow(),
            )
            return article

    def articles(self, category: str, count: int, start: datetime) -> list[Article]:
        """``count`` articles an hour apart, the newest at ``start``."""
        return [
            self.article(category, f"Tin số {n}", published_at=start - timedelta(hours=n))
            for n in range(count)
        ]

    def demo(self) -> int:
        with self.database.transaction() as session:
            return load_demo(session, self.settings.base_url, utcnow())


@pytest.fixture
def store(db: Database, settings: Settings) -> Store:
    return Store(db, settings)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    store: Store
    settings: Settings


@pytest.fixture
def live_server(database_url: str, db: Database, tmp_path: Path) -> Iterator[LiveServer]:
    """The app on a real HTTP server on 127.0.0.1, its BASE_URL set to where it listens."""
    port = free_port()
    live_settings = Settings(
        database_url=database_url,
        base_url=f"http://127.0.0.1:{port}",
        allow_private_urls=True,
        media_dir=str(tmp_path / "media"),
    )
    flask_app = create_app(live_settings)
    server = make_server("127.0.0.1", port, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(live_settings.base_url, Store(db, live_settings), live_settings)
    server.shutdown()
    thread.join()
    flask_app.extensions["feedsvc.db"].dispose()


@pytest.fixture
def ingest_settings(database_url: str) -> Settings:
    """Upstream servers in the tests are on 127.0.0.1, so private URLs are allowed here."""
    return Settings(
        database_url=database_url,
        base_url=BASE_URL,
        allow_private_urls=True,
        fetch_read_timeout=1,
        fetch_total_timeout=2,
    )


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


@pytest.fixture
def sources(db: Database, ingest_settings: Settings, store: Store) -> Sources:
    store.category("Thời sự")
    store.category("Kinh tế")
    return Sources(db, ingest_settings)


@pytest.fixture
def notify_settings(ingest_settings: Settings) -> Settings:
    """Receivers are on 127.0.0.1 too; few attempts and short timeouts keep tests quick."""
    return ingest_settings.model_copy(update={"delivery_max_attempts": 3, "delivery_timeout": 2})


@pytest.fixture
def mail():  # type: ignore[no-untyped-def]
    """A real SMTP server (aiosmtpd) on 127.0.0.1."""
    from tests.mailserver import MailServer  # it imports this module

    with MailServer() as server:
        yield server


@pytest.fixture
def mail_settings(notify_settings, mail):
    return notify_settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": mail.port})


@pytest.fixture
def api(notify_settings: Settings, db: Database, store: Store):  # type: ignore[no-untyped-def]
    """A client of the app holding an API token, with the categories thoi-su and kinh-te."""
    store.category("Thời sự")
    store.category("Kinh tế")
    flask_app = create_app(notify_settings)
    with db.transaction() as session:
        token = create_token(session, "admin", utcnow())[1]
    client = flask_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    yield client
    flask_app.extensions["feedsvc.db"].dispose()


def publish(api, title: str, category: str = "thoi-su", **fields: object) -> dict:  # type: ignore[no-untyped-def]
    response = api.post("/api/v1/articles", json={"category": category, "title": title, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def start_worker(database_url: str, log: Path, **settings: str) -> "subprocess.Popen[bytes]":
    """A real `feedsvc worker` on ``database_url``, with FEEDSVC_<NAME> settings, logging to
    ``log`` (appended). Loopback receivers and upstreams are allowed."""
    env = {
        **os.environ,
        "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
        "FEEDSVC_DATABASE_URL": database_url,
        "FEEDSVC_ALLOW_PRIVATE_URLS": "true",
        **{f"FEEDSVC_{name.upper()}": value for name, value in settings.items()},
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "feedsvc"), "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
