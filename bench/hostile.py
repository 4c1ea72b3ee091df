"""Hostile neighbours: does one trickling subscriber and one trickling upstream slow down
everybody else?

The rest: 10,000 due webhook deliveries (10,000 endpoints, one article) to a receiver that
answers at once (``bench.receivers``), and 100 due sources served by a well-behaved upstream
(``bench.feed_server``, the ingest benchmark's 50-entry feeds); quick: 1,000 and 20. The
hostile round adds one endpoint whose receiver answers 200 with a large Content-Length and
then trickles a byte every 2 s, with one due delivery per 100 of the rest (its own
category's articles; due before the rest, so they are claimed first), and one source whose
upstream trickles its status line and headers a byte a second (``bench.hostile_peers``).

feedsvc's worker runs in another process (``bench.hostile_worker``: the deployed ``Jobs``
minus announcing) from a fresh store each round. Measured, from the worker's start, for
the rest only: until the last delivery is recorded delivered and the last source fetched
(read from the store, which the benchmark polls until both are done). Baseline and hostile
rounds alternate (the order reversed every other pair). Target: each hostile median
≤ 1.2 × the baseline median.
"""

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import IO, Any

from sqlalchemy import ColumnElement, func, select, true, update

from bench import BenchError
from bench.databases import RESULTS_DIR, Databases
from bench.ingest import ENTRIES, FeedServer
from bench.notify import Receivers
from bench.report import table
from bench.serving import free_port
from feedsvc.articles import ArticleCreate, create_article
from feedsvc.categories import create_category
from feedsvc.db import Database, create_database
from feedsvc.models import Delivery, Source
from feedsvc.notify.deliver import announce_new_articles
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.settings import load_settings
from feedsvc.sources import SourceCreate, add_source
from feedsvc.text import utcnow

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.2
HOSTILE_SHARE = 100  # the trickling subscriber gets one delivery per this many of the rest
LIMIT_SECONDS = 900  # the whole benchmark gives up after this (a stall, or a machine too busy)
POLL_SECONDS = 0.25
PARTS = ("deliveries", "sources", "rest")


class HostilePeers:
    """``python -m bench.hostile_peers`` in a session of its own: the trickling receiver and
    upstream, and the connections each accepted."""

    def __init__(self) -> None:
        self.stats_port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.hostile_peers", str(self.stats_port)],
            cwd=ROOT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.ports = {name: peer["port"] for name, peer in self.stats().items()}
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("the hostile peers did not start", exit_code=2) from None
                time.sleep(0.1)

    def stats(self) -> dict[str, dict[str, int]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/", timeout=5) as answer:
            return dict(json.load(answer))

    def connections(self) -> dict[str, int]:
        return {name: peer["connections"] for name, peer in self.stats().items()}

    def close(self) -> None:
        _kill_session(self.process)


def _kill_session(process: subprocess.Popen[Any]) -> None:
    """Kill a process started with ``start_new_session`` and everything it started."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@dataclass(frozen=True)
class Store:
    url: str
    hostile_endpoint: int | None
    hostile_source: int | None

    def rest_deliveries(self) -> ColumnElement[bool]:
        if self.hostile_endpoint is None:
            return true()
        return Delivery.endpoint_id != self.hostile_endpoint

    def rest_sources(self) -> ColumnElement[bool]:
        if self.hostile_source is None:
            return true()
        return Source.id != self.hostile_source


BODY = "<p>" + "Nội dung bài viết về phong trào thi đua. " * 40 + "</p>"


def make_template(
    databases: Databases, receivers: Receivers, feed_urls: list[str], hooks: int
) -> str:
    """The rest, made through the services once and copied for every round: ``hooks``
    endpoints with one announced article each, and the sources."""
    url = databases.fresh("hostile-template")
    settings = load_settings(database_url=url, allow_private_urls=True)
    database = create_database(url)
    now, rng = utcnow(), random.Random(1)
    try:
        with database.transaction() as session:
            create_category(session, "Thời sự", now)
            create_category(session, "Giao thông", now)  # the hostile subscriber's
            for n in range(hooks):
                hook = EndpointCreate(
                    url=f"http://127.0.0.1:{receivers.http_port}/e{n}", categories=["thoi-su"]
                )
                add_endpoint(session, hook, settings, now)
            for feed_url in feed_urls:
                feed = SourceCreate(url=feed_url, category="thoi-su")
                add_source(session, feed, settings, now, rng)
        with database.transaction() as session:
            article = ArticleCreate(category="thoi-su", title="Tin khẩn của tỉnh", body_html=BODY)
            create_article(session, article, settings.base_url, now)
        announce_new_articles(database, settings)
    finally:
        database.dispose()
    return url


def make_store(
    databases: Databases, template: str, label: str, hooks: int, peers: HostilePeers | None
) -> Store:
    """A copy of the template, with the hostile subscriber (one delivery per HOSTILE_SHARE
    of the rest: articles of its own category) and upstream if ``peers``; everything due, the
    hostile ones a minute ago, the rest 30 s ago."""
    url = databases.copy(template, label)
    settings = load_settings(database_url=url, allow_private_urls=True)
    database = create_database(url)
    now = utcnow()
    hostile_endpoint = hostile_source = None
    try:
        if peers:
            with database.transaction() as session:
                hook = EndpointCreate(
                    url=f"http://127.0.0.1:{peers.ports['receiver']}/hook",
                    categories=["giao-thong"],
                )
                hostile_endpoint = add_endpoint(session, hook, settings, now).id
                feed = SourceCreate(
                    url=f"http://127.0.0.1:{peers.ports['upstream']}/feed.xml", category="thoi-su"
                )
                hostile_source = add_source(session, feed, settings, now, random.Random(1)).id
                for n in range(hooks // HOSTILE_SHARE):
                    article = ArticleCreate(
                        category="giao-thong", title=f"Phân luồng giao thông {n}", body_html=BODY
                    )
                    create_article(session, article, settings.base_url, now)
            announce_new_articles(database, settings)
        store = Store(url, hostile_endpoint, hostile_source)
        with database.transaction() as session:
            for rest, ago in ((True, 30), (False, 60)):
                deliveries = store.rest_deliveries() if rest else ~store.rest_deliveries()
                sources = store.rest_sources() if rest else ~store.rest_sources()
                due = now - timedelta(seconds=ago)
                session.execute(update(Delivery).where(deliveries).values(next_attempt_at=due))
                session.execute(update(Source).where(sources).values(next_fetch_at=due))
    finally:
        database.dispose()
    return store


class Worker:
    """``python -m bench.hostile_worker`` in a session of its own (its parser processes are
    killed with it); its stderr goes to a log file, shown if it fails."""

    def __init__(self, url: str, log_path: Path, deadline: float) -> None:
        self.log_path = log_path
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.hostile_worker", url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            start_new_session=True,
        )
        if self._line(min(deadline, time.monotonic() + 120)) != "ready":
            raise BenchError(f"the worker did not start:\n{self._log_tail()}")

    def go(self, deadline: float) -> datetime:
        """Start the jobs; when the worker started them."""
        self._send("go")
        return datetime.fromisoformat(json.loads(self._line(deadline))["started"])

    def _send(self, line: str) -> None:
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        stdin.write(line + "\n")
        stdin.flush()

    def _line(self, deadline: float) -> str:
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            readable = selector.select(max(0.0, deadline - time.monotonic()))
        line = stdout.readline() if readable else ""
        if not line:
            raise BenchError(f"the worker did not answer:\n{self._log_tail()}")
        return line.strip()

    def _log_tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text()[-3000:]

    def close(self) -> None:
        with suppress(OSError, ValueError):
            self._send("stop")
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        _kill_session(self.process)
        self.log.close()


def _progress(database: Database, store: Store) -> tuple[int, int]:
    """The rest's deliveries not yet delivered and sources not yet fetched; a failure of
    any of them is fatal (retried a minute later, it would measure the backoff)."""
    deliveries, sources = store.rest_deliveries(), store.rest_sources()
    with database.sessions() as session:
        failed = session.scalar(
            select(Delivery.last_error).where(deliveries, Delivery.last_error != "").limit(1)
        ) or session.scalar(
            select(Source.last_error).where(sources, Source.last_error != "").limit(1)
        )
        if failed:
            raise BenchError(f"a delivery or fetch of the well-behaved peers failed: {failed}")
        pending = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(deliveries, Delivery.state != "delivered")
        )
        unfetched = session.scalar(
            select(func.count()).select_from(Source).where(sources, Source.last_fetch_at.is_(None))
        )
    return int(pending or 0), int(unfetched or 0)


def _finished(database: Database, store: Store, started: datetime, feeds: int) -> dict[str, float]:
    """Seconds from the worker's start to the rest's last delivery and last fetch, as the
    worker recorded them."""
    with database.sessions() as session:
        delivered = session.scalar(
            select(func.max(Delivery.delivered_at)).where(store.rest_deliveries())
        )
        fetched = session.scalar(select(func.max(Source.last_fetch_at)).where(store.rest_sources()))
        stored = session.scalar(select(func.sum(Source.item_count)).where(store.rest_sources()))
    if stored != feeds * ENTRIES or delivered is None or fetched is None:
        raise BenchError(f"the well-behaved sources stored {stored} entries, not {feeds * ENTRIES}")
    seconds = {
        "deliveries": (delivered - started).total_seconds(),
        "sources": (fetched - started).total_seconds(),
    }
    return {**seconds, "rest": max(seconds.values())}


def run_round(
    databases: Databases,
    template: str,
    label: str,
    receivers: Receivers,
    feeds: int,
    hooks: int,
    peers: HostilePeers | None,
    deadline: float,
) -> dict[str, Any]:
    store = make_store(databases, template, label, hooks, peers)
    posts = receivers.counts()["posts"]
    called = peers.connections() if peers else {}
    worker = Worker(store.url, RESULTS_DIR / "hostile-worker.log", deadline)
    database = create_database(store.url)
    try:
        started = worker.go(deadline)
        while (left := _progress(database, store)) != (0, 0):
            if time.monotonic() > deadline:
                raise BenchError(
                    f"gave up after {LIMIT_SECONDS} s: in the {label} round {left[0]} "
                    f"deliveries were still pending and {left[1]} sources not fetched"
                )
            time.sleep(POLL_SECONDS)
        seconds = _finished(database, store, started, feeds)
    finally:
        database.dispose()
        worker.close()
    received = receivers.counts()["posts"] - posts
    if received != hooks:
        raise BenchError(f"the receiver got {received} posts, not {hooks}")
    figures: dict[str, Any] = {"seconds": seconds}
    if peers:  # the hostile peers were called while the rest was being done
        figures["hostile_connections"] = {
            name: count - called[name] for name, count in peers.connections().items()
        }
        if 0 in figures["hostile_connections"].values():
            raise BenchError(f"a hostile peer was never called: {figures['hostile_connections']}")
    return figures


def run(databases: Databases, quick: bool) -> dict[str, Any]:
    """Pairs of rounds, each on a fresh store, baseline and hostile taking turns to go
    first; the medians of each."""
    hooks, feeds, pairs = (1_000, 20, 1) if quick else (10_000, 100, 3)
    deadline = time.monotonic() + LIMIT_SECONDS
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    servers: list[Any] = []
    rounds = []
    try:
        receivers = Receivers()
        servers.append(receivers)
        feed_server = FeedServer()
        servers.append(feed_server)
        peers = HostilePeers()
        servers.append(peers)
        template = make_template(databases, receivers, feed_server.urls()[:feeds], hooks)
        for n in range(pairs):
            pair = {}
            for side in ("baseline", "hostile") if n % 2 == 0 else ("hostile", "baseline"):
                pair[side] = run_round(
                    databases,
                    template,
                    f"hostile-{n}-{side}",
                    receivers,
                    feeds,
                    hooks,
                    peers if side == "hostile" else None,
                    deadline,
                )
                seconds = pair[side]["seconds"]
                print(  # a full run takes minutes: show that it moves
                    f"  round {n + 1} {side}: deliveries {seconds['deliveries']:.1f} s, "
                    f"sources {seconds['sources']:.1f} s",
                    flush=True,
                )
            rounds.append(pair)
    finally:
        for server in reversed(servers):
            server.close()
    medians = {
        side: {part: median(r[side]["seconds"][part] for r in rounds) for part in PARTS}
        for side in ("baseline", "hostile")
    }
    ratios = {part: medians["hostile"][part] / medians["baseline"][part] for part in PARTS}
    return {
        "deliveries": hooks,
        "sources": feeds,
        "hostile_deliveries": hooks // HOSTILE_SHARE,
        "rounds": rounds,
        "median_seconds": medians,
        "ratios": ratios,
        "round_ratios": {
            part: [r["hostile"]["seconds"][part] / r["baseline"]["seconds"][part] for r in rounds]
            for part in PARTS
        },
        "target": TARGET,
        "passed": all(ratio <= TARGET for ratio in ratios.values()),
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"\nhostile: {result['deliveries']:,} webhook deliveries and {result['sources']} sources, "
        f"beside one trickling subscriber ({result['hostile_deliveries']} deliveries) and one "
        f"trickling upstream; medians of {len(result['rounds'])} round(s) each"
    )
    m, ratios = result["median_seconds"], result["ratios"]
    names = {
        "deliveries": "webhook deliveries",
        "sources": "source fetches",
        "rest": "all of the rest",
    }
    print(
        table(
            ["the rest", "without them", "beside them", "ratio", "per round", "target", ""],
            [
                [
                    names[part],
                    f"{m['baseline'][part]:.1f} s",
                    f"{m['hostile'][part]:.1f} s",
                    f"{ratios[part]:.2f}",
                    ", ".join(f"{r:.2f}" for r in result["round_ratios"][part]),
                    f"≤ {result['target']}",
                    "PASS" if ratios[part] <= result["target"] else "FAIL",
                ]
                for part in PARTS
            ],
        )
    )
