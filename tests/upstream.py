"""A real HTTP server on 127.0.0.1 playing upstream feeds for the ingest tests.

Each path answers what a test configures: a body with headers, a status, a redirect, a
delay; conditional GETs get 304 when the ETag matches. Every request is recorded, and how many
are answered at once (``in_flight``).
"""

import gzip
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import LocalServer, QuietHandler

CORPUS = Path(__file__).parent / "data" / "feeds"


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the response, or between chunks when ``chunks``
    chunks: int = 1
    gzip: bool = False


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class InFlight:
    """Requests being answered at once: the most seen together, overall and per path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: Counter[str] = Counter()
        self.most = 0
        self.most_per_path: Counter[str] = Counter()

    @contextmanager
    def answering(self, path: str) -> Iterator[None]:
        with self._lock:
            self._now[path] += 1
            self.most = max(self.most, self._now.total())
            self.most_per_path[path] = max(self.most_per_path[path], self._now[path])
        try:
            yield
        finally:
            with self._lock:
                self._now[path] -= 1


class Upstream(LocalServer):
    """``shared``: an InFlight that several upstreams (hosts) count into together."""

    def __init__(self, shared: InFlight | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.in_flight = InFlight()
        gauges = [self.in_flight, shared or InFlight()]
        upstream = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                upstream.requests.append(Seen(self.path, dict(self.headers)))
                with gauges[0].answering(self.path), gauges[1].answering(self.path):
                    self.answer()

            def answer(self) -> None:
                route = upstream.routes.get(self.path, Route(b"not here", 404))
                body = gzip.compress(route.body) if route.gzip else route.body
                etag = route.headers.get("ETag")
                status = route.status
                if etag and self.headers.get("If-None-Match") == etag and status == 200:
                    status, body = 304, b""
                if route.chunks == 1 and route.delay:
                    time.sleep(route.delay)
                self.send_response(status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.gzip:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                size = max(1, len(body) // route.chunks)
                for start in range(0, len(body), size):
                    try:
                        self.wfile.write(body[start : start + size])
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    if route.chunks > 1:
                        time.sleep(route.delay)

        super().__init__(Handler)
        self.base_url = self.url

    def serve(self, path: str, body: bytes | str = b"", **options: object) -> str:
        """Answer ``path`` as configured; returns its absolute URL."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(data, **options)  # type: ignore[arg-type]
        return self.base_url + path

    def serve_file(
        self, path: str, name: str, content_type: str = "application/rss+xml", **options: object
    ) -> str:
        headers = {"Content-Type": content_type, **options.pop("headers", {})}  # type: ignore[dict-item]
        return self.serve(path, (CORPUS / name).read_bytes(), headers=headers, **options)

    def redirect(self, path: str, to: str, status: int = 301) -> str:
        return self.serve(path, status=status, headers={"Location": to})

    def hits(self, path: str) -> int:
        return sum(1 for seen in self.requests if seen.path == path)
