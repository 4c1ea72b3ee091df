"""A hostile webhook or WebSub subscriber on 127.0.0.1: it verifies a subscription like any
(echoes hub.challenge), but answers each POST in the way its test sets:

- ``trickle``: status and headers announcing a 100,000-byte body, then one byte every
  ``interval`` seconds, never the whole body;
- ``silent``: reads the request and says nothing;
- ``answer``: 200 at once.

A hanging answer lasts until the server is closed (or its mode changes). It counts the
POSTs begun, those still hanging, and the most it held at once.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Trickler:
    def __init__(self, mode: str = "trickle", interval: float = 1.0) -> None:
        self.mode = mode
        self.interval = interval
        self.begun = 0
        self.hanging = 0
        self.most_at_once = 0
        self.closing = threading.Event()
        lock = threading.Lock()
        trickler = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                answer = query.get("hub.challenge", [""])[0].encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                mode = trickler.mode
                if mode == "answer":
                    with lock:
                        trickler.begun += 1
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with lock:
                    trickler.begun += 1
                    trickler.hanging += 1
                    trickler.most_at_once = max(trickler.most_at_once, trickler.hanging)
                try:
                    if mode == "trickle":
                        self.send_response(200)
                        self.send_header("Content-Length", "100000")
                        self.end_headers()
                        self.wfile.flush()
                    while trickler.mode == mode and not trickler.closing.wait(trickler.interval):
                        if mode == "trickle":
                            self.wfile.write(b"x")
                            self.wfile.flush()
                except OSError:
                    pass  # the sender gave up
                finally:
                    with lock:
                        trickler.hanging -= 1
                self.close_connection = True

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> "Trickler":
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
