"""Parsing in other processes, for the scheduler's batches of fetches.

feedparser is pure Python: the fetch threads of a batch cannot parse two feeds at once (the
GIL), and parsing is the largest cost of ingesting. A small pool of processes parses while
the threads fetch and store, so a worker uses every core. Processes come from a forkserver,
never a fork of this threaded process.
"""

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from feedsvc.ingest.parse import ParsedFeed, parse_feed


class ParserPool:
    def __init__(self, processes: int = 0) -> None:
        self._executor = ProcessPoolExecutor(
            processes or os.cpu_count() or 1,
            mp_context=multiprocessing.get_context("forkserver"),
        )

    def parse(self, body: bytes, url: str, content_type: str) -> ParsedFeed:
        """``parse_feed`` in a pool process (NotAFeed comes back as raised there)."""
        return self._executor.submit(parse_feed, body, url, content_type).result()

    def close(self) -> None:
        self._executor.shutdown(cancel_futures=True)
