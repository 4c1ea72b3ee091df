"""Ingest: 100 feeds × 50 entries (2-4 KB of HTML each) served on 127.0.0.1.

feedsvc runs as its worker does: ``refresh_due_sources`` with its fetch threads, parsing in a
``ParserPool`` (one process per core). Wall-clock times are compared.

- cold: feedsvc refreshes 100 new sources (fetch, parse, sanitise, store), side by side with
  the sum of bare ``feedparser.parse`` on the same bytes (target ≤ 1.3×);
- second poll, nothing changed: the server answers 304 to the stored validators
  (target ≤ 5% of cold);
- peer: the ``reader`` library (make_reader, add_feed, update_feeds) fetching the same feeds
  from the same server in the same run (target: feedsvc faster).
"""

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import feedparser
from sqlalchemy import func, select, update

from bench import BenchError
from bench.databases import Databases
from bench.report import table
from bench.serving import free_port
from feedsvc.categories import create_category
from feedsvc.db import create_database
from feedsvc.ingest.parse_pool import ParserPool
from feedsvc.ingest.refresh import refresh_due_sources
from feedsvc.models import Article, Source
from feedsvc.outbound import fetch_client
from feedsvc.settings import load_settings
from feedsvc.sources import SourceCreate, add_source
from feedsvc.text import utcnow

FEEDS = 100
ENTRIES = 50
VOCABULARY = (
    "tỉnh huyện xã ủy ban nhân dân hội nghị triển khai kế hoạch sản xuất nông nghiệp công "
    "nghiệp thương mại du lịch văn hóa giáo dục y tế an ninh quốc phòng đầu tư xây dựng nông "
    "thôn mới chuyển đổi số người dân doanh nghiệp phong trào thi đua khen thưởng tổng kết năm"
)
WORDS = VOCABULARY.split(" ")


def _paragraphs(rng: random.Random, size: int) -> str:
    paragraphs: list[str] = []
    length = 0
    while length < size:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 60)))
        paragraphs.append(f"<p>{words.capitalize()}.</p>")
        length += len(paragraphs[-1])
    return "".join(paragraphs)


def make_feed(n: int) -> bytes:
    rng = random.Random(n)
    start = utcnow() - timedelta(days=30)
    items = []
    for i in range(ENTRIES):
        body = _paragraphs(rng, rng.randint(2000, 4000))
        when = format_datetime(start + timedelta(hours=n + i * 7))
        items.append(
            f"<item><title>Tin {n}-{i}: {' '.join(rng.choice(WORDS) for _ in range(10))}</title>"
            f"<link>http://nguon{n}.example.vn/tin/{i}.html</link><guid>nguon{n}-{i}</guid>"
            f"<pubDate>{when}</pubDate><category>Thời sự</category>"
            f"<description><![CDATA[{body}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Nguồn {n}</title><link>http://nguon{n}.example.vn/</link>"
        f"<description>Tin của nguồn {n}</description>{''.join(items)}</channel></rss>"
    ).encode()


class FeedServer:
    """The upstream feeds, served by another process (``python -m bench.feed_server``), as
    upstream servers are other machines: in this process it would take the GIL from the
    ingester it serves."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.feed_server", str(self.port), str(FEEDS)],
            cwd=Path(__file__).resolve().parents[1],
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.hits()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("the feed server did not start", exit_code=2) from None
                time.sleep(0.1)

    def urls(self) -> list[str]:
        return [f"{self.base}/{n}.xml" for n in range(FEEDS)]

    def hits(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.base}/stats", timeout=5) as response:
            return dict(json.load(response))

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def bare_parse(bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies:
        parsed = feedparser.parse(body)
        if len(parsed.entries) != ENTRIES:
            raise BenchError(f"feedparser read {len(parsed.entries)} entries, not {ENTRIES}")
    return time.perf_counter() - started


def _refresh_all(database_url: str, parsers: ParserPool) -> float:
    """What the worker's job does, until nothing is due (parsing in processes, as there)."""
    settings = load_settings(database_url=database_url, allow_private_urls=True)
    database = create_database(database_url)
    rng = random.Random(1)
    try:
        with database.transaction() as session:  # everything due now
            session.execute(update(Source).values(next_fetch_at=utcnow()))
        with fetch_client(settings) as client:  # the worker's long-lived client
            started = time.perf_counter()
            while refresh_due_sources(database, settings, utcnow, rng, parsers.parse, client):
                pass
            return time.perf_counter() - started
    finally:
        database.dispose()


def feedsvc_ingest(
    databases: Databases, urls: list[str], label: str, parsers: ParserPool
) -> dict[str, float]:
    url = databases.fresh(label)
    settings = load_settings(database_url=url, allow_private_urls=True)
    database = create_database(url)
    with database.transaction() as session:
        create_category(session, "Thời sự", utcnow())
        for feed_url in urls:
            add_source(
                session,
                SourceCreate(url=feed_url, category="thoi-su"),
                settings,
                utcnow(),
                random.Random(1),
            )
    database.dispose()
    cold = _refresh_all(url, parsers)
    database = create_database(url)
    with database.transaction() as session:
        stored = session.scalar(select(func.count(Article.id)))
        failures = session.scalar(select(func.count()).where(Source.last_error != ""))
    database.dispose()
    if stored != FEEDS * ENTRIES or failures:
        raise BenchError(f"feedsvc stored {stored} articles with {failures} failed sources")
    second = _refresh_all(url, parsers)
    return {"cold": cold, "second": second}


def reader_ingest(urls: list[str]) -> float:
    from reader import make_reader  # the peer, installed with the bench extra

    with tempfile.TemporaryDirectory() as tmp:
        reader = make_reader(str(Path(tmp) / "reader.sqlite"))
        for url in urls:
            reader.add_feed(url)
        started = time.perf_counter()
        reader.update_feeds(workers=8)
        elapsed = time.perf_counter() - started
        count = reader.get_entry_counts().total
        reader.close()
    if count != FEEDS * ENTRIES:
        raise BenchError(f"reader stored {count} entries, not {FEEDS * ENTRIES}")
    return elapsed


def run(databases: Databases, quick: bool) -> dict[str, Any]:
    bodies = [make_feed(n) for n in range(FEEDS)]  # the same bytes the server makes
    server = FeedServer()
    rounds = 1 if quick else 3
    parsers = ParserPool()
    parsers.parse(bodies[0], server.urls()[0], "")  # the pool's processes are up: not timed
    try:
        runs: dict[str, list[float]] = {"bare": [], "cold": [], "second": [], "reader": []}
        for round_ in range(rounds):  # alternating, so drift hits every side alike
            runs["bare"].append(bare_parse(bodies))
            times = feedsvc_ingest(databases, server.urls(), f"ingest-{round_}", parsers)
            runs["cold"].append(times["cold"])
            runs["second"].append(times["second"])
            runs["reader"].append(reader_ingest(server.urls()))
        answered_304 = server.hits()["304"]
        if answered_304 < FEEDS * rounds:
            raise BenchError(f"second polls got {answered_304} answers 304")
    finally:
        server.close()
        parsers.close()
    medians = {name: statistics.median(values) for name, values in runs.items()}
    ratios = {
        "cold_vs_feedparser": medians["cold"] / medians["bare"],
        "second_vs_cold": medians["second"] / medians["cold"],
        "cold_vs_reader": medians["cold"] / medians["reader"],
    }
    targets = {"cold_vs_feedparser": 1.3, "second_vs_cold": 0.05, "cold_vs_reader": 1.0}
    return {
        "feeds": FEEDS,
        "entries_per_feed": ENTRIES,
        "corpus_bytes": sum(map(len, bodies)),
        "rounds": rounds,
        "seconds": runs,
        "median_seconds": medians,
        "ratios": ratios,
        "targets": targets,
        "passed": all(ratios[name] <= target for name, target in targets.items()),
    }


def print_report(result: dict[str, Any]) -> None:
    m, r, t = result["median_seconds"], result["ratios"], result["targets"]
    print(
        f"\ningest: {result['feeds']} feeds × {result['entries_per_feed']} entries, "
        f"{result['corpus_bytes'] / 1e6:.1f} MB, median of {result['rounds']} round(s)"
    )

    def row(case: str, ours: float, base_name: str, base: float, key: str) -> list[str]:
        verdict = "PASS" if r[key] <= t[key] else "FAIL"
        return [
            case,
            f"{ours:.2f} s",
            base_name,
            f"{base:.2f} s",
            f"{r[key]:.3f}",
            f"≤ {t[key]}",
            verdict,
        ]

    print(
        table(
            ["case", "feedsvc", "baseline", "baseline time", "ratio", "target", ""],
            [
                row(
                    "cold ingest",
                    m["cold"],
                    "feedparser.parse sum",
                    m["bare"],
                    "cold_vs_feedparser",
                ),
                row("second poll (304)", m["second"], "feedsvc cold", m["cold"], "second_vs_cold"),
                row("cold ingest", m["cold"], "reader update_feeds", m["reader"], "cold_vs_reader"),
            ],
        )
    )
