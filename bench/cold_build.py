"""Cold build benchmark: ``feed_state`` + ``build_feed`` (no cache), 1,000 vs 100,000 articles.

The 1,000-article store is the baseline; a feed page is 50 items whatever the store's size, so
its build should not grow with the store. Each store is measured in turn, in this process.
"""

import statistics
import time
from typing import Any

from sqlalchemy import text

from bench import BenchError
from bench.data import FEED_CATEGORY, cached_sqlite_store, fill_bulk_store
from bench.databases import Databases
from bench.report import table
from feedsvc.db import create_database
from feedsvc.feeds.service import FeedRequest, build_feed, feed_state
from feedsvc.settings import Settings, load_settings
from feedsvc.text import utcnow
from feedsvc.urls import ALL_FEED

SIZES = (1_000, 100_000)
FEEDS = (FEED_CATEGORY, ALL_FEED)
FEED_ITEMS = 50
WARMUP = 3
TARGET_RATIO = 1.3
BASE_URL = "http://127.0.0.1:8000"


def _store(databases: Databases, count: int) -> dict[str, Any]:
    started = time.perf_counter()
    if databases.backend == "sqlite":
        url, reused = cached_sqlite_store(count, BASE_URL)
    else:
        url, reused = databases.fresh(f"cold-{count}"), False
        fill_bulk_store(url, count, BASE_URL)
        database = create_database(url)
        with database.engine.connect() as connection:  # autovacuum would, given time
            connection.execute(text("ANALYZE"))
            connection.commit()
        database.dispose()
    return {"url": url, "reused": reused, "seconds": round(time.perf_counter() - started, 1)}


def _time_feed(settings: Settings, slug: str, runs: int) -> dict[str, Any]:
    database = create_database(settings.database_url)
    samples: list[tuple[float, float]] = []
    try:
        for run in range(-WARMUP, runs):  # warm-up runs (SQLAlchemy, lxml caches): not counted
            with database.sessions() as session:  # new session: no identity map to reuse
                now = utcnow()
                started = time.perf_counter()
                state = feed_state(session, slug, now)
                stated = time.perf_counter()
                built = build_feed(session, settings, state, FeedRequest(slug, "rss"), now)
                finished = time.perf_counter()
            items = built.body.count(b"<item>")
            if items != FEED_ITEMS:
                raise BenchError(f"feed {slug} has {items} items, expected {FEED_ITEMS}")
            if run >= 0:
                samples.append((stated - started, finished - stated))
    finally:
        database.dispose()
    totals = [(a + b) * 1000 for a, b in samples]
    return {
        "median_ms": round(statistics.median(totals), 2),
        "feed_state_median_ms": round(statistics.median(a * 1000 for a, _ in samples), 3),
        "build_feed_median_ms": round(statistics.median(b * 1000 for _, b in samples), 2),
        "min_ms": round(min(totals), 2),
        "max_ms": round(max(totals), 2),
        "feed_bytes": len(built.body),
        "runs_ms": [round(t, 3) for t in totals],
    }


def run(databases: Databases, quick: bool) -> dict[str, Any]:
    runs = 5 if quick else 20
    stores: dict[str, Any] = {}
    for count in SIZES:
        store = _store(databases, count)
        settings = load_settings(database_url=store.pop("url"), base_url=BASE_URL)
        store["feeds"] = {slug: _time_feed(settings, slug, runs) for slug in FEEDS}
        stores[str(count)] = store
    summary = []
    for slug in FEEDS:
        small, large = (stores[str(count)]["feeds"][slug]["median_ms"] for count in SIZES)
        ratio = large / small
        summary.append(
            {
                "feed": f"/feeds/{slug}.rss",
                "small_ms": small,
                "large_ms": large,
                "ratio": round(ratio, 3),
                "target": f"<= {TARGET_RATIO}",
                "passed": ratio <= TARGET_RATIO,
            }
        )
    return {
        "sizes": list(SIZES),
        "runs": runs,
        "stores": stores,
        "summary": summary,
        "passed": all(row["passed"] for row in summary),
    }


def print_report(result: dict[str, Any]) -> None:
    small, large = result["sizes"]
    print(
        f"\nCold build: feed_state + build_feed, RSS, {FEED_ITEMS} items, no cache "
        f"(median of {result['runs']} runs)"
    )
    rows = []
    for row in result["summary"]:
        slug = row["feed"].removeprefix("/feeds/").removesuffix(".rss")
        state = [
            result["stores"][str(n)]["feeds"][slug]["feed_state_median_ms"] for n in (small, large)
        ]
        rows.append(
            [
                row["feed"],
                f"{row['small_ms']:.1f}",
                f"{row['large_ms']:.1f}",
                f"{row['ratio']:.2f}",
                row["target"],
                "PASS" if row["passed"] else "FAIL",
                f"{state[0]:.2f} / {state[1]:.2f}",
            ]
        )
    headers = [
        "feed",
        f"{small:,} ms",
        f"{large:,} ms",
        "ratio",
        "target",
        "",
        "of which feed_state ms (1k / 100k)",
    ]
    print(table(headers, rows))
    for count, store in result["stores"].items():
        how = "reused from bench/results/" if store["reused"] else "built"
        print(f"  store of {int(count):,} articles: {how} in {store['seconds']} s")
