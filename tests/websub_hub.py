"""A WebSub hub on 127.0.0.1 for the subscriber tests: it takes subscription requests,
verifies intent against the subscriber's callback (a real GET), and pushes content."""

import hashlib
import hmac
import secrets
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass

from tests.servers import LocalServer, QuietHandler


@dataclass
class Subscription:
    topic: str
    callback: str
    secret: str
    lease_seconds: int
    verified: bool | None = None  # None until the hub has checked the callback


class Hub(LocalServer):
    def __init__(self, lease_seconds: int | None = None) -> None:
        self.subscriptions: list[Subscription] = []
        self.verified = threading.Event()
        hub = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                subscription = Subscription(
                    form["hub.topic"][0],
                    form["hub.callback"][0],
                    form.get("hub.secret", [""])[0],
                    lease_seconds or int(form.get("hub.lease_seconds", ["3600"])[0]),
                )
                hub.subscriptions.append(subscription)
                self.reply(202)
                threading.Thread(target=hub.verify, args=(subscription,), daemon=True).start()

        super().__init__(Handler)
        self.url += "/"  # the hub's URL, as a feed names it

    def verify(self, subscription: Subscription, topic: str | None = None) -> bool:
        """The verification of intent (WebSub §5.3): GET with a challenge it must echo."""
        challenge = secrets.token_hex(8)
        query = urllib.parse.urlencode(
            {
                "hub.mode": "subscribe",
                "hub.topic": topic or subscription.topic,
                "hub.challenge": challenge,
                "hub.lease_seconds": subscription.lease_seconds,
            }
        )
        try:
            with urllib.request.urlopen(f"{subscription.callback}?{query}", timeout=5) as answer:
                ok = answer.status == 200 and answer.read().decode() == challenge
        except OSError:
            ok = False
        if topic is None:
            subscription.verified = ok
            self.verified.set()
        return ok

    def push(self, subscription: Subscription, body: bytes, secret: str | None = None) -> int:
        """A content distribution (WebSub §7), signed with ``secret`` (default: the real one)."""
        key = (subscription.secret if secret is None else secret).encode()
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            subscription.callback,
            data=body,
            headers={
                "Content-Type": "application/rss+xml",
                "X-Hub-Signature": f"sha256={signature}",
                "Link": f'<{self.url}>; rel="hub", <{subscription.topic}>; rel="self"',
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            error.close()
            return error.code
