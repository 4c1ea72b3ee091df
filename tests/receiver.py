"""A webhook or WebSub subscriber on 127.0.0.1: records every POST (headers, body) and answers
with the status its test sets, optionally after a delay; answers a WebSub verification GET
by echoing hub.challenge (or refuses it, with ``confirm = False``, or answers what
``verify_answer`` makes of the challenge) and records its query, parsed and raw."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.answer = b""  # the body of every answer to a POST
        self.received: list[Received] = []
        self.confirm = True
        self.verify_answer: Callable[[str], tuple[int, bytes]] | None = None
        self.verifications: list[dict[str, str]] = []  # the last value of each name
        self.raw_queries: list[str] = []  # as sent
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                raw = urlsplit(self.path).query
                query = {k: v[-1] for k, v in parse_qs(raw).items()}  # a hub appends its own
                receiver.raw_queries.append(raw)
                receiver.verifications.append(query)
                challenge = query.get("hub.challenge", "")
                if receiver.verify_answer is not None:
                    status, answer = receiver.verify_answer(challenge)
                else:
                    status = 200 if receiver.confirm else 404
                    answer = challenge.encode() if receiver.confirm else b""
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(receiver.delay)
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("Location", "/")
                self.send_header("Content-Length", str(len(receiver.answer)))
                self.end_headers()
                self.wfile.write(receiver.answer)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]
