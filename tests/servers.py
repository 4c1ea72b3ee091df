"""Real HTTP servers on 127.0.0.1 for the tests: the one server loop every test server runs.

``LocalServer`` listens on a free port in a daemon thread, as a context manager; each kind
of server (an upstream feed, a webhook receiver, a hostile subscriber, a WebSub hub) gives
it a ``QuietHandler`` subclass whose methods record what came and answer as its test sets.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs, urlsplit


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that logs nothing, with the common answers."""

    def log_message(self, *_args: object) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Status, headers, Content-Length and body; a 3xx without a Location goes to /."""
        self.send_response(status)
        headers = headers or {}
        if 300 <= status < 400 and "Location" not in headers:
            headers = {**headers, "Location": "/"}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def echo_challenge(self) -> None:
        """Confirm a WebSub verification of intent: 200 with ``hub.challenge`` as the body."""
        query = parse_qs(urlsplit(self.path).query)
        self.reply(200, query.get("hub.challenge", [""])[0].encode())


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (``url``, without a trailing slash)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.closing()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def closing(self) -> None:
        """What a server does before it stops (ends the answers still hanging)."""
