"""`python -m bench.feed_server PORT FEEDS`: the ingest benchmark's upstream feeds.

Serves ``/N.xml`` (``bench.ingest.make_feed(N)``) with strong ETags, 304 for a matching
If-None-Match, and ``/stats``: how many 200 and 304 answers it gave.
"""

import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.ingest import make_feed


class KeepAliveHandler(BaseHTTPRequestHandler):
    """Answers on a kept-alive connection, each with its Content-Length (the benchmarks'
    upstreams)."""

    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main(port: int, feeds: int) -> None:
    bodies = [make_feed(n) for n in range(feeds)]
    etags = [f'"{hashlib.sha1(body).hexdigest()}"' for body in bodies]
    hits = {"200": 0, "304": 0}

    class Handler(KeepAliveHandler):
        def do_GET(self) -> None:
            if self.path == "/stats":
                self._send(200, json.dumps(hits).encode(), {"Content-Type": "application/json"})
                return
            n = int(self.path.strip("/").split(".")[0])
            if self.headers.get("If-None-Match") == etags[n]:
                hits["304"] += 1
                self._send(304, b"", {"ETag": etags[n]})
                return
            hits["200"] += 1
            headers = {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etags[n]}
            self._send(200, bodies[n], headers)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
