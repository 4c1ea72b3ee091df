"""The built-in WebSub hub: subscription requests, verification of intent, denial of unknown
topics, secrets and leases, and signed content distribution of our feeds."""

import hashlib
import hmac
from datetime import timedelta

import feedparser
import pytest
from sqlalchemy import select, update

from feedsvc.models import HubSubscription
from feedsvc.notify.deliver import announce_new_articles, deliver_due, verify_hub_intents
from feedsvc.text import utcnow
from tests.conftest import publish
from tests.receiver import Receiver


@pytest.fixture
def subscriber():
    with Receiver() as server:
        yield server


def subscribe(client, callback, topic="http://feeds.example.vn/feeds/thoi-su.rss", **extra):
    form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback, **extra}
    return client.post("/hub", data=form)


def subscriptions(db):
    with db.transaction() as session:
        return list(session.scalars(select(HubSubscription)))


def test_subscribe_verify_then_receive_signed_pushes(api, db, notify_settings, subscriber):
    secret = "bí mật"
    answer = subscribe(api, subscriber.url + "/cb", **{"hub.secret": secret})
    assert answer.status_code == 202
    assert verify_hub_intents(db, notify_settings) == 1
    [check] = subscriber.verifications
    assert check["hub.mode"] == "subscribe" and check["hub.challenge"]
    assert check["hub.topic"] == "http://feeds.example.vn/feeds/thoi-su.rss"
    assert check["hub.lease_seconds"] == str(notify_settings.hub_lease_seconds)
    [subscription] = subscriptions(db)
    assert subscription.active and subscription.expires_at > utcnow() + timedelta(days=9)
    publish(api, "Tin nóng về thi đua")
    publish(api, "Tin kinh tế", category="kinh-te")  # not this topic
    announce_new_articles(db, notify_settings)
    deliver_due(db, notify_settings)
    [push] = subscriber.at("/cb")
    assert push.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert push.headers["link"] == (
        '<http://feeds.example.vn/hub>; rel="hub", '
        '<http://feeds.example.vn/feeds/thoi-su.rss>; rel="self"'
    )
    expected = hmac.new(secret.encode(), push.body, hashlib.sha256).hexdigest()
    assert push.headers["x-hub-signature"] == f"sha256={expected}"
    assert feedparser.parse(push.body).entries[0].title == "Tin nóng về thi đua"


def test_a_callback_that_does_not_echo_is_not_subscribed(api, db, notify_settings, subscriber):
    subscriber.confirm = False
    subscribe(api, subscriber.url + "/cb")
    verify_hub_intents(db, notify_settings)
    assert subscriptions(db) == []
    publish(api, "Tin")
    announce_new_articles(db, notify_settings)
    assert deliver_due(db, notify_settings) == 0
    dead = api.get("/api/v1/deliveries?state=dead").get_json()["items"]
    assert {d["last_error"] for d in dead} <= {"the WebSub subscription has ended"}


def test_unknown_topics_are_denied_at_the_callback(api, db, notify_settings, subscriber):
    topic = "http://feeds.example.vn/feeds/khong-co.rss"
    assert subscribe(api, subscriber.url + "/cb", topic=topic).status_code == 202
    verify_hub_intents(db, notify_settings)
    [denial] = subscriber.verifications
    assert denial == {
        "hub.mode": "denied",
        "hub.topic": topic,
        "hub.reason": "unknown topic: not one of our feeds",
    }
    assert subscriptions(db) == []


def test_every_format_and_the_all_feed_are_topics(api, db, notify_settings, subscriber):
    for fmt in ("atom", "json"):
        subscribe(api, f"{subscriber.url}/{fmt}", topic=f"http://feeds.example.vn/feeds/all.{fmt}")
    verify_hub_intents(db, notify_settings)
    publish(api, "Giá lúa tăng", category="kinh-te")
    announce_new_articles(db, notify_settings)
    deliver_due(db, notify_settings)
    assert subscriber.at("/atom")[0].headers["content-type"].startswith("application/atom+xml")
    assert "Giá lúa tăng".encode() in subscriber.at("/json")[0].body
    assert "x-hub-signature" not in subscriber.at("/json")[0].headers  # no secret given


def test_leases_have_bounds_and_expire(api, db, notify_settings, subscriber):
    subscribe(api, subscriber.url + "/short", **{"hub.lease_seconds": "10"})
    subscribe(api, subscriber.url + "/long", **{"hub.lease_seconds": "999999999"})
    verify_hub_intents(db, notify_settings)
    leases = {v["hub.lease_seconds"] for v in subscriber.verifications}
    assert leases == {
        str(notify_settings.hub_lease_min_seconds),
        str(notify_settings.hub_lease_max_seconds),
    }
    publish(api, "Tin")
    announce_new_articles(db, notify_settings)  # two pushes to make
    with db.transaction() as session:  # both leases run out before they are sent
        session.execute(update(HubSubscription).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert deliver_due(db, notify_settings) == 0
    dead = api.get("/api/v1/deliveries?state=dead").get_json()["items"]
    assert [d["last_error"] for d in dead] == ["the WebSub subscription has ended"] * 2
    publish(api, "Tin sau khi hết hạn")
    announce_new_articles(db, notify_settings)  # expired subscriptions get nothing new
    assert len(api.get("/api/v1/deliveries").get_json()["items"]) == 2


def test_unsubscribe_is_verified_then_stops_pushes(api, db, notify_settings, subscriber):
    subscribe(api, subscriber.url + "/cb")
    verify_hub_intents(db, notify_settings)
    form = {
        "hub.mode": "unsubscribe",
        "hub.topic": "http://feeds.example.vn/feeds/thoi-su.rss",
        "hub.callback": subscriber.url + "/cb",
    }
    assert api.post("/hub", data=form).status_code == 202
    verify_hub_intents(db, notify_settings)
    assert subscriber.verifications[-1]["hub.mode"] == "unsubscribe"
    assert not subscriptions(db)[0].active
    publish(api, "Tin")
    announce_new_articles(db, notify_settings)
    assert deliver_due(db, notify_settings) == 0
    dead = api.get("/api/v1/deliveries?state=dead").get_json()["items"]
    assert {d["last_error"] for d in dead} <= {"the WebSub subscription has ended"}


def test_bad_requests_are_refused_with_the_reason(api, notify_settings, subscriber):
    too_long = subscribe(api, subscriber.url + "/cb", **{"hub.secret": "x" * 200})
    assert too_long.status_code == 400
    assert too_long.data.decode() == "hub.secret must be less than 200 bytes\n"
    assert subscribe(api, subscriber.url + "/cb", **{"hub.secret": "x" * 199}).status_code == 202
    bad_mode = api.post("/hub", data={"hub.mode": "publish"})
    assert bad_mode.status_code == 400
    assert subscribe(api, "ftp://x/cb").status_code == 400
    assert subscribe(api, subscriber.url, **{"hub.lease_seconds": "soon"}).status_code == 400
