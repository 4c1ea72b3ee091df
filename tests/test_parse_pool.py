"""Parser processes, for real: they end with the process that uses them, even after a kill -9
of `feedsvc worker`, and one that parsed a large document is replaced by a fresh one."""

import os
from datetime import timedelta
from pathlib import Path

import pytest

from feedsvc.db import create_database, upgrade_database
from feedsvc.ingest.parse_pool import ParserPool
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from tests.conftest import Store, start_worker
from tests.ingest_helpers import Sources
from tests.waiting import wait_until

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def rss(entries: int, body: str = "") -> bytes:
    items = "".join(
        f"<item><guid>{n}</guid><title>Tin {n}</title><description>{body}</description></item>"
        for n in range(entries)
    )
    return (
        '<rss version="2.0"><channel><title>Huyện</title><link>http://h.vn/</link>'
        f"<description>d</description>{items}</channel></rss>"
    ).encode()


def _stat(pid: int) -> tuple[str, int] | None:
    """State and parent of a process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"  # a zombie has ended; only its reaping waits


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[1] == pid:
            found.add(int(entry.name))
    return {child for child in found if alive(child)}


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            found.add(child)
            todo.append(child)
    return found


@pytest.mark.slow
def test_parser_processes_end_when_the_worker_is_killed(tmp_path, upstream):
    database = f"sqlite:///{tmp_path / 'feedsvc.db'}"
    settings = Settings(database_url=database, allow_private_urls=True)
    upgrade_database(settings)
    db = create_database(database)
    Store(db, settings).category("Thời sự")
    sources = Sources(db, settings)
    source_id = sources.add(upstream.serve("/f", rss(3)))
    sources.make_due(source_id, utcnow() - timedelta(minutes=1))
    log = tmp_path / "worker.log"
    worker = start_worker(database, log, scheduler_tick_seconds="1", parse_processes="2")
    try:
        assert wait_until(lambda: sources.get(source_id).fetch_count == 1, 60), log.read_text()
        assert len(sources.articles(source_id)) == 3  # parsed in the pool
        spawned = descendants(worker.pid)  # the forkserver, its parser processes, the tracker
        assert len(spawned) >= 3, spawned
    finally:
        worker.kill()  # kill -9: no chance to shut the pool down
        worker.wait(timeout=10)
        db.dispose()
    assert wait_until(lambda: not any(alive(pid) for pid in spawned), 15), [
        (pid, Path(f"/proc/{pid}/cmdline").read_bytes()) for pid in spawned if alive(pid)
    ]


def parser_processes() -> set[int]:
    """The processes the forkserver of this (test) process has started."""
    return {pid for server in children(os.getpid()) for pid in children(server)}


def test_a_parser_that_read_a_large_document_is_replaced():
    small, large = rss(3), rss(200, body="x" * 500)
    before = parser_processes()  # other tests' pools, if any are still ending
    pool = ParserPool(1, recycle_bytes=50_000)
    try:
        assert len(pool.parse(small, "http://h.vn/f", "").entries) == 3
        [first] = parser_processes() - before
        pool.parse(small, "http://h.vn/f", "")
        assert parser_processes() - before == {first}  # small documents: the same process

        assert len(large) > 50_000
        assert len(pool.parse(large, "http://h.vn/f", "").entries) == 200
        assert len(pool.parse(small, "http://h.vn/f", "").entries) == 3
        assert wait_until(lambda: not alive(first)), "the parser of the large document stays"
        [second] = parser_processes() - before
        assert second != first
    finally:
        pool.close()
