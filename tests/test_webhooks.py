"""Webhooks: filtered fan-out, Standard Webhooks signatures, retries with one id, backoff,
dead letters and retry by hand, disabling after a streak, the private-address guard."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from feedsvc.models import Delivery
from feedsvc.notify.deliver import announce_new_articles, deliver_due
from feedsvc.notify.outbox import announce_due
from feedsvc.text import utcnow
from feedsvc.web import create_app
from tests.conftest import publish
from tests.fixed import MIDDLE, FixedRandom, frozen
from tests.receiver import Receiver


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def add_webhook(api, url, **filters):
    response = api.post("/api/v1/webhooks", json={"url": url, **filters})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def run_jobs(db, settings, clock=utcnow):
    announce_new_articles(db, settings, clock=clock)
    return deliver_due(db, settings, rng=FixedRandom(MIDDLE), clock=clock)


def make_all_due(db):
    with db.transaction() as session:
        session.execute(update(Delivery).values(next_attempt_at=utcnow()))


def test_signed_deliveries_to_the_endpoints_that_asked(api, db, notify_settings, receiver):
    every = add_webhook(api, receiver.url + "/every")
    economy = add_webhook(api, receiver.url + "/economy", categories=["kinh-te"])
    emulation = add_webhook(api, receiver.url + "/emulation", keywords=["THI DUA"])
    assert every["secret"].startswith("whsec_")
    assert "secret" not in api.get(f"/api/v1/webhooks/{every['id']}").get_json()
    article = publish(api, "Phát động phong trào thi đua yêu nước")
    publish(api, "Giá lúa tăng", category="kinh-te")
    assert run_jobs(db, notify_settings) == 4
    assert len(receiver.at("/every")) == 2
    assert [r.body for r in receiver.at("/economy")] and len(receiver.at("/economy")) == 1
    [received] = receiver.at("/emulation")
    event = Webhook(emulation["secret"]).verify(received.body, received.headers)
    assert event["type"] == "article.published"
    assert event["data"]["title"] == "Phát động phong trào thi đua yêu nước"
    assert event["data"]["guid"] == article["guid"]
    assert event["data"]["feeds"]["rss"] == "http://feeds.example.vn/feeds/thoi-su.rss"
    assert received.headers["webhook-id"].startswith("msg_")
    with pytest.raises(Exception, match="signature"):
        Webhook(economy["secret"]).verify(received.body, received.headers)  # not its secret
    assert run_jobs(db, notify_settings) == 0  # announced once, delivered once


def test_updates_and_reruns_are_not_announced_again(api, db, notify_settings, receiver):
    add_webhook(api, receiver.url + "/hook")
    article = publish(api, "Tin một")
    run_jobs(db, notify_settings)
    api.patch(f"/api/v1/articles/{article['id']}", json={"title": "Tin một (sửa)"})
    with db.transaction() as session:  # a fan-out rerun (after a crash) adds nothing
        assert announce_due(session, notify_settings, utcnow()) == 0
    assert run_jobs(db, notify_settings) == 0
    assert len(receiver.at("/hook")) == 1


def test_scheduled_articles_are_announced_when_their_time_comes(api, db, notify_settings):
    with Receiver() as receiver:
        add_webhook(api, receiver.url + "/hook")
        publish(api, "Hẹn giờ", published_at=(utcnow() + timedelta(hours=2)).isoformat())
        assert run_jobs(db, notify_settings) == 0
        with db.transaction() as session:
            assert announce_due(session, notify_settings, utcnow() + timedelta(hours=3)) == 1
        make_all_due(db)  # made at the simulated time: due from then
        deliver_due(db, notify_settings)
        assert len(receiver.at("/hook")) == 1


def test_retries_keep_their_id_back_off_then_dead_letter_and_retry_by_hand(
    api, db, notify_settings
):
    with Receiver(status=500) as receiver:
        add_webhook(api, receiver.url + "/hook")
        publish(api, "Tin một")
        now = utcnow()
        run_jobs(db, notify_settings, frozen(now))
        with db.transaction() as session:
            delivery = session.scalar(select(Delivery))
            assert delivery.attempts == 1 and delivery.state == "pending"
            assert delivery.last_error == "HTTP 500 Internal Server Error"
            assert delivery.next_attempt_at == now + timedelta(minutes=1)  # jitter ± 20% at 0
        for _ in range(2):
            make_all_due(db)
            deliver_due(db, notify_settings)
        ids = {r.headers["webhook-id"] for r in receiver.received}
        assert len(receiver.received) == 3 and len(ids) == 1  # every attempt, one id
        dead = api.get("/api/v1/deliveries?state=dead").get_json()["items"]
        assert len(dead) == 1 and dead[0]["attempts"] == 3
        receiver.status = 200
        retried = api.post(f"/api/v1/deliveries/{dead[0]['id']}/retry").get_json()
        assert retried["state"] == "pending"
        deliver_due(db, notify_settings)
        assert {r.headers["webhook-id"] for r in receiver.received} == ids
        assert (
            api.get("/api/v1/deliveries?state=delivered").get_json()["items"][0]["id"]
            == (dead[0]["id"])
        )


def test_an_endpoint_failing_for_a_long_streak_is_disabled(api, db, notify_settings):
    settings = notify_settings.model_copy(update={"webhook_max_failures": 2})
    with Receiver(status=503) as receiver:
        endpoint = add_webhook(api, receiver.url + "/hook")
        publish(api, "Tin một")
        publish(api, "Tin hai")
        run_jobs(db, settings)
    disabled = api.get(f"/api/v1/webhooks/{endpoint['id']}").get_json()
    assert not disabled["enabled"]
    assert disabled["disabled_reason"] == "2 failed deliveries in a row"
    enabled = api.patch(f"/api/v1/webhooks/{endpoint['id']}", json={"enabled": True}).get_json()
    assert enabled["enabled"] and enabled["consecutive_failures"] == 0


def test_bad_endpoints_get_clear_errors(api, client, notify_settings, db):
    assert client.post("/api/v1/webhooks", json={}).status_code == 401
    assert client.get("/api/v1/deliveries").status_code == 401
    strict = create_app(notify_settings.model_copy(update={"allow_private_urls": False}))
    strict_client = strict.test_client()
    strict_client.environ_base["HTTP_AUTHORIZATION"] = api.environ_base["HTTP_AUTHORIZATION"]
    refused = strict_client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert refused.status_code == 422 and "non-public address" in refused.get_json()["error"]
    strict.extensions["feedsvc.db"].dispose()
    unknown = api.post("/api/v1/webhooks", json={"url": "http://x.vn/h", "categories": ["x"]})
    assert unknown.status_code == 422 and unknown.get_json()["fields"] == {"categories": "x"}
    assert api.get("/api/v1/deliveries?state=lost").status_code == 422
    assert api.post("/api/v1/deliveries/99/retry").status_code == 404
    assert json.loads(api.get("/api/v1/webhooks").data)["items"] == []


def test_a_paused_endpoint_gets_its_deliveries_once_resumed(api, db, notify_settings, receiver):
    endpoint = add_webhook(api, receiver.url + "/hook")
    publish(api, "Tin khi đang tạm dừng")
    announce_new_articles(db, notify_settings)
    api.patch(f"/api/v1/webhooks/{endpoint['id']}", json={"enabled": False})
    assert deliver_due(db, notify_settings) == 0 and receiver.received == []
    with db.sessions() as session:
        delivery = session.scalar(select(Delivery))
        assert delivery.state == "pending" and delivery.attempts == 0  # parked, not failed
        assert delivery.next_attempt_at > utcnow() + timedelta(minutes=50)
    api.patch(f"/api/v1/webhooks/{endpoint['id']}", json={"enabled": True})
    make_all_due(db)  # an hour later
    assert deliver_due(db, notify_settings) == 1
    assert [r.path for r in receiver.received] == ["/hook"]
