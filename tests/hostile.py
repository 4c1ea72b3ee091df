"""Hostile HTTP peers on 127.0.0.1: servers that answer slowly, a byte at a time, or without end.

Each is a raw TCP server (no HTTP library that could be too polite) running one behaviour per
connection in its own thread; ``stop`` closes everything. Used as an upstream feed, a webhook
receiver, a WebSub callback or anything else feedsvc calls.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Callable

RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    b"<link>http://example.com/</link><description>d</description></channel></rss>"
)


def trickle_head(delay: float) -> Callable[[socket.socket], None]:
    """Sends its status line and headers one byte every ``delay`` seconds, never finishing."""

    def behave(connection: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Padding: "
        for byte in head + b"x" * 100_000:
            connection.sendall(bytes([byte]))
            time.sleep(delay)

    return behave


def trickle_body(delay: float, length: int = 100_000) -> Callable[[socket.socket], None]:
    """Promptly promises ``length`` bytes, then sends one every ``delay`` seconds."""

    def behave(connection: socket.socket) -> None:
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            + f"Content-Length: {length}\r\n\r\n".encode()
        )
        for _ in range(length):
            connection.sendall(b" ")
            time.sleep(delay)

    return behave


def trickle_greeting(delay: float) -> Callable[[socket.socket], None]:
    """An SMTP server that sends its greeting line one byte every ``delay`` seconds."""

    def behave(connection: socket.socket) -> None:
        for byte in b"220-" + b"x" * 100_000:
            connection.sendall(bytes([byte]))
            time.sleep(delay)

    return behave


def endless_body(first: bytes = b"") -> Callable[[socket.socket], None]:
    """Answers 200 with ``first`` and then as much filler as the reader will take."""

    def behave(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + first)
        chunk = b"x" * 65536
        while True:
            connection.sendall(chunk)

    return behave


class HostilePeer:
    """A TCP server on 127.0.0.1 that reads what it is sent, then behaves as told."""

    def __init__(self, behave: Callable[[socket.socket], None], speaks_first: bool = False) -> None:
        self.behave = behave
        self.speaks_first = speaks_first  # as an SMTP server does
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            if not self.speaks_first:
                connection.recv(65536)  # the request (small, in one piece, from loopback)
            self.behave(connection)
        except OSError:
            pass  # the client hung up: what it should do
        finally:
            connection.close()

    def __enter__(self) -> "HostilePeer":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        self.listener.close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
