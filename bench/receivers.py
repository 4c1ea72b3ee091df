"""`python -m bench.receivers HTTP_PORT SMTP_PORT`: the notification benchmark's receivers.

An HTTP server that answers every POST 204 and an SMTP server (aiosmtpd) that accepts every
mail; ``GET /stats`` says how many of each arrived.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

counts = {"posts": 0, "mails": 0}
lock = threading.Lock()  # += on a shared dict from many threads can lose counts


class Mails:
    async def handle_DATA(self, _server, _session, _envelope):  # type: ignore[no-untyped-def]
        with lock:
            counts["mails"] += 1
        return "250 OK"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            counts["posts"] += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        body = json.dumps(counts).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


if __name__ == "__main__":
    controller = Controller(Mails(), hostname="127.0.0.1", port=int(sys.argv[2]))
    controller.start()
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
