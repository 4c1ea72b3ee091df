"""No back-catalogue storms (issue 11, points 1 and 7), through a real `feedsvc worker`, real
upstream feeds, a webhook and WebSub receiver and an SMTP server: a new source's entries, an
OPML import's, and a moved source's are stored and shown but announced to nobody; after the
baseline a new entry reaches each subscriber once, an old-dated late one nobody.

Silence is proven by a marker: an article published through the API after the fact, which
every subscriber gets; once all of them have it, the worker's rounds have passed and anything
else they got was sent."""

import json
import random
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.sources import import_outlines, read_opml
from feedsvc.text import utcnow
from tests.conftest import BASE_URL, publish, start_worker
from tests.ingest_helpers import Sources
from tests.receiver import Receiver
from tests.test_announce_rounds import entry_titles, hub_subscribe, mail_subscriber, news
from tests.test_announcement import item, rss
from tests.waiting import wait_until

TOPIC = f"{BASE_URL}/feeds/thoi-su.rss"
OLD = datetime(2019, 3, 1, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def sources(api, db, notify_settings):  # type: ignore[no-untyped-def]
    return Sources(db, notify_settings)


class Subscribers:
    """A webhook, a WebSub subscriber of thoi-su and a reader mailed at once, and what each
    got: article titles, counted."""

    def __init__(self, api, db, settings, receiver: Receiver, mail) -> None:  # type: ignore[no-untyped-def]
        answer = api.post("/api/v1/webhooks", json={"url": f"{receiver.url}/hook"})
        assert answer.status_code == 201, answer.get_json()
        hub_subscribe(api, db, settings, f"{receiver.url}/websub", TOPIC)
        mail_subscriber(db, settings, "lan@example.vn", ["thoi-su"])
        self.api, self.receiver, self.mail = api, receiver, mail
        self.markers = 0

    def got(self) -> dict[str, Counter[str]]:
        webhook = [json.loads(r.body)["data"]["title"] for r in self.receiver.at("/hook")]
        pushed = [t for r in self.receiver.at("/websub") for t in entry_titles(r.body)]
        mailed = [m["Subject"].removeprefix("Tin mới: ") for m in news(self.mail)]
        return {"webhook": Counter(webhook), "websub": Counter(pushed), "mail": Counter(mailed)}

    def settle(self) -> str:
        """Publish a marker and wait until every subscriber has it; returns its title."""
        self.markers += 1
        title = f"Tin đánh dấu {self.markers}"
        publish(self.api, title)
        assert wait_until(lambda: all(title in got for got in self.got().values()), 30), self.got()
        return title


def each(*titles: str) -> dict[str, Counter[str]]:
    """What every subscriber should have got: each of ``titles`` once."""
    return {channel: Counter(titles) for channel in ("webhook", "websub", "mail")}


@pytest.fixture
def subscribers(api, db, mail_settings, receiver, mail):  # type: ignore[no-untyped-def]
    return Subscribers(api, db, mail_settings, receiver, mail)


@contextmanager
def worker(database_url: str, mail_settings, log: Path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    process: subprocess.Popen[bytes] = start_worker(
        database_url,
        log,
        base_url=BASE_URL,
        smtp_host="127.0.0.1",
        smtp_port=str(mail_settings.smtp_port),
        scheduler_tick_seconds="1",
        notify_tick_seconds="1",
        delivery_timeout="2",
    )
    try:
        yield
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def fetched(sources: Sources, source_id: int) -> None:
    """Make the source due for the worker and wait for its next successful fetch."""
    before = sources.get(source_id).fetch_count
    sources.make_due(source_id, utcnow())
    assert wait_until(lambda: sources.get(source_id).fetch_count > before, 30)
    assert sources.get(source_id).last_error == ""


def test_a_new_source_announces_nothing_then_each_new_entry_once(
    api, sources, subscribers, upstream, database_url, mail_settings, tmp_path
):
    catalogue = [item(f"cu-{n}", OLD + timedelta(days=n)) for n in range(50)]
    answer = api.post(
        "/api/v1/sources",
        json={"url": upstream.serve("/f", rss(*catalogue)), "category": "thoi-su"},
    )
    assert answer.status_code == 201, answer.get_json()
    source_id = answer.get_json()["id"]
    with worker(database_url, mail_settings, tmp_path / "worker.log"):
        fetched(sources, source_id)
        first = subscribers.settle()
        assert subscribers.got() == each(first)
        assert len(sources.articles(source_id)) == 50
        shown = entry_titles(api.get("/feeds/thoi-su.rss").data)
        assert "Tin cu-49" in shown  # stored and served, just not announced

        # A new entry is announced once; one appearing late with an old date is not.
        late = [item("moi", utcnow()), item("cu-lai", utcnow() - timedelta(days=5))]
        upstream.serve("/f", rss(*late, *catalogue))
        fetched(sources, source_id)
        second = subscribers.settle()
        assert subscribers.got() == each(first, "Tin moi", second)
        assert "Tin cu-lai" in entry_titles(api.get("/feeds/thoi-su.rss").data)

        # A new address: its first fetch is a baseline again, even of today's entries.
        moved = upstream.serve("/g", rss(item("dia-chi-moi-1", utcnow()), item("2", utcnow())))
        answer = api.patch(f"/api/v1/sources/{source_id}", json={"url": moved})
        assert answer.status_code == 200, answer.get_json()
        assert wait_until(lambda: sources.get(source_id).baseline_at is not None, 30)
        third = subscribers.settle()
        assert subscribers.got() == each(first, "Tin moi", second, third)
    counts = api.get(f"/api/v1/sources/{source_id}").get_json()["announcements"]
    assert (counts["unannounced_baseline"], counts["unannounced_old"]) == (52, 1)
    assert counts["last_unannounced"] == 2


def test_an_opml_import_announces_nothing_on_first_fetches(
    api, db, sources, subscribers, upstream, database_url, notify_settings, mail_settings, tmp_path
):
    urls = [
        upstream.serve(f"/f{n}", rss(*(item(f"{n}-{k}", utcnow()) for k in range(3))))
        for n in range(3)
    ]
    outlines = "".join(
        f'<outline type="rss" text="Huyện {n}" xmlUrl="{url}"/>' for n, url in enumerate(urls)
    )
    opml = f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'
    report = import_outlines(
        db, notify_settings, read_opml(opml.encode()), "thoi-su", utcnow, random.Random(1)
    )
    assert report.added == 3
    ids = [source["id"] for source in api.get("/api/v1/sources").get_json()["items"]]
    with worker(database_url, mail_settings, tmp_path / "worker.log"):
        for source_id in ids:
            fetched(sources, source_id)
        marker = subscribers.settle()
        assert subscribers.got() == each(marker)
    for source_id in ids:
        assert len(sources.articles(source_id)) == 3
        assert sources.get(source_id).unannounced_baseline == 3
