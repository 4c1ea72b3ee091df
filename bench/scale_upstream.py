"""`python -m bench.scale_upstream PORTS FEEDS KIND`: the scale benchmark's upstream.

Serves ``/N.xml`` for N < FEEDS on PORTS ports of 127.0.0.1 (free ones, printed as a JSON list
once every port listens), so that the sources
are spread over PORTS hosts (``fetch_per_host`` counts host and port), with strong ETags and
304 for a matching ``If-None-Match``. KIND ``small``: a one-entry RSS feed per N; ``corpus``:
the ingest benchmark's ``make_feed(N)``, made once and kept under bench/results/scale-corpus/.
``/stats`` (any port): requests in all, distinct URLs asked for, the most requests of one URL,
and the 200 and 304 answers.
"""

import hashlib
import json
import sys
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from http.server import ThreadingHTTPServer

from bench.databases import RESULTS_DIR
from bench.feed_server import KeepAliveHandler
from bench.ingest import make_feed

CORPUS_DIR = RESULTS_DIR / "scale-corpus"


def small_feed(n: int) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Nguồn {n}</title><link>http://nguon{n}.example.vn/</link>"
        f"<description>Nguồn {n}</description><item><title>Tin {n}</title>"
        f"<link>http://nguon{n}.example.vn/tin/1.html</link><guid>nguon{n}-1</guid>"
        "<pubDate>Thu, 26 Nov 2026 07:00:00 +0700</pubDate>"
        f"<description>Tin số {n} của nguồn.</description></item></channel></rss>"
    ).encode()


def _corpus_file(n: int) -> bytes:
    path = CORPUS_DIR / f"{n}.xml"
    if not path.exists():
        body = make_feed(n)
        path.with_suffix(".tmp").write_bytes(body)
        path.with_suffix(".tmp").rename(path)
        return body
    return path.read_bytes()


def bodies(feeds: int, kind: str) -> list[bytes]:
    if kind == "small":
        return [small_feed(n) for n in range(feeds)]
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor() as pool:
        return list(pool.map(_corpus_file, range(feeds), chunksize=20))


def main(ports: int, feeds: int, kind: str) -> None:
    served = bodies(feeds, kind)
    etags = [f'"{hashlib.sha1(body).hexdigest()}"' for body in served]
    per_url: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(KeepAliveHandler):
        def do_GET(self) -> None:
            if self.path == "/stats":
                with lock:
                    stats = {
                        "requests": sum(per_url.values()),
                        "urls": len(per_url),
                        "max_per_url": max(per_url.values(), default=0),
                        **answers,
                    }
                self._send(200, json.dumps(stats).encode(), {"Content-Type": "application/json"})
                return
            n = int(self.path.strip("/").split(".")[0])
            not_modified = self.headers.get("If-None-Match") == etags[n]
            with lock:
                per_url[f"{self.server.server_address!r}{self.path}"] += 1
                answers["304" if not_modified else "200"] += 1
            if not_modified:
                self._send(304, b"", {"ETag": etags[n]})
                return
            headers = {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etags[n]}
            self._send(200, served[n], headers)

        def log_message(self, *_args: object) -> None:
            pass

    listening = []
    for _ in range(ports):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        listening.append(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps(listening), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
