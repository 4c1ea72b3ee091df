"""A webhook or WebSub subscriber on 127.0.0.1: records every POST (headers, body) and answers
with the status its test sets, optionally after a delay; answers a WebSub verification GET
by echoing hub.challenge (or refuses it, with ``confirm = False``, or answers what
``verify_answer`` makes of the challenge) and records its query, parsed and raw."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from tests.servers import LocalServer, QuietHandler


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver(LocalServer):
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

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                raw = urlsplit(self.path).query
                query = {k: v[-1] for k, v in parse_qs(raw).items()}  # a hub appends its own
                receiver.raw_queries.append(raw)
                receiver.verifications.append(query)
                challenge = query.get("hub.challenge", "")
                if receiver.verify_answer is not None:
                    self.reply(*receiver.verify_answer(challenge))
                elif receiver.confirm:
                    self.reply(200, challenge.encode())
                else:
                    self.reply(404)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(receiver.delay)
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.reply(receiver.status, receiver.answer)

        super().__init__(Handler)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]
