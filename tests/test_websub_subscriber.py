"""The WebSub subscriber: subscribe at the hub a feed names, confirm only what we asked for,
store only correctly signed pushes, poll less while pushed, renew before the lease ends."""

import random
from datetime import timedelta

import pytest

from feedsvc.ingest.refresh import refresh_source
from feedsvc.models import Source
from feedsvc.text import utcnow
from tests.fixed import MIDDLE, FixedRandom
from tests.ingest_helpers import Sources
from tests.waiting import wait_until
from tests.websub_hub import Hub

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>Sở Tư pháp</title><link>http://stp.example.vn/</link><description>d</description>
<atom:link rel="hub" href="{hub}"/><atom:link rel="self" href="{self}"/>
{items}</channel></rss>"""
ITEM = "<item><title>{title}</title><guid>{guid}</guid><link>http://stp.example.vn/{guid}</link></item>"


def feed(hub, self_url, *items):
    return FEED.format(
        hub=hub,
        self=self_url,
        items="".join(ITEM.format(title=title, guid=guid) for guid, title in items),
    )


@pytest.fixture
def pushed(live_server, upstream):
    live_server.store.category("Thời sự")
    sources = Sources(live_server.store.database, live_server.store.settings)
    return sources


def subscribe(sources, upstream, hub, **serve_options):
    """Serve a feed naming the hub, add it as a source, poll it: the hub verifies us."""
    self_url = upstream.base_url + "/f"
    upstream.serve("/f", feed(hub.url, self_url, ("1", "Tin đầu")), **serve_options)
    source_id = sources.add(self_url)
    assert len(sources.refresh(source_id).new_ids) == 1
    assert hub.verified.wait(10)
    return source_id, self_url


def wait_active(sources, source_id, seconds=10):
    answered = ("active", "failed", "denied")
    if not wait_until(lambda: sources.get(source_id).websub_state in answered, seconds):
        raise AssertionError("the subscription was not verified in time")
    return sources.get(source_id)


def test_subscribe_verify_and_store_signed_pushes(pushed, upstream):
    with Hub() as hub:
        source_id, self_url = subscribe(pushed, upstream, hub)
        [subscription] = hub.subscriptions
        assert subscription.topic == self_url and subscription.verified
        assert len(subscription.secret) == 64
        source = wait_active(pushed, source_id)
        assert source.websub_state == "active"
        assert source.websub_lease_expires_at > utcnow() + timedelta(days=6)
        # a push with a new item is stored at once
        body = feed(hub.url, self_url, ("2", "Tin đẩy ngay"), ("1", "Tin đầu")).encode()
        assert hub.push(subscription, body) == 202
        assert [a.title for a in pushed.articles(source_id)] == ["Tin đầu", "Tin đẩy ngay"]
        # a forged push is acknowledged and ignored
        forged = feed(hub.url, self_url, ("3", "Tin giả")).encode()
        assert hub.push(subscription, forged, secret="not-the-secret") == 202
        assert "Tin giả" not in [a.title for a in pushed.articles(source_id)]
        # a verification for a topic we never asked for is refused
        assert not hub.verify(subscription, topic="http://evil.example/feed")
        # pushed: the safety-net poll comes much later than the 15-minute interval
        now = utcnow()
        pushed.refresh(source_id, at=now, rng=FixedRandom(MIDDLE))
        poll = timedelta(minutes=pushed.settings.websub_poll_minutes)
        assert pushed.get(source_id).next_fetch_at == now + poll
        assert len(hub.subscriptions) == 1  # no new subscription while the lease runs


def test_pushes_follow_the_announcement_rule(pushed, upstream):
    """The poll that subscribed was the baseline; a pushed new entry is announced, a pushed
    entry with an old date is stored unannounced, as after a poll."""
    with Hub() as hub:
        source_id, self_url = subscribe(pushed, upstream, hub)
        [subscription] = hub.subscriptions
        wait_active(pushed, source_id)
        old = ITEM.format(title="Tin cũ", guid="cu").replace(
            "</item>", "<pubDate>Fri, 26 Mar 2021 10:00:00 +0700</pubDate></item>"
        )
        body = feed(hub.url, self_url, ("2", "Tin đẩy ngay"), ("1", "Tin đầu"))
        assert (
            hub.push(subscription, body.replace("</channel>", old + "</channel>").encode()) == 202
        )
        told = {a.title: a.announced_at is not None for a in pushed.articles(source_id)}
        assert told == {"Tin đầu": True, "Tin đẩy ngay": False, "Tin cũ": True}
        source = pushed.get(source_id)
        assert (source.unannounced_baseline, source.unannounced_old) == (1, 1)


def test_api_shows_the_subscription(pushed, upstream, live_server):
    import json
    import urllib.request

    from feedsvc.tokens import create_token

    with Hub() as hub:
        source_id, _ = subscribe(pushed, upstream, hub)
        wait_active(pushed, source_id)
    with pushed.database.transaction() as session:
        token = create_token(session, "t", utcnow())[1]
    request = urllib.request.Request(
        f"{live_server.base_url}/api/v1/sources/{source_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request) as response:
        websub = json.load(response)["websub"]
    assert websub["state"] == "active" and websub["hub"] == hub.url


def test_unknown_callbacks_are_gone(pushed, upstream, live_server):
    import urllib.request

    with Hub() as hub:
        subscribe(pushed, upstream, hub)
        [subscription] = hub.subscriptions
        wrong = subscription.callback.rsplit("/", 1)[0] + "/wrong-key"
        request = urllib.request.Request(wrong, data=b"<rss/>", method="POST")
        with pytest.raises(urllib.error.HTTPError) as gone:
            urllib.request.urlopen(request, timeout=5)
        gone.value.close()
        assert gone.value.code == 410


def test_short_lease_is_renewed_by_an_earlier_poll(pushed, upstream):
    with Hub(lease_seconds=2 * 3600) as hub:
        # with an ETag: the safety-net polls are answered 304, and must renew all the same
        source_id, _ = subscribe(pushed, upstream, hub, headers={"ETag": '"v1"'})
        wait_active(pushed, source_id)
        pushed.refresh(source_id, at=utcnow(), rng=FixedRandom(MIDDLE))
        source = pushed.get(source_id)
        # polled again before the lease ends (an hour before), not in six hours
        assert source.next_fetch_at == source.websub_lease_expires_at - timedelta(hours=1)
        with pushed.database.transaction() as session:  # that poll comes: the lease is near
            session.get(Source, source_id).websub_lease_expires_at = utcnow() + timedelta(
                minutes=30
            )
        hub.verified.clear()
        outcome = refresh_source(
            pushed.database, pushed.settings, source_id, utcnow, random.Random(1)
        )
        assert outcome.status == 304
        assert hub.verified.wait(10)
        assert len(hub.subscriptions) == 2 and hub.subscriptions[1].verified
