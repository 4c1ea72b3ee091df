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

from tests.servers import LocalServer, QuietHandler


class Trickler(LocalServer):
    def __init__(self, mode: str = "trickle", interval: float = 1.0) -> None:
        self.mode = mode
        self.interval = interval
        self.begun = 0
        self.hanging = 0
        self.most_at_once = 0
        self.closing_event = threading.Event()
        lock = threading.Lock()
        trickler = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.echo_challenge()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                mode = trickler.mode
                if mode == "answer":
                    with lock:
                        trickler.begun += 1
                    self.reply(200)
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
                    while trickler.mode == mode and not trickler.closing_event.wait(
                        trickler.interval
                    ):
                        if mode == "trickle":
                            self.wfile.write(b"x")
                            self.wfile.flush()
                except OSError:
                    pass  # the sender gave up
                finally:
                    with lock:
                        trickler.hanging -= 1
                self.close_connection = True

        super().__init__(Handler)

    def closing(self) -> None:
        self.closing_event.set()
