"""Scale: the first (uncached) request of each kind at 10,000 and at 1,000,000 articles, side by
side in one run, through gunicorn (the deployed config, one worker) on each store.

Each round starts a fresh server per store (its feed cache empty), warms it up on requests of
the same kinds that are not measured (other categories, other words: templates, compiled SQL,
the connection pool), then times each measured request once. Non-feed requests are not
cached by feedsvc, so theirs is warmed up on the same URL. The figure per kind and size is the
median over the rounds. Targets: every kind ≤ 100 ms at the large size, and large ≤ 2 × small.

Also: peak RSS of the serving worker per size, claims by several workers (PostgreSQL) and one
worker's ingest (``bench.scale_workers``). The 30-day fan-out is its own benchmark
(``bench.fanout``): it takes hours at full size.
"""

import http.client
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select

from bench import BenchError
from bench.data import FEED_CATEGORY
from bench.databases import RESULTS_DIR, Databases
from bench.gunicorn import Gunicorn
from bench.report import table
from bench.scale_store import (
    ABSENT_WORD,
    ADMIN_PASSWORD,
    ADMIN_USER,
    APART_PHRASE,
    COMMON_PHRASE,
    COMMON_WORD,
    MIDDLING_PHRASE,
    RARE_ARTICLES,
    RARE_WORD,
    ScaleStores,
    check_words,
)
from bench.scale_workers import claims, ingest
from bench.serving import free_port
from feedsvc.accounts import log_in
from feedsvc.db import create_database
from feedsvc.models import Article, Category
from feedsvc.paging import encode_cursor
from feedsvc.settings import load_settings
from feedsvc.text import utcnow

SIZES = (10_000, 1_000_000)
QUICK_SIZES = (2_000, 20_000)
ROUNDS = 3  # quick: 1
TARGET_MS = 100.0
TARGET_RATIO = 2.0
OTHER_CATEGORY = "kinh-te"  # warm-up requests of the feed kinds go to this category
FEED_PAGE_ITEMS = 50
ADMIN_COOKIE = "feedsvc_admin"
REQUEST_TIMEOUT = 900  # seconds: a search scanning 1,000,000 rows on a busy machine


@dataclass(frozen=True)
class Depths:
    """Where "deep" is in a store: the middle of its articles, and of the category's, as
    keyset cursors (every list pages by keys: feedsvc.paging)."""

    middle_cursor: str
    category_middle_cursor: str
    all_articles: int  # visible ones
    category_articles: int


@dataclass(frozen=True)
class Kind:
    name: str
    path: Callable[[Depths], str]
    warm: Callable[[Depths], str]  # a request of the same kind whose answer is not reused
    items: int | None = None  # <item>s (feeds) or JSON items (API) expected, when known


def _same(path: str) -> Callable[[Depths], str]:
    return lambda _depths: path


CAT, OTHER = FEED_CATEGORY, OTHER_CATEGORY
KINDS = (
    Kind(
        "keyword feed, rare word",
        _same(f"/feeds/all.rss?q={RARE_WORD}"),
        _same(f"/feeds/{OTHER}.rss?q={COMMON_WORD}"),
        RARE_ARTICLES,
    ),
    Kind(
        "keyword feed, common word",
        _same(f"/feeds/all.rss?q={COMMON_WORD}"),
        _same(f"/feeds/{OTHER}.rss?q={COMMON_WORD}+{COMMON_WORD}"),
        FEED_PAGE_ITEMS,
    ),
    Kind(
        "keyword feed, common phrase",
        _same(f"/feeds/all.rss?q={quote(COMMON_PHRASE)}"),
        _same(f"/feeds/{OTHER}.rss?q={quote(COMMON_PHRASE)}"),
        FEED_PAGE_ITEMS,
    ),
    Kind(
        "keyword feed, word found nowhere",
        _same(f"/feeds/all.rss?q={ABSENT_WORD}"),
        _same(f"/feeds/{OTHER}.rss?q={COMMON_WORD}"),
        0,
    ),
    Kind(
        "keyword feed, common words never neighbours",
        _same(f"/feeds/all.rss?q={quote(APART_PHRASE)}"),
        _same(f"/feeds/{OTHER}.rss?q={COMMON_WORD}+{COMMON_WORD}+{COMMON_WORD}"),
        0,
    ),
    Kind(
        "category keyword feed, rare word",
        _same(f"/feeds/{CAT}.rss?q={RARE_WORD}"),
        _same(f"/feeds/{OTHER}.rss?q={COMMON_WORD}"),
        RARE_ARTICLES,
    ),
    Kind(
        "category keyword feed, common phrase",
        _same(f"/feeds/{CAT}.rss?q={quote(COMMON_PHRASE)}"),
        _same(f"/feeds/{OTHER}.rss?q={quote(COMMON_PHRASE)}"),
        FEED_PAGE_ITEMS,
    ),
    Kind("category feed", _same(f"/feeds/{CAT}.rss"), _same(f"/feeds/{OTHER}.rss")),
    Kind(
        "feed archive, deep page",
        lambda d: f"/feeds/all.rss?before={quote(d.middle_cursor)}",
        lambda d: f"/feeds/{OTHER}.rss?before={quote(d.middle_cursor)}",
        FEED_PAGE_ITEMS,
    ),
    Kind(
        "API search, rare word",
        _same(f"/api/v1/articles?q={RARE_WORD}&limit=20"),
        _same(f"/api/v1/articles?q={COMMON_WORD}&limit=20"),
        RARE_ARTICLES,
    ),
    Kind(
        "API cursor, deep",
        lambda d: f"/api/v1/articles?limit=20&cursor={quote(d.middle_cursor)}",
        lambda d: f"/api/v1/articles?limit=20&cursor={quote(d.middle_cursor)}",
        20,
    ),
    Kind("public category page 1", _same(f"/c/{CAT}"), _same(f"/c/{CAT}")),
    Kind(
        "public category page, deep",
        lambda d: f"/c/{CAT}?before={quote(d.category_middle_cursor)}",
        lambda d: f"/c/{CAT}?before={quote(d.category_middle_cursor)}",
    ),
    Kind("admin dashboard", _same("/admin/"), _same("/admin/")),
    Kind("admin articles, page 1", _same("/admin/articles/"), _same("/admin/articles/")),
    Kind(
        "admin articles, deep",
        lambda d: f"/admin/articles/?before={quote(d.middle_cursor)}",
        lambda d: f"/admin/articles/?before={quote(d.middle_cursor)}",
    ),
    Kind(
        "admin article search, rare word",
        _same(f"/admin/articles/?q={RARE_WORD}"),
        _same(f"/admin/articles/?q={COMMON_WORD}"),
    ),
    Kind(
        "admin article search, middling phrase",
        _same(f"/admin/articles/?q={quote(MIDDLING_PHRASE)}"),
        _same(f"/admin/articles/?q={quote(COMMON_PHRASE)}"),
    ),
)


def _depths(url: str) -> Depths:
    """Counted in this process, before the server starts: not timed."""
    database = create_database(url)
    try:
        with database.sessions() as session:
            now = utcnow()
            category = session.scalar(select(Category.id).where(Category.slug == CAT))
            cursors: list[str] = []
            counts: list[int] = []
            for where in ([], [Article.category_id == category]):
                visible = [Article.published_at <= now, *where]
                count = session.scalar(select(func.count(Article.id)).where(*visible)) or 0
                middle = session.execute(
                    select(Article.published_at, Article.id)
                    .where(*visible)
                    .order_by(Article.published_at.desc(), Article.id.desc())
                    .offset(count // 2)
                    .limit(1)
                ).one()
                cursors.append(encode_cursor(tuple(middle)))
                counts.append(count)
            return Depths(cursors[0], cursors[1], counts[0], counts[1])
    finally:
        database.dispose()


def _admin_token(url: str) -> str:
    """A signed-in admin session, opened as the login form opens one."""
    database = create_database(url)
    settings = load_settings(database_url=url)
    try:
        with database.transaction() as session:
            return log_in(session, settings, ADMIN_USER, ADMIN_PASSWORD, "127.0.0.1", utcnow())
    finally:
        database.dispose()


def _get(port: int, path: str, cookie: str) -> tuple[int, bytes, float]:
    """(status, body, ms) of one GET on a new connection, until the body is read."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    headers = {"Cookie": f"{ADMIN_COOKIE}={cookie}"} if path.startswith("/admin") else {}
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, body, (time.perf_counter() - started) * 1000
    finally:
        connection.close()


def _count(body: bytes, path: str) -> int:
    if path.startswith("/api/"):
        return len(json.loads(body)["items"])
    return body.count(b"<item>")


def _check(kind: Kind, path: str, status: int, body: bytes) -> None:
    if status != 200:
        raise BenchError(f"{kind.name}: GET {path} gave {status}")
    if kind.items is not None and _count(body, path) != kind.items:
        raise BenchError(
            f"{kind.name}: GET {path} gave {_count(body, path)} items, not {kind.items}"
        )


def _round(url: str, depths: Depths, token: str, label: str) -> dict[str, Any]:
    """One fresh server on the store: warm-up, then every kind once; ms per kind, memory."""
    port = free_port()
    server = Gunicorn(
        label,
        "feedsvc.web:create_app()",
        port,
        {"FEEDSVC_DATABASE_URL": url, "FEEDSVC_BASE_URL": f"http://127.0.0.1:{port}"},
        RESULTS_DIR / f"gunicorn-{label}.log",
        workers=1,
    )
    try:
        server.wait_until_answers("/healthz", timeout=60)
        for kind in KINDS:
            status, _body, _ms = _get(port, kind.warm(depths), token)
            if status != 200:
                raise BenchError(f"{kind.name}: warm-up GET {kind.warm(depths)} gave {status}")
        times = {}
        for kind in KINDS:
            path = kind.path(depths)
            status, body, ms = _get(port, path, token)
            _check(kind, path, status, body)
            times[kind.name] = round(ms, 1)
        peak = server.memory()["vm_hwm_kib"]
    finally:
        server.stop()
    return {"ms": times, "vm_hwm_kib": peak[0], "load": os.getloadavg()}  # type: ignore[index]


def run(databases: Databases, quick: bool) -> dict[str, Any]:
    check_words()
    sizes, rounds = (QUICK_SIZES, 1) if quick else (SIZES, ROUNDS)
    stores = ScaleStores(databases.backend)
    prepared: dict[int, dict[str, Any]] = {}
    try:
        for size in sizes:
            store = stores.store(size)
            depths = _depths(store["url"])
            prepared[size] = {**store, "depths": depths, "token": _admin_token(store["url"])}
    finally:
        stores.close()
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
    for number in range(rounds):  # alternating the order, so drift hits both sizes alike
        for size in sizes if number % 2 == 0 else sizes[::-1]:
            store = prepared[size]
            label = f"scale-{databases.backend}-{size}"
            runs[size].append(_round(store["url"], store["depths"], store["token"], label))
            figures = ", ".join(f"{ms:,.0f}" for ms in runs[size][-1]["ms"].values())
            print(f"  round {number + 1}, {size:,} articles: {figures} ms", flush=True)
    small, large = sizes
    summary = []
    for kind in KINDS:
        medians = {
            size: statistics.median(r["ms"][kind.name] for r in runs[size]) for size in sizes
        }
        ratio = medians[large] / medians[small] if medians[small] else float("inf")
        summary.append(
            {
                "kind": kind.name,
                "path": kind.path(prepared[large]["depths"]),
                "small_ms": round(medians[small], 1),
                "large_ms": round(medians[large], 1),
                "ratio": round(ratio, 2),
                "passed": medians[large] <= TARGET_MS and ratio <= TARGET_RATIO,
            }
        )
    workers: dict[str, Any] = {
        "claims": claims(databases, quick) if databases.backend == "postgresql" else None,
        "ingest": ingest(databases, quick),
    }
    return {
        "sizes": list(sizes),
        "rounds": rounds,
        "stores": {
            str(size): {
                "base_built_seconds": prepared[size]["base_seconds"],
                "migrated_seconds": prepared[size]["migrate_seconds"],
                "articles_visible": prepared[size]["depths"].all_articles,
                "category_articles": prepared[size]["depths"].category_articles,
            }
            for size in sizes
        },
        "runs": {str(size): results for size, results in runs.items()},
        "summary": summary,
        "peak_rss_mib": {
            str(size): round(max(r["vm_hwm_kib"] or 0 for r in runs[size]) / 1024, 1)
            for size in sizes
        },
        "workers": workers,
        "targets": {"large_ms": TARGET_MS, "ratio": TARGET_RATIO},
        "passed": all(row["passed"] for row in summary)
        and workers["ingest"]["passed"]
        and (workers["claims"] is None or workers["claims"]["no_double_fetch"]),
    }


def print_report(result: dict[str, Any]) -> None:
    small, large = result["sizes"]
    print(
        f"\nScale: first request of each kind (feed cache empty), {small:,} against "
        f"{large:,} articles, median of {result['rounds']} round(s), fresh server per round"
    )
    rows = [
        [
            row["kind"],
            f"{row['small_ms']:,.1f}",
            f"{row['large_ms']:,.1f}",
            f"{row['ratio']:.2f}",
            "PASS" if row["passed"] else "FAIL",
        ]
        for row in result["summary"]
    ]
    headers = ["request", f"{small:,} ms", f"{large:,} ms", "ratio", ""]
    print(table(headers, rows))
    print(
        f"  targets: ≤ {result['targets']['large_ms']:.0f} ms at {large:,}, "
        f"and ratio ≤ {result['targets']['ratio']}"
    )
    rss = result["peak_rss_mib"]
    print(f"  peak RSS of the serving worker: {rss[str(small)]} MiB / {rss[str(large)]} MiB")
    for size, store in result["stores"].items():
        built = store["base_built_seconds"]
        how = f"built in {built} s" if built is not None else "reused"
        migrated = store["migrated_seconds"]
        if migrated is not None:
            how += f", migrated to head in {migrated} s"
        print(f"  store of {int(size):,} articles: {how}")
    loads = [r["load"][0] for results in result["runs"].values() for r in results]
    print(f"  load average (1 min) during the rounds: {min(loads):.1f}–{max(loads):.1f}")
    _print_workers(result["workers"])


def _print_workers(workers: dict[str, Any]) -> None:
    claimed = workers["claims"]
    if claimed is None:
        print("\n  claims by several workers: measured on PostgreSQL only (--database postgresql)")
    else:
        stats, claim = claimed["upstream"], claimed["claim"]
        verdict = "PASS" if claimed["no_double_fetch"] else "FAIL"
        print(
            f"\n  claims: {claimed['sources']:,} due sources, {claimed['workers']} workers, "
            f"{claimed['ports']} upstream ports: all fetched in {claimed['seconds']} s "
            f"({claimed['sources_per_second']}/s from the workers' start; first to last "
            f"fetch {claimed['first_to_last_fetch_seconds']} s); "
            f"{stats['requests']:,} requests for {stats['urls']:,} URLs, at most "
            f"{stats['max_per_url']} per URL: no double fetch {verdict}"
        )
        print(
            f"  one claim ({claim['claimed']} sources) with all due: {claim['claim_ms']} ms in "
            f"the worker; an index range: {'yes' if claim['index_range'] else 'NO'}; plan:"
        )
        for line in claim["plan"]:
            print(f"    {line}")
        polls = claimed["next_polls"]
        histogram = ", ".join(f"{m}: {n}" for m, n in polls["per_minute"].items())
        print(
            f"  next polls, per minute after the last fetch: {histogram} "
            f"({polls['distinct_seconds']:,} distinct seconds; {polls['failed_sources']} failed)"
        )
        print(f"  workers' peak RSS: {', '.join(map(str, claimed['worker_peak_rss_mib']))} MiB")
    ingested = workers["ingest"]
    verdict = "PASS" if ingested["passed"] else "FAIL"
    print(
        f"  ingest: one worker, {ingested['sources']:,} due corpus sources: "
        f"{ingested['wall_seconds']} s wall, {ingested['cpu_seconds']} s CPU (worker + parser "
        f"processes) + {ingested['database_cpu_seconds']} s of the database server's, ratio "
        f"{ingested['ratio']} (target ≤ {ingested['target']}) {verdict}; without the "
        f"database server's CPU {ingested['ratio_without_database']}; "
        f"first to last fetch {ingested['first_to_last_fetch_seconds']} s; "
        f"worker peak RSS {ingested['worker_peak_rss_mib']} MiB"
    )
