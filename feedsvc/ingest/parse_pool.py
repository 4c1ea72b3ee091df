"""Parsing in other processes, for the scheduler's batches of fetches.

feedparser is pure Python: the fetch threads of a batch cannot parse two feeds at once (the
GIL), and parsing is the largest cost of ingesting. A small pool of processes parses while
the threads fetch and store, so a worker uses every core. Processes come from a forkserver,
never a fork of this threaded process.

The parser processes must never outlive the process that uses them: each one watches it
(a pidfd on Linux) and exits when it is gone, even after a kill -9 that left no chance to
shut the pool down; the forkserver exits once they have. A process that parsed a large
document keeps the memory it took (CPython seldom gives it back), so after one the pool's
processes are replaced by fresh ones.
"""

import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from feedsvc.ingest.parse import ParsedFeed, parse_feed


def _exit_with(parent_pid: int) -> None:
    """Pool initializer: end this process as soon as ``parent_pid`` has ended.

    The parent of a pool process is the forkserver, not the process using the pool, so
    PR_SET_PDEATHSIG would not do; a pidfd names exactly that process, whatever reuses its
    number later. Without pidfds (not Linux) the process is polled.
    """
    threading.Thread(target=_wait_then_exit, args=(parent_pid,), daemon=True).start()


def _wait_then_exit(pid: int) -> None:
    try:
        if hasattr(os, "pidfd_open"):
            select.select([os.pidfd_open(pid)], [], [])  # readable once it has exited
        else:
            while True:
                os.kill(pid, 0)
                time.sleep(1)
    except ProcessLookupError:
        pass
    os._exit(1)


class ParserPool:
    def __init__(self, processes: int = 0, recycle_bytes: int = 2 * 1024 * 1024) -> None:
        self._processes = processes or os.cpu_count() or 1
        self._recycle_bytes = recycle_bytes
        self._lock = threading.Lock()  # guards swapping the executor against submitting to it
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._processes,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_exit_with,
            initargs=(os.getpid(),),
        )

    def parse(self, body: bytes, url: str, content_type: str) -> ParsedFeed:
        """``parse_feed`` in a pool process (NotAFeed comes back as raised there)."""
        with self._lock:
            executor = self._executor
            future = executor.submit(parse_feed, body, url, content_type)
        try:
            return future.result()
        finally:
            if len(body) > self._recycle_bytes:
                self._recycle(executor)

    def _recycle(self, used: ProcessPoolExecutor) -> None:
        """Replace the pool's processes (once, however many threads ask): the old ones end
        when the documents already given to them are parsed."""
        with self._lock:
            if self._executor is used:
                self._executor = self._new_executor()
                used.shutdown(wait=False)

    def close(self) -> None:
        with self._lock:
            self._executor.shutdown(cancel_futures=True)
