"""`python -m bench.hostile_peers STATS_PORT`: the hostile benchmark's two bad peers.

- a webhook receiver that reads the POST, promptly answers 200 with ``Content-Length:
  100000``, then sends one byte every RECEIVER_DELAY seconds;
- an upstream that sends its status line and headers one byte every UPSTREAM_DELAY seconds.

Both are ``tests.hostile`` servers (raw sockets on 127.0.0.1, one thread per connection), in
a process of their own as real peers are. ``GET /`` on STATS_PORT tells their ports and how
many connections each has accepted.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.hostile import HostilePeer, trickle_body, trickle_head

# Both send a byte well within feedsvc's per-read timeouts (delivery_timeout, 10 s;
# fetch_read_timeout, 20 s), so only the total deadline of a call can cut them off.
RECEIVER_DELAY = 2.0
UPSTREAM_DELAY = 1.0


def main(stats_port: int) -> None:
    peers = {
        "receiver": HostilePeer(trickle_body(RECEIVER_DELAY)),
        "upstream": HostilePeer(trickle_head(UPSTREAM_DELAY)),
    }

    class Stats(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(
                {
                    name: {"port": peer.port, "connections": len(peer.connections)}
                    for name, peer in peers.items()
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", stats_port), Stats)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
