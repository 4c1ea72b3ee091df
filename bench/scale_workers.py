"""Scale, the worker side, through real ``feedsvc worker`` processes (``python -m feedsvc.cli
worker``, settings from config/feedsvc.toml, ``allow_private_urls`` on) and a local upstream
(``bench.scale_upstream``, sources spread over many ports so ``fetch_per_host`` is no bound):

- claims: 10,000 sources, all due, fetched by 4 workers (one-entry feeds). Time from the
  workers' start to the last fetch recorded; no URL requested twice (counted by the
  upstream); the claim query's plan and cost with every source due (PostgreSQL: EXPLAIN
  ANALYZE); where the next polls fall after that round (per-minute histogram).
- ingest: one worker, 1,000 due sources of the ingest benchmark's corpus (50 entries of 2-4 KB
  each). Wall time from its start to the last fetch recorded, against the CPU time of the
  worker and its parser processes (user + system, reaped children included).
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, update

from bench import BenchError
from bench.cpu import TICK, database_server_cpu
from bench.databases import Databases
from bench.gunicorn import FEEDSVC_CONFIG, ROOT, _children, _status_kb
from feedsvc.categories import create_category
from feedsvc.db import create_database
from feedsvc.ingest.claims import claim_due_sources
from feedsvc.models import Article, Source
from feedsvc.settings import load_settings
from feedsvc.sources import SourceCreate, add_source
from feedsvc.text import utcnow

CLAIM = {"sources": 10_000, "workers": 4, "ports": 50}
INGEST = {"sources": 1_000, "workers": 1, "ports": 20}
QUICK_CLAIM = {"sources": 1_000, "workers": 4, "ports": 20}
QUICK_INGEST = {"sources": 100, "workers": 1, "ports": 10}
ENTRIES = 50  # per corpus feed (bench.ingest.ENTRIES)
INGEST_TARGET = 1.3
DEADLINE = 15 * 60  # seconds a round may take before the run gives up


class Upstream:
    def __init__(self, ports: int, feeds: int, kind: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.scale_upstream", str(ports), str(feeds), kind],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise BenchError("the scale upstream did not start", exit_code=2)
        self.ports: list[int] = json.loads(line)

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n % len(self.ports)]}/{n}.xml"

    def stats(self) -> dict[str, int]:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[0]}/stats", timeout=10) as r:
            return dict(json.load(r))

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _tree_cpu(pid: int) -> float:
    """User + system seconds of a process and its live descendants, with their reaped
    children's (cutime, cstime: recycled parser processes)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])
        pending.extend(_children(current))
    return total / TICK


def _store(databases: Databases, label: str, urls: list[str]) -> str:
    """A fresh store with one category and ``urls`` as sources, every one due now."""
    url = databases.fresh(label)
    settings = load_settings(database_url=url, allow_private_urls=True)
    database = create_database(url)
    rng = random.Random(1)
    try:
        with database.transaction() as session:
            now = utcnow()
            create_category(session, "Thời sự", now)
            for feed_url in urls:
                data = SourceCreate(url=feed_url, category="thoi-su")
                add_source(session, data, settings, now, rng)
        with database.transaction() as session:
            session.execute(update(Source).values(next_fetch_at=utcnow()))
    finally:
        database.dispose()
    return url


def _claim_plan(url: str) -> dict[str, Any]:
    """The claim the worker makes, with every source due: its SQL's plan and cost, rolled back."""
    settings = load_settings(database_url=url)
    database = create_database(url)
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM sources" in statement:
            seen.append((statement, parameters))

    if database.engine.dialect.name == "postgresql":
        # What autovacuum does after the UPDATE that made every source due (10,000 dead row
        # versions, far past its threshold): statistics, and the dead versions gone, which an
        # index scan would otherwise step over one by one.
        autocommit = database.engine.execution_options(isolation_level="AUTOCOMMIT")
        with autocommit.connect() as connection:
            connection.exec_driver_sql("VACUUM ANALYZE sources")
    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        for _ in range(2):  # the second is timed: the first compiles and connects
            with database.sessions() as session:
                started = time.perf_counter()
                now = utcnow()
                tickets = claim_due_sources(session, settings, now, settings.fetch_concurrency)
                claim_ms = (time.perf_counter() - started) * 1000
                session.rollback()
        event.remove(database.engine, "before_cursor_execute", capture)
        statement, parameters = seen[0]
        explain = (
            "EXPLAIN (ANALYZE, BUFFERS) "
            if database.engine.dialect.name == "postgresql"
            else "EXPLAIN QUERY PLAN "
        )
        with database.engine.connect() as connection:
            rows = connection.exec_driver_sql(explain + statement, parameters).all()
            connection.rollback()
        plan = [str(row[-1]) for row in rows]
    finally:
        database.dispose()
    return {
        "claimed": len(tickets),
        "claim_ms": round(claim_ms, 2),
        "sql": statement,
        "plan": plan,
        # An index range (no sort, no sequential scan): FOR UPDATE must visit each row it
        # locks, so a claim reads the rows it claims and the index entries before them.
        "index_range": any("Index Cond" in line and "next_fetch_at" in line for line in plan)
        and not any("Seq Scan" in line or "Sort" in line for line in plan),
    }


def _start_workers(url: str, count: int, label: str) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDSVC_")}
    env.update(
        FEEDSVC_CONFIG=str(FEEDSVC_CONFIG),
        FEEDSVC_DATABASE_URL=url,
        FEEDSVC_ALLOW_PRIVATE_URLS="true",
        PYTHONPATH=str(ROOT),
    )
    logs = ROOT / "bench" / "results"
    return [
        subprocess.Popen(
            [sys.executable, "-m", "feedsvc.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / f"worker-{label}-{n}.log").open("wb"),
            start_new_session=True,  # its own group: stopped with its parser processes
        )
        for n in range(count)
    ]


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def _wait_fetched(
    url: str, sources: int, workers: list[subprocess.Popen[bytes]]
) -> tuple[datetime, datetime]:
    """Polls the store until every source has been fetched once; the first and last fetch's
    times (recorded when each fetch ended)."""
    database = create_database(url)
    deadline = time.monotonic() + DEADLINE
    try:
        while True:
            with database.sessions() as session:
                done, first, last = session.execute(
                    select(
                        func.count(Source.id),
                        func.min(Source.last_fetch_at),
                        func.max(Source.last_fetch_at),
                    ).where(Source.last_fetch_at.is_not(None))
                ).one()
            if done == sources and first is not None and last is not None:
                return first, last
            if any(worker.poll() is not None for worker in workers):
                raise BenchError("a worker exited; see bench/results/worker-*.log")
            if time.monotonic() > deadline:
                raise BenchError(f"{done} of {sources} sources fetched after {DEADLINE} s")
            time.sleep(0.25)
    finally:
        database.dispose()


def _next_polls(url: str, after: datetime) -> dict[str, Any]:
    """Where the next polls fall: per minute after the round's last fetch."""
    database = create_database(url)
    try:
        with database.sessions() as session:
            times = list(session.scalars(select(Source.next_fetch_at)))
            failed = session.scalar(select(func.count()).where(Source.last_error != ""))
    finally:
        database.dispose()
    minutes = Counter(int((t - after).total_seconds() // 60) for t in times)
    return {
        "per_minute": dict(sorted(minutes.items())),
        "distinct_seconds": len({t.replace(microsecond=0) for t in times}),
        "failed_sources": failed,
    }


def claims(databases: Databases, quick: bool) -> dict[str, Any]:
    shape = QUICK_CLAIM if quick else CLAIM
    upstream = Upstream(shape["ports"], shape["sources"], "small")
    try:
        url = _store(databases, "scale-claims", [upstream.url(n) for n in range(shape["sources"])])
        plan = _claim_plan(url)
        started = utcnow()
        workers = _start_workers(url, shape["workers"], "claims")
        try:
            first, last = _wait_fetched(url, shape["sources"], workers)
            peaks = [_status_kb(worker.pid, "VmHWM") or 0 for worker in workers]
        finally:
            _stop(workers)
        stats = upstream.stats()
    finally:
        upstream.close()
    polls = _next_polls(url, last)
    seconds = (last - started).total_seconds()
    return {
        **shape,
        "seconds": round(seconds, 1),
        "sources_per_second": round(shape["sources"] / seconds, 1),
        "first_to_last_fetch_seconds": round((last - first).total_seconds(), 1),
        "upstream": stats,
        "no_double_fetch": stats["max_per_url"] == 1 and stats["urls"] == shape["sources"],
        "claim": plan,
        "next_polls": polls,
        "worker_peak_rss_mib": [round(kib / 1024, 1) for kib in peaks],
    }


def ingest(databases: Databases, quick: bool) -> dict[str, Any]:
    shape = QUICK_INGEST if quick else INGEST
    upstream = Upstream(shape["ports"], shape["sources"], "corpus")
    try:
        url = _store(databases, "scale-ingest", [upstream.url(n) for n in range(shape["sources"])])
        server = "postgres" if databases.backend == "postgresql" else ""
        database_before = database_server_cpu(server) if server else 0.0
        started = utcnow()
        workers = _start_workers(url, 1, "ingest")
        try:
            first, last = _wait_fetched(url, shape["sources"], workers)
            cpu = _tree_cpu(workers[0].pid)
            database_cpu = (database_server_cpu(server) - database_before) if server else 0.0
            peak = _status_kb(workers[0].pid, "VmHWM") or 0
        finally:
            _stop(workers)
    finally:
        upstream.close()
    database = create_database(url)
    with database.sessions() as session:
        stored = session.scalar(select(func.count(Article.id)))
        failed = session.scalar(select(func.count()).where(Source.last_error != ""))
    database.dispose()
    if stored != shape["sources"] * ENTRIES or failed:
        raise BenchError(f"ingest stored {stored} articles with {failed} failed sources")
    wall = (last - started).total_seconds()
    # SQLite's work (statements, triggers, the search index) runs in the worker and is in
    # its CPU; PostgreSQL's runs in the server's processes, so theirs is added.
    needed = cpu + database_cpu
    return {
        **shape,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "database_cpu_seconds": round(database_cpu, 1),
        "ratio": round(wall / needed, 2),
        "ratio_without_database": round(wall / cpu, 2),
        "first_to_last_fetch_seconds": round((last - first).total_seconds(), 1),
        "worker_peak_rss_mib": round(peak / 1024, 1),
        "target": INGEST_TARGET,
        "passed": wall / needed <= INGEST_TARGET,
    }
