"""The database goes away under a running app (PostgreSQL behind a proxy that a test cuts):
feeds already built are served from the cache, everything else answers 503 with
Retry-After, and the app recovers by itself once the database is back."""

import json
import signal
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url

from feedsvc.db import Database
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from feedsvc.tokens import create_token
from feedsvc.web import create_app
from tests.conftest import BASE_URL, Store, start_worker
from tests.receiver import Receiver
from tests.tcp_proxy import TcpProxy
from tests.waiting import wait_until

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    url = make_url(database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


@pytest.fixture
def proxied(database_url: str, proxy: TcpProxy, db: Database):  # type: ignore[no-untyped-def]
    """The app, reaching the database only through the proxy; a bearer token for the API."""
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    settings = Settings(
        database_url=url.render_as_string(hide_password=False),
        base_url=BASE_URL,
        database_connect_timeout=2,
    )
    app = create_app(settings)
    with db.transaction() as session:
        token = create_token(session, "outage", utcnow())[1]
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    yield app, client
    app.extensions["feedsvc.db"].dispose()


def _until(condition, what: str, seconds: float = 15) -> None:  # type: ignore[no-untyped-def]
    assert wait_until(condition, seconds), f"still waiting for {what}"


def _cut(app, proxy: TcpProxy) -> None:  # type: ignore[no-untyped-def]
    proxy.cut()
    changes = app.extensions["feedsvc.db"].changes
    _until(lambda: changes.token() is None, "the change listener to notice the outage")


def _unavailable(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_cached_feeds_are_served_and_the_rest_answers_503_until_the_database_is_back(
    proxied, proxy: TcpProxy, store: Store
):
    app, client = proxied
    store.category("Thời sự")
    store.article("thoi-su", "Khai mạc hội chợ")
    warm = client.get("/feeds/thoi-su.rss")
    assert warm.status_code == 200 and "Warning" not in warm.headers
    assert "stale-if-error" in warm.headers["Cache-Control"]
    assert client.get("/feeds/thoi-su.rss", headers={"Accept-Encoding": "gzip"}).status_code == 200

    _cut(app, proxy)

    stale = client.get("/feeds/thoi-su.rss")
    assert stale.status_code == 200
    assert stale.data == warm.data and stale.headers["ETag"] == warm.headers["ETag"]
    assert stale.headers["Warning"] == '111 - "Revalidation Failed"'
    assert "max-age=0" in stale.headers["Cache-Control"]
    gzipped = client.get("/feeds/thoi-su.rss", headers={"Accept-Encoding": "gzip"})
    assert gzipped.status_code == 200 and gzipped.headers["Content-Encoding"] == "gzip"
    revalidated = client.get("/feeds/thoi-su.rss", headers={"If-None-Match": warm.headers["ETag"]})
    assert revalidated.status_code == 304 and "Warning" in revalidated.headers

    never_built = client.get("/feeds/thoi-su.atom")  # its state is known, its bytes are not
    _unavailable(never_built)
    assert never_built.mimetype == "text/plain"
    _unavailable(client.get("/feeds/all.rss"))  # never read in this process
    api = client.get("/api/v1/articles")
    _unavailable(api)
    assert "error" in api.get_json()
    page = client.get("/")
    _unavailable(page)
    assert "Lỗi 503" in page.get_data(as_text=True)
    assert client.get("/healthz").status_code == 503
    assert store.article("thoi-su", "Tin trong lúc mất kết nối")  # the database itself is up

    proxy.restore()

    assert client.get("/healthz").status_code == 200
    fresh = client.get("/feeds/thoi-su.rss")
    assert fresh.status_code == 200 and "Warning" not in fresh.headers
    assert "Tin trong lúc mất kết nối" in fresh.get_data(as_text=True)
    created = client.post("/api/v1/articles", json={"category": "thoi-su", "title": "Đã nối lại"})
    assert created.status_code == 201
    assert "Đã nối lại" in client.get("/feeds/all.atom").get_data(as_text=True)


def test_a_worker_outlives_the_outage_and_delivers_afterwards(
    database_url: str, proxy: TcpProxy, store: Store, tmp_path
):
    """`feedsvc worker` through the proxy: its jobs fail while the database is cut (logged),
    the process stays up, and the next ticks after the restore do their work."""
    proxied_url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    store.category("Thời sự")
    log = tmp_path / "worker.log"
    loopback = store.settings.model_copy(update={"allow_private_urls": True})
    with Receiver() as receiver:
        with store.database.transaction() as session:
            add_endpoint(session, EndpointCreate(url=receiver.url + "/hook"), loopback, utcnow())
        worker = start_worker(
            proxied_url.render_as_string(hide_password=False),
            log,
            notify_tick_seconds="1",
            scheduler_tick_seconds="1",
            database_connect_timeout="2",
            parse_processes="1",
        )
        try:
            store.article("thoi-su", "Trước khi mất kết nối")
            _until(lambda: len(receiver.at("/hook")) == 1, "the first delivery")
            proxy.cut()
            _until(lambda: log.read_text().count("raised an exception") >= 3, "failing ticks")
            store.article("thoi-su", "Trong lúc mất kết nối")
            time.sleep(1.5)  # more failing ticks
            assert worker.poll() is None and len(receiver.at("/hook")) == 1
            proxy.restore()
            _until(lambda: len(receiver.at("/hook")) == 2, "the delivery after the restore")
            assert worker.poll() is None
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    titles = [json.loads(r.body)["data"]["title"] for r in receiver.at("/hook")]
    assert titles == ["Trước khi mất kết nối", "Trong lúc mất kết nối"]
