"""Outbound calls against hostile peers: the pinned address guard, the total deadline, the
size caps, and fetching with no batch barrier.

Addresses other than loopback are never connected to: a recording network backend stands in
for the connection, and records where it would have connected.
"""

import random
import time
from dataclasses import replace
from datetime import timedelta

import httpcore
import pytest

from feedsvc.errors import UnsafeURL, UpstreamError
from feedsvc.ingest.fetch import fetch_feed
from feedsvc.ingest.preview import preview_source
from feedsvc.ingest.refresh import refresh_due_sources
from feedsvc.notify.channels.email import send_emails
from feedsvc.notify.channels.webhook import send_attempt
from feedsvc.notify.hub import Intent, verify_subscriber_intent
from feedsvc.notify.rows import Attempt
from feedsvc.outbound import check_url, delivery_client, fetch_client, is_public
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from tests.hostile import (
    RSS,
    HostilePeer,
    endless_body,
    trickle_body,
    trickle_greeting,
    trickle_head,
)

STRICT = Settings(allow_private_urls=False, fetch_total_timeout=1, fetch_read_timeout=0.5)
LENIENT = STRICT.model_copy(update={"allow_private_urls": True, "delivery_timeout": 1})


def webhook_attempt(url: str) -> Attempt:
    return Attempt(
        delivery_id=1,
        message_id="msg_1",
        kind="webhook",
        endpoint_id=1,
        subscriber_id=None,
        url=url,
        secret="whsec_" + "A" * 43 + "=",
        payload="{}",
        content_type="application/json",
        topic=None,
        attempts=0,
    )


class Recorder(httpcore.NetworkBackend):
    """Records each connection it is asked for instead of making it."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        self.connects.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")


class Rebinding:
    """A DNS that answers a public address first and 127.0.0.1 afterwards."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::127.0.0.1",  # IPv4-compatible
        "64:ff9b::7f00:1",  # NAT64
        "2002:7f00:1::1",  # 6to4
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "fe80::1%eth0",
        "224.0.0.1",
    ],
)
def test_non_public_addresses_in_every_form_are_refused(address):
    assert not is_public(address)
    host = f"[{address.split('%')[0]}]" if ":" in address else address
    with pytest.raises(UnsafeURL, match="non-public address"):
        check_url(f"http://{host}/feed", allow_private=False)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "64:ff9b::5db8:d822"])
def test_public_addresses_pass(address):
    assert is_public(address)


def test_the_address_checked_is_the_address_connected_to():
    """DNS rebinding: the second answer (127.0.0.1) is never connected to."""
    dns = Rebinding(["93.184.216.34"], ["127.0.0.1"])
    wire = Recorder()
    with fetch_client(STRICT, resolve=dns, connect=wire) as client:
        first = fetch_feed(client, STRICT, "http://rebind.example/feed", utcnow())
        second = fetch_feed(client, STRICT, "http://rebind.example/feed", utcnow())
    assert wire.connects == [("93.184.216.34", 80)]
    assert "recorded, not connected" in first.error
    assert "non-public address 127.0.0.1" in second.error


def test_a_name_with_any_private_address_is_refused_before_connecting():
    wire = Recorder()
    dns = Rebinding(["93.184.216.34", "::ffff:10.0.0.1"])
    attempt = webhook_attempt("https://hooks.example/in")
    with delivery_client(STRICT, resolve=dns, connect=wire) as client:
        result = send_attempt(client, STRICT, attempt, utcnow())
        intent = Intent(1, "subscribe", "topic", "https://hooks.example/cb", 60, "", None)
        confirmed = verify_subscriber_intent(client, STRICT, intent)
    assert "non-public address ::ffff:10.0.0.1" in result.error and not confirmed
    assert wire.connects == []


def test_the_host_header_keeps_the_name(upstream):
    url = upstream.serve("/feed", RSS, headers={"Content-Type": "application/rss+xml"})
    port = int(url.split(":")[2].split("/")[0])
    with fetch_client(LENIENT, resolve=lambda host, _port: ["127.0.0.1"]) as client:
        fetched = fetch_feed(client, LENIENT, f"http://feeds.example.vn:{port}/feed", utcnow())
    assert fetched.status == 200 and fetched.body == RSS
    assert upstream.requests[-1].headers["Host"] == f"feeds.example.vn:{port}"


@pytest.mark.parametrize("behave", [trickle_head(0.1), trickle_body(0.1)])
def test_a_trickling_upstream_is_cut_off_at_the_total_deadline(behave):
    with HostilePeer(behave) as peer, fetch_client(LENIENT) as client:
        started = time.monotonic()
        fetched = fetch_feed(client, LENIENT, peer.url + "/feed", utcnow())
        elapsed = time.monotonic() - started
    assert fetched.error == "slower than 1 s"
    assert elapsed < 3  # a per-read timeout alone would wait 10,000 s


@pytest.mark.parametrize("behave", [trickle_head(0.1), trickle_body(0.1)])
def test_a_trickling_receiver_is_cut_off_at_the_delivery_deadline(behave):
    with HostilePeer(behave) as peer, delivery_client(LENIENT) as client:
        attempt = webhook_attempt(peer.url + "/in")
        started = time.monotonic()
        result = send_attempt(client, LENIENT, attempt, utcnow())
        elapsed = time.monotonic() - started
    assert result.status is None and "Timeout" in result.error
    assert elapsed < 3


def test_hub_verification_reads_a_bounded_answer():
    """A callback answering the challenge followed by endless bytes is not believed, and the
    hub stops reading after ANSWER_LIMIT."""
    with HostilePeer(endless_body()) as peer, delivery_client(LENIENT) as client:
        intent = Intent(1, "subscribe", "topic", peer.url + "/cb", 60, "", None)
        started = time.monotonic()
        assert not verify_subscriber_intent(client, LENIENT, intent)
        assert time.monotonic() - started < 3


def test_a_slow_upstream_holds_one_slot_not_the_batch(sources, upstream, db, ingest_settings):
    """Fetching claims the next due source as soon as a slot frees: every good source is
    fetched while the trickling one still holds its slot."""
    settings = ingest_settings.model_copy(update={"fetch_concurrency": 2, "fetch_per_host": 2})
    with HostilePeer(trickle_head(0.05)) as peer:
        slow = sources.add(peer.url + "/feed")
        good = [sources.add(upstream.serve(f"/good{n}", RSS_ONE_ITEM)) for n in range(12)]
        for source_id in [slow, *good]:
            sources.make_due(source_id, utcnow() - timedelta(minutes=1))
        outcomes = refresh_due_sources(db, settings, utcnow, random.Random(1))
    assert [o.source_id for o in outcomes][-1] == slow
    assert outcomes[-1].error == "slower than 2 s"
    assert {o.source_id for o in outcomes[:-1]} == set(good)
    assert all(len(o.new_ids) == 1 for o in outcomes[:-1])


def test_fetch_per_host_holds_back_only_that_host(sources, upstream, db, ingest_settings):
    settings = ingest_settings.model_copy(update={"fetch_concurrency": 3, "fetch_per_host": 1})
    with HostilePeer(trickle_head(0.05)) as peer:
        slow = [sources.add(f"{peer.url}/feed{n}") for n in range(3)]
        good = [sources.add(upstream.serve(f"/good{n}", RSS_ONE_ITEM)) for n in range(6)]
        for source_id in [*slow, *good]:
            sources.make_due(source_id, utcnow() - timedelta(minutes=1))
        outcomes = refresh_due_sources(db, settings, utcnow, random.Random(1))
    order = [o.source_id for o in outcomes]
    assert set(order[:6]) == set(good)  # the others went first, one at a time
    assert set(order[6:]) == set(slow)  # the slow host's, one after another


RSS_ONE_ITEM = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Sở</title><link>http://example.com/</link>
<description>d</description>
<item><title>Tin</title><link>http://example.com/a</link><guid>http://example.com/a</guid>
<pubDate>Thu, 26 Nov 2026 07:00:00 +0700</pubDate></item></channel></rss>"""


def test_a_preview_of_a_trickling_upstream_answers_in_time():
    with HostilePeer(trickle_head(0.1)) as peer:
        started = time.monotonic()
        with pytest.raises(UpstreamError, match="slower than 1 s"):
            preview_source(LENIENT, peer.url + "/feed", "thoi-su", {}, utcnow())
        assert time.monotonic() - started < 3


def test_a_trickling_smtp_server_is_hung_up_on():
    with HostilePeer(trickle_greeting(0.1), speaks_first=True) as peer:
        settings = LENIENT.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": peer.port})
        mail = replace(webhook_attempt(""), kind="email", url="dan@example.vn")
        started = time.monotonic()
        results = send_emails(settings, "key", [mail, replace(mail, delivery_id=2)])
        elapsed = time.monotonic() - started
    assert [r.status for r in results] == [None, None]
    assert all(r.error.startswith("SMTP server unreachable") for r in results)
    assert elapsed < 5  # 1 s a mail plus 1 s to connect, not a per-read timeout forever
