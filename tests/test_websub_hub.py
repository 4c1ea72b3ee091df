"""The built-in WebSub hub, one test per MUST of the W3C Recommendation that binds a hub
(the table in docs/decisions/0010-websub-hub.md names each test): subscription requests,
verification of intent, denial, leases, secrets and content distribution of our feeds, with
a real subscriber on 127.0.0.1 and the worker's own jobs (and the real worker, at the end)."""

import hashlib
import hmac
import json
import re
import signal
from datetime import timedelta
from urllib.parse import quote_plus, urlencode

import feedparser
import httpx
import pytest
from sqlalchemy import select, update

from feedsvc.models import Delivery, HubSubscription
from feedsvc.notify.deliver import announce_new_articles, deliver_due, verify_hub_intents
from feedsvc.notify.hub import claim_intents, record_verification, verify_subscriber_intent
from feedsvc.outbound import delivery_client
from feedsvc.text import utcnow
from tests.conftest import publish, start_worker
from tests.receiver import Receiver
from tests.waiting import wait_until

FEEDS = "http://feeds.example.vn/feeds"
TOPIC = f"{FEEDS}/thoi-su.rss"
HUB_LINK = '<http://feeds.example.vn/hub>; rel="hub"'


@pytest.fixture
def subscriber():
    with Receiver() as server:
        yield server


def subscribe(client, callback, topic=TOPIC, **extra):
    form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback, **extra}
    return client.post("/hub", data=form)


def unsubscribe(client, callback, topic=TOPIC, **extra):
    form = {"hub.mode": "unsubscribe", "hub.topic": topic, "hub.callback": callback, **extra}
    return client.post("/hub", data=form)


def subscriptions(db):
    with db.transaction() as session:
        return list(session.scalars(select(HubSubscription).order_by(HubSubscription.id)))


def push_round(api, db, settings, title, category="thoi-su"):
    """Publish an article and run the worker's announce and delivery jobs once."""
    publish(api, title, category=category)
    announce_new_articles(db, settings)
    deliver_due(db, settings)


def deliveries(api):
    return api.get("/api/v1/deliveries").get_json()["items"]


def make_due(db):
    with db.transaction() as session:
        session.execute(update(Delivery).values(next_attempt_at=utcnow()))


def signature(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# §3.1, §5.1, §5.1.2, §5.2: a request is accepted with 202, verified, then in force


def test_a_request_is_accepted_with_202_then_verified_before_it_counts(
    api, db, notify_settings, subscriber
):
    answer = subscribe(api, subscriber.url + "/cb")
    assert answer.status_code == 202 and answer.data == b""
    [pending] = subscriptions(db)
    assert not pending.active  # nothing before the verification of intent
    push_round(api, db, notify_settings, "Tin trước khi xác minh")
    assert subscriber.received == []
    assert verify_hub_intents(db, notify_settings) == 1
    assert subscriber.verifications[0]["hub.mode"] == "subscribe"
    assert subscriptions(db)[0].active
    push_round(api, db, notify_settings, "Tin sau khi xác minh")
    [push] = subscriber.at("/cb")
    assert [e.title for e in feedparser.parse(push.body).entries] == ["Tin sau khi xác minh"]


def test_the_answer_does_not_depend_on_verification(api, db, notify_settings, subscriber):
    subscriber.confirm = False  # this callback will refuse
    assert subscribe(api, subscriber.url + "/refuses").status_code == 202
    unknown = f"{FEEDS}/khong-co.rss"  # this topic will be denied
    assert subscribe(api, subscriber.url + "/denied", topic=unknown).status_code == 202
    assert subscriber.raw_queries == []  # no GET was made before answering
    assert verify_hub_intents(db, notify_settings) == 2
    assert {v["hub.mode"] for v in subscriber.verifications} == {"subscribe", "denied"}


def test_unknown_parameters_are_ignored(api, db, notify_settings, subscriber):
    extra = {"hub.foo": "bar", "utm_source": "x", "hub.lease_seconds": "7200"}
    assert subscribe(api, subscriber.url + "/cb", **extra).status_code == 202
    verify_hub_intents(db, notify_settings)
    [check] = subscriber.verifications
    assert set(check) == {"hub.mode", "hub.topic", "hub.challenge", "hub.lease_seconds"}
    assert subscriptions(db)[0].active


def test_bad_requests_are_refused_with_the_reason_in_plain_text(api, notify_settings, subscriber):
    too_long = subscribe(api, subscriber.url + "/cb", **{"hub.secret": "x" * 200})
    assert too_long.status_code == 400
    assert too_long.content_type == "text/plain; charset=utf-8"
    assert too_long.data.decode() == "hub.secret must be less than 200 bytes\n"
    assert subscribe(api, subscriber.url + "/cb", **{"hub.secret": "x" * 199}).status_code == 202
    bad_mode = api.post("/hub", data={"hub.mode": "publish"})
    assert bad_mode.status_code == 400
    assert bad_mode.data.decode() == "hub.mode must be subscribe or unsubscribe\n"
    no_topic = api.post("/hub", data={"hub.mode": "subscribe", "hub.callback": subscriber.url})
    assert no_topic.data.decode() == "hub.topic is missing or too long\n"
    assert subscribe(api, "").data.decode() == "hub.callback is missing or too long\n"
    assert subscribe(api, "ftp://x/cb").status_code == 400
    assert subscribe(api, subscriber.url, **{"hub.lease_seconds": "soon"}).status_code == 400
    not_a_form = api.post("/hub", json={"hub.mode": "subscribe"})
    assert not_a_form.status_code == 415
    assert not_a_form.data.decode() == (
        "a subscription request is a form: Content-Type application/x-www-form-urlencoded\n"
    )


# §5.1.1: the callback's own query string, and percent-encoded unreserved characters


def test_verification_keeps_the_callback_query_string_and_appends_with_ampersand(
    api, db, notify_settings, subscriber
):
    subscribe(api, subscriber.url + "/cb?id=7")
    subscribe(api, subscriber.url + "/cb2?hub.challenge=theirs&lang=vi")  # names like ours
    assert verify_hub_intents(db, notify_settings) == 2
    first, second = subscriber.raw_queries
    challenge = re.search(r"hub\.challenge=([^&]+)", first)[1]
    assert first == (
        f"id=7&hub.mode=subscribe&hub.topic={quote_plus(TOPIC)}"
        f"&hub.challenge={challenge}&hub.lease_seconds={notify_settings.hub_lease_seconds}"
    )
    assert second.startswith("hub.challenge=theirs&lang=vi&hub.mode=subscribe&")
    assert [s.active for s in subscriptions(db)] == [True, True]  # ours was echoed


def test_unreserved_characters_of_topic_and_callback_are_decoded(
    api, db, notify_settings, subscriber
):
    topic = f"{FEEDS}/thoi%2Dsu.rss"
    callback = subscriber.url + "/c%62?id=%37&next=%2Fa"  # %2F is reserved: it stays
    assert subscribe(api, callback, topic=topic).status_code == 202
    verify_hub_intents(db, notify_settings)
    [check] = subscriber.verifications
    assert check["hub.topic"] == TOPIC  # a topic of ours, not denied
    assert subscriber.raw_queries[0].startswith("id=7&next=%2Fa&hub.mode=subscribe&")
    [subscription] = subscriptions(db)
    assert (subscription.topic, subscription.callback) == (
        TOPIC,
        subscriber.url + "/cb?id=7&next=%2Fa",
    )
    # the same subscription, however it is spelled
    assert unsubscribe(api, subscriber.url + "/cb?id=7&next=%2Fa").status_code == 202
    verify_hub_intents(db, notify_settings)
    assert [s.active for s in subscriptions(db)] == [False]


# §5.1: renewals and unsubscriptions override the state once verified, not before


def test_a_renewal_overrides_lease_and_secret_once_verified(api, db, notify_settings, subscriber):
    subscribe(api, subscriber.url + "/cb", **{"hub.secret": "cũ", "hub.lease_seconds": "7200"})
    verify_hub_intents(db, notify_settings)
    renewal = {"hub.secret": "mới", "hub.lease_seconds": "86400"}
    assert subscribe(api, subscriber.url + "/cb", **renewal).status_code == 202
    push_round(api, db, notify_settings, "Tin 1")  # the renewal is not verified yet
    assert subscriptions(db)[0].lease_seconds == 7200
    verify_hub_intents(db, notify_settings)
    assert subscriber.verifications[-1]["hub.lease_seconds"] == "86400"
    assert subscriptions(db)[0].lease_seconds == 86400
    push_round(api, db, notify_settings, "Tin 2")
    subscribe(api, subscriber.url + "/cb")  # a renewal without a secret
    verify_hub_intents(db, notify_settings)
    push_round(api, db, notify_settings, "Tin 3")
    first, second, third = subscriber.at("/cb")
    assert first.headers["x-hub-signature"] == signature("cũ", first.body)
    assert second.headers["x-hub-signature"] == signature("mới", second.body)
    assert "x-hub-signature" not in third.headers
    assert len(subscriptions(db)) == 1


def test_a_renewal_that_fails_verification_changes_nothing(api, db, notify_settings, subscriber):
    subscribe(api, subscriber.url + "/cb", **{"hub.secret": "cũ", "hub.lease_seconds": "7200"})
    verify_hub_intents(db, notify_settings)
    [before] = subscriptions(db)
    subscriber.confirm = False  # the subscriber did not ask for this one
    subscribe(api, subscriber.url + "/cb", **{"hub.secret": "kẻ gian", "hub.lease_seconds": "9000"})
    verify_hub_intents(db, notify_settings)
    [after] = subscriptions(db)
    assert (after.active, after.secret, after.lease_seconds, after.expires_at) == (
        True,
        "cũ",
        7200,
        before.expires_at,
    )
    push_round(api, db, notify_settings, "Tin")
    [push] = subscriber.at("/cb")
    assert push.headers["x-hub-signature"] == signature("cũ", push.body)


def test_a_request_made_during_a_verification_is_verified_on_its_own(
    api, db, notify_settings, subscriber
):
    subscribe(api, subscriber.url + "/cb", **{"hub.secret": "một"})
    with db.transaction() as session:
        [first] = claim_intents(session, notify_settings, utcnow(), 10)
    subscribe(api, subscriber.url + "/cb", **{"hub.secret": "hai"})  # while it is verified
    asked_at = utcnow()
    with delivery_client(notify_settings) as client:
        assert verify_subscriber_intent(client, notify_settings, first)
    with db.transaction() as session:
        record_verification(session, first, True, asked_at)
    [subscription] = subscriptions(db)
    assert not subscription.active and subscription.intent == "subscribe"  # still to verify
    verify_hub_intents(db, notify_settings)
    [subscription] = subscriptions(db)
    assert subscription.active and subscription.secret == "hai"


def test_unsubscribe_is_verified_then_stops_pushes(api, db, notify_settings, subscriber):
    subscribe(api, subscriber.url + "/cb")
    verify_hub_intents(db, notify_settings)
    assert unsubscribe(api, subscriber.url + "/cb").status_code == 202
    push_round(api, db, notify_settings, "Tin trước khi xác minh")  # not verified yet: sent
    assert len(subscriber.at("/cb")) == 1
    subscriber.confirm = False  # an unsubscription the subscriber did not ask for
    verify_hub_intents(db, notify_settings)
    assert subscriptions(db)[0].active
    subscriber.confirm = True
    unsubscribe(api, subscriber.url + "/cb")
    verify_hub_intents(db, notify_settings)
    assert subscriber.verifications[-1]["hub.mode"] == "unsubscribe"
    assert not subscriptions(db)[0].active
    push_round(api, db, notify_settings, "Tin sau khi hủy")
    assert len(subscriber.at("/cb")) == 1


def test_the_lease_of_an_unsubscription_is_ignored(api, db, notify_settings, subscriber):
    subscribe(api, subscriber.url + "/cb", **{"hub.lease_seconds": "7200"})
    verify_hub_intents(db, notify_settings)
    answer = unsubscribe(api, subscriber.url + "/cb", **{"hub.lease_seconds": "soon"})
    assert answer.status_code == 202
    subscriber.confirm = False
    verify_hub_intents(db, notify_settings)
    assert "hub.lease_seconds" not in subscriber.verifications[-1]
    assert subscriptions(db)[0].lease_seconds == 7200


# §5.2: denial


def test_a_denial_is_told_at_the_callback_keeping_its_query(api, db, notify_settings, subscriber):
    topic = f"{FEEDS}/khong-co.rss"
    assert subscribe(api, subscriber.url + "/cb?id=7", topic=topic).status_code == 202
    verify_hub_intents(db, notify_settings)
    assert subscriber.raw_queries == [
        "id=7&"
        + urlencode(
            {
                "hub.mode": "denied",
                "hub.topic": topic,
                "hub.reason": "unknown topic: not one of our feeds",
            }
        )
    ]
    assert subscriptions(db) == []


# §5.3, §5.3.1: verification of intent


def test_verification_carries_mode_topic_lease_and_a_fresh_random_challenge(
    api, db, notify_settings, subscriber
):
    for n in range(3):
        subscribe(api, f"{subscriber.url}/cb{n}", **{"hub.lease_seconds": "7200"})
    asked_after = utcnow()
    verify_hub_intents(db, notify_settings)
    challenges = [v["hub.challenge"] for v in subscriber.verifications]
    assert len(set(challenges)) == 3 and min(map(len, challenges)) >= 32
    for check in subscriber.verifications:
        assert (check["hub.mode"], check["hub.topic"]) == ("subscribe", TOPIC)
        assert check["hub.lease_seconds"] == "7200"
    for subscription in subscriptions(db):  # the lease runs from the verification request
        assert asked_after + timedelta(seconds=7200) <= subscription.expires_at
        assert subscription.expires_at <= utcnow() + timedelta(seconds=7200)


@pytest.mark.parametrize("status", [200, 302, 404, 500])
def test_verification_fails_unless_a_2xx_echoes_the_challenge_exactly(
    api, db, notify_settings, subscriber, status
):
    def answer(challenge):
        echo = challenge.encode()
        return (status, echo) if status != 200 else (200, echo + b"\n")

    subscriber.verify_answer = answer
    subscribe(api, subscriber.url + "/cb")
    assert verify_hub_intents(db, notify_settings) == 1
    assert len(subscriber.raw_queries) == 1  # a redirect is not followed
    assert subscriptions(db) == []


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
    assert len(deliveries(api)) == 2


# §7, §7.1, §8.3: content distribution


def test_pushes_go_to_the_exact_callback_with_its_query(api, db, notify_settings, subscriber):
    subscribe(api, subscriber.url + "/cb?id=7&lang=vi")
    verify_hub_intents(db, notify_settings)
    push_round(api, db, notify_settings, "Tin")
    [push] = subscriber.received
    assert push.path == "/cb?id=7&lang=vi"
    assert feedparser.parse(push.body).entries[0].title == "Tin"  # the body is the payload


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_pushes_carry_the_topic_content_type_and_hub_and_self_links(
    api, db, notify_settings, subscriber, fmt
):
    topic = f"{FEEDS}/thoi-su.{fmt}"
    subscribe(api, subscriber.url + "/cb", topic=topic)
    verify_hub_intents(db, notify_settings)
    push_round(api, db, notify_settings, "Tin")
    [push] = subscriber.at("/cb")
    served = api.get(f"/feeds/thoi-su.{fmt}")
    assert push.headers["content-type"] == served.headers["content-type"]
    assert push.headers["link"] == f'{HUB_LINK}, <{topic}>; rel="self"'


def test_json_pushes_hold_the_whole_topic_rss_and_atom_the_new_entries(
    api, db, notify_settings, subscriber
):
    publish(api, "Tin đã báo trước")
    announce_new_articles(db, notify_settings)
    for fmt in ("rss", "atom", "json"):
        subscribe(api, f"{subscriber.url}/{fmt}", topic=f"{FEEDS}/thoi-su.{fmt}")
    verify_hub_intents(db, notify_settings)
    push_round(api, db, notify_settings, "Tin mới")
    [json_push] = subscriber.at("/json")
    assert json.loads(json_push.body) == api.get("/feeds/thoi-su.json").get_json()
    for fmt in ("rss", "atom"):
        [push] = subscriber.at(f"/{fmt}")
        assert [e.title for e in feedparser.parse(push.body).entries] == ["Tin mới"]


def test_pushes_with_a_secret_are_signed_over_the_body(api, db, notify_settings, subscriber):
    secret = "bí mật"
    subscribe(api, subscriber.url + "/signed", **{"hub.secret": secret})
    subscribe(api, subscriber.url + "/plain")
    verify_hub_intents(db, notify_settings)
    push_round(api, db, notify_settings, "Tin nóng về thi đua")
    [signed] = subscriber.at("/signed")
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", signed.headers["x-hub-signature"])
    assert signed.headers["x-hub-signature"] == signature(secret, signed.body)
    [plain] = subscriber.at("/plain")
    assert "x-hub-signature" not in plain.headers


def test_only_a_2xx_is_success_and_its_body_is_ignored(api, db, notify_settings, subscriber):
    subscribe(api, subscriber.url + "/cb")
    verify_hub_intents(db, notify_settings)
    subscriber.status = 302  # a redirect is a failure, not followed
    push_round(api, db, notify_settings, "Tin")
    [failing] = deliveries(api)
    assert (failing["state"], failing["last_status"]) == ("pending", 302)
    subscriber.status, subscriber.answer = 202, b"error: not ok"
    make_due(db)
    deliver_due(db, notify_settings)
    [delivered] = deliveries(api)
    assert (delivered["state"], delivered["last_status"]) == ("delivered", 202)
    assert len(subscriber.at("/cb")) == 2


def test_a_failing_subscriber_keeps_its_lease_and_gets_the_next_update(
    api, db, notify_settings, subscriber
):
    subscribe(api, subscriber.url + "/cb")
    verify_hub_intents(db, notify_settings)
    subscriber.status = 500
    push_round(api, db, notify_settings, "Tin 1")
    for _ in range(notify_settings.delivery_max_attempts - 1):
        make_due(db)
        deliver_due(db, notify_settings)
    assert [d["state"] for d in deliveries(api)] == ["dead"]  # the hub's limit for that push
    assert subscriptions(db)[0].active
    subscriber.status = 200
    push_round(api, db, notify_settings, "Tin 2")
    assert [d["state"] for d in deliveries(api)] == ["delivered", "dead"]
    assert feedparser.parse(subscriber.at("/cb")[-1].body).entries[0].title == "Tin 2"


# The whole path: the app over real HTTP, the real worker, a real subscriber


@pytest.mark.slow
def test_through_the_real_worker_a_callback_keeps_its_query(
    live_server, database_url, db, tmp_path, subscriber
):
    live_server.store.category("Thời sự")
    topic = f"{live_server.base_url}/feeds/thoi-su.atom"
    callback = subscriber.url + "/cb?id=7"
    form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback}
    answer = httpx.post(f"{live_server.base_url}/hub", data={**form, "hub.secret": "s"})
    assert answer.status_code == 202
    denied = {**form, "hub.topic": f"{live_server.base_url}/feeds/khong-co.atom"}
    assert httpx.post(f"{live_server.base_url}/hub", data=denied).status_code == 202
    log = tmp_path / "worker.log"
    worker = start_worker(database_url, log, base_url=live_server.base_url, notify_tick_seconds="1")
    try:
        assert wait_until(lambda: len(subscriber.raw_queries) == 2, 30), log.read_text()
        modes = sorted(re.search(r"&hub\.mode=(\w+)", q)[1] for q in subscriber.raw_queries)
        assert modes == ["denied", "subscribe"]
        assert all(q.startswith("id=7&hub.mode=") for q in subscriber.raw_queries)
        assert wait_until(lambda: any(s.active for s in subscriptions(db)), 30), log.read_text()
        live_server.store.article("thoi-su", "Tin qua worker")
        assert wait_until(lambda: subscriber.at("/cb?id=7"), 30), log.read_text()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    [push] = subscriber.at("/cb?id=7")
    assert push.headers["x-hub-signature"] == signature("s", push.body)
    assert feedparser.parse(push.body).entries[0].title == "Tin qua worker"
