"""A per-process, size-bounded LRU of built feeds.

Entries are keyed by the feed's strong ETag, which is derived from the content version read
from the database on every request. A change in any process on any machine changes the key,
so no process can serve a stale feed, and there is nothing to invalidate: old entries age out.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BuiltFeed:
    body: bytes
    gzip_body: bytes
    media_type: str
    etag: str
    last_modified: datetime

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzip_body)


class FeedCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, BuiltFeed] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> BuiltFeed | None:
        with self._lock:
            feed = self._entries.get(key)
            if feed is not None:
                self._entries.move_to_end(key)
            return feed

    def put(self, key: str, feed: BuiltFeed) -> None:
        if feed.size > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous.size
            self._entries[key] = feed
            self._bytes += feed.size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size
