"""One subscriber costs only itself: a hanging webhook receiver or WebSub callback holds at
most ``delivery_per_subscriber`` of the sending slots while every other delivery goes; one
that keeps not answering is paused by its circuit breaker (its deliveries parked, not
failed), then probed once; and SIGTERM stops a worker with a backlog, losing nothing."""

import random
import signal
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from feedsvc.models import Delivery, HubSubscription, WebhookEndpoint
from feedsvc.notify.deliver import announce_new_articles, deliver_due, verify_hub_intents
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.sources import SourceCreate, add_source
from feedsvc.text import utcnow
from tests.admin_helpers import make_user, sign_in
from tests.conftest import publish, start_worker
from tests.hostile import HostilePeer, trickle_head
from tests.receiver import Receiver
from tests.trickler import Trickler
from tests.waiting import wait_until

ENDPOINTS, ARTICLES = 200, 15  # the SIGTERM test's backlog: 3,000 deliveries


def add_webhook(api, url):  # type: ignore[no-untyped-def]
    response = api.post("/api/v1/webhooks", json={"url": url})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def subscribe_hub(api, db, settings, callback):  # type: ignore[no-untyped-def]
    form = {
        "hub.mode": "subscribe",
        "hub.topic": "http://feeds.example.vn/feeds/thoi-su.rss",
        "hub.callback": callback,
    }
    assert api.post("/hub", data=form).status_code == 202
    assert verify_hub_intents(db, settings) == 1


def states(db, **where):  # type: ignore[no-untyped-def]
    """Deliveries (of one subscriber, one state ...) counted by (state, attempts)."""
    with db.sessions() as session:
        rows = session.execute(
            select(Delivery.state, Delivery.attempts, func.count())
            .filter_by(**where)
            .group_by(Delivery.state, Delivery.attempts)
        ).all()
    return {(state, attempts): count for state, attempts, count in rows}


def test_hanging_subscribers_hold_only_their_own_slots(api, db, notify_settings):
    settings = notify_settings.model_copy(
        # a timeout far longer than the test: the hanging sends hang throughout
        update={"delivery_concurrency": 6, "delivery_per_subscriber": 2, "delivery_timeout": 60}
    )
    with (
        Trickler("trickle", interval=0.5) as slow_hook,
        Trickler("trickle", interval=0.5) as slow_hub,
        Receiver() as fast,
    ):
        slow_id = add_webhook(api, slow_hook.url + "/hook")  # first: its deliveries come first
        subscribe_hub(api, db, settings, slow_hub.url + "/cb")
        for n in range(10):
            add_webhook(api, f"{fast.url}/fast{n}")
        for n in range(20):
            publish(api, f"Tin số {n}")
        announce_new_articles(db, settings)
        stopping = threading.Event()
        sender = threading.Thread(
            target=deliver_due, args=(db, settings), kwargs={"stopping": stopping}, daemon=True
        )
        sender.start()
        try:
            assert wait_until(lambda: len(fast.received) == 200, 120), states(db)
            assert wait_until(lambda: states(db, state="delivered") == {("delivered", 1): 200}, 10)
            # ... while both hanging subscribers still hang, each on at most two sends
            assert slow_hook.hanging and slow_hub.hanging
            assert slow_hook.most_at_once <= 2 and slow_hub.most_at_once <= 2
        finally:
            stopping.set()
            sender.join(timeout=30)
        assert not sender.is_alive()
    # Nothing of the hanging subscribers was lost or counted: their deliveries wait
    assert states(db, endpoint_id=slow_id) == {("pending", 0): 20}
    with db.sessions() as session:
        hub_id = session.scalar(select(HubSubscription.id))
    assert states(db, hub_subscription_id=hub_id) == {("pending", 0): 1}  # one push a round
    assert slow_hook.begun == 2 and slow_hub.begun == 1  # never more than their two slots


def test_a_subscriber_that_keeps_timing_out_is_paused_then_probed(api, client, db, notify_settings):
    settings = notify_settings.model_copy(
        update={
            "delivery_timeout": 1.5,  # short for the silent one; long enough for a busy machine
            "delivery_per_subscriber": 2,
            "breaker_timeouts": 3,
            "breaker_pause_seconds": 60,
        }
    )
    with Trickler("silent", interval=0.2) as silent, Receiver() as fast:
        silent_id = add_webhook(api, silent.url + "/hook")
        add_webhook(api, fast.url + "/fast")
        for n in range(12):
            publish(api, f"Tin số {n}")
        announce_new_articles(db, settings)
        before = utcnow()
        deliver_due(db, settings, rng=random.Random(1))
        assert len(fast.received) == 12  # the others are not held back
        tried = silent.begun
        assert 3 <= tried < 12  # the breaker opened after three timeouts in a row
        waiting = states(db, endpoint_id=silent_id)
        assert waiting == {("pending", 1): tried, ("pending", 0): 12 - tried}  # parked, not failed
        endpoint = api.get(f"/api/v1/webhooks/{silent_id}").get_json()
        assert endpoint["enabled"] and endpoint["consecutive_timeouts"] == tried
        paused_until = endpoint["paused_until"]
        assert paused_until is not None
        with db.sessions() as session:
            parked = session.scalars(
                select(Delivery.next_attempt_at).where(
                    Delivery.endpoint_id == silent_id, Delivery.attempts == 0
                )
            ).all()
            row = session.get(WebhookEndpoint, silent_id)
            assert row is not None and row.paused_until is not None
            assert row.paused_until >= before + timedelta(seconds=59)
        # parked until the pause ends (a later timeout may have made it longer since)
        assert parked and all(
            before + timedelta(seconds=59) <= at <= row.paused_until for at in parked
        )

        make_user(db, "admin")
        sign_in(client, "admin")
        for page in ("/admin/subscribers", "/admin/deliveries"):  # shown where they are listed
            html = client.get(page).get_data(as_text=True)
            assert f"sau {tried} lần không phản hồi" in html, page

        # The pause ends: one probe goes; it is not answered either, so the pause doubles
        end_pause(db, silent_id)
        deliver_due(db, settings, rng=random.Random(1))
        assert silent.begun == tried + 1
        with db.sessions() as session:
            row = session.get(WebhookEndpoint, silent_id)
            assert row is not None and row.consecutive_timeouts == tried + 1
            assert row.paused_until is not None
            assert row.paused_until >= utcnow() + timedelta(seconds=110)

        # The subscriber is back: the probe is answered, the breaker closes, all goes
        silent.mode = "answer"
        end_pause(db, silent_id)
        assert deliver_due(db, settings, rng=random.Random(1)) == 1  # the probe alone
        endpoint = api.get(f"/api/v1/webhooks/{silent_id}").get_json()
        assert endpoint["consecutive_timeouts"] == 0 and endpoint["paused_until"] is None
        with db.transaction() as session:  # the probe's window, over
            session.execute(update(Delivery).values(next_attempt_at=utcnow()))
        deliver_due(db, settings, rng=random.Random(1))
        delivered = states(db, endpoint_id=silent_id)
        assert {state for state, _ in delivered} == {"delivered"}
        assert sum(delivered.values()) == 12


def end_pause(db, endpoint_id):  # type: ignore[no-untyped-def]
    """The time a pause lasts, passed."""
    with db.transaction() as session:
        past = utcnow() - timedelta(seconds=1)
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(paused_until=past)
        )
        session.execute(
            update(Delivery).where(Delivery.state == "pending").values(next_attempt_at=past)
        )


@pytest.mark.slow
def test_sigterm_stops_a_worker_with_a_backlog_and_loses_nothing(
    database_url, db, store, notify_settings, tmp_path
):
    """... while it also fetches an upstream that trickles its headers (60 s to its deadline)."""
    store.category("Thời sự")
    with Receiver(delay=0.2) as receiver, HostilePeer(trickle_head(0.5)) as upstream:
        with db.transaction() as session:
            source = SourceCreate(url=f"{upstream.url}/feed", category="thoi-su")
            added = add_source(session, source, notify_settings, utcnow(), random.Random(1))
            added.next_fetch_at = utcnow() - timedelta(minutes=1)
        with db.transaction() as session:
            for n in range(ENDPOINTS):
                add_endpoint(
                    session, EndpointCreate(url=f"{receiver.url}/e{n}"), notify_settings, utcnow()
                )
        for n in range(ARTICLES):
            store.article("thoi-su", f"Tin số {n}", published_at=utcnow())
        announce_new_articles(db, notify_settings)  # ENDPOINTS × ARTICLES due deliveries
        log = tmp_path / "worker.log"
        worker = start_worker(database_url, log, notify_tick_seconds="1", delivery_timeout="2")
        try:
            assert wait_until(lambda: len(receiver.received) >= 50, 60), log.read_text()
            assert upstream.connections  # the trickling fetch is running
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=10) == 0, log.read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    with db.sessions() as session:
        rows = session.execute(
            select(Delivery.message_id, Delivery.state, Delivery.attempts, Delivery.next_attempt_at)
        ).all()
    assert len(rows) == ENDPOINTS * ARTICLES
    delivered = {row.message_id for row in rows if row.state == "delivered"}
    assert delivered == {r.headers["webhook-id"] for r in receiver.received}  # all recorded
    assert len(delivered) < len(rows) / 2  # it stopped with a backlog ...
    now = utcnow()
    unsent = [row for row in rows if row.state != "delivered"]
    # ... which is due, nothing of it attempted or held by a lease
    held = [r for r in unsent if r.state != "pending" or r.attempts or r.next_attempt_at > now]
    assert not held, (now, len(held), held[:5])
