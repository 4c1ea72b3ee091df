"""Housekeeping removes exactly what is no longer needed, in bounded batches, once however
many sweeps run; the worker schedules it; the dashboard and /metrics show the last sweep.

Data is made through the services users call, at explicit times in the past (``now``)."""

import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import func, select

from feedsvc.accounts import create_user, log_in
from feedsvc.db import Database
from feedsvc.housekeeping import KINDS, last_sweep, sweep, sweep_if_due
from feedsvc.instance_key import signing_key
from feedsvc.models import (
    AdminSession,
    Article,
    ContentState,
    Delivery,
    DeliveryPayload,
    EmailSubscriber,
    HubSubscription,
    RateEvent,
    RateKey,
    Source,
)
from feedsvc.notify.hub import (
    claim_intents,
    record_intent,
    record_verification,
    verify_subscriber_intent,
)
from feedsvc.notify.mail.links import make_token
from feedsvc.notify.mail.subscriptions import SubscribeForm, confirm, subscribe
from feedsvc.notify.mail.subscriptions import unsubscribe as leave
from feedsvc.notify.outbox import announce_due, claim_deliveries, record_attempts
from feedsvc.notify.rows import AttemptResult
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.outbound import delivery_client
from feedsvc.ratelimit import take
from feedsvc.scheduler import Jobs
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from feedsvc.web import create_app
from tests.admin_helpers import make_user, post, sign_in
from tests.conftest import Store, start_worker
from tests.receiver import Receiver
from tests.test_cli import feedsvc as run_cli
from tests.waiting import wait_until

NOW = utcnow().replace(microsecond=0)
DAY = timedelta(days=1)


@pytest.fixture
def hk_settings(notify_settings: Settings) -> Settings:
    return notify_settings.model_copy(
        update={
            "keep_delivered_days": 14,
            "keep_dead_days": 90,
            "keep_ended_hub_subscriptions_days": 7,
            "keep_unconfirmed_email_days": 7,
            "keep_unsubscribed_email_days": 30,
            "housekeeping_batch_size": 1000,
        }
    )


class Fanout:
    """Webhook endpoints, and articles announced to them and sent at given times."""

    def __init__(self, db: Database, settings: Settings, store: Store, endpoints: int) -> None:
        self.db, self.settings = db, settings
        store.category("Thời sự")
        with db.transaction() as session:
            self.endpoints = [
                add_endpoint(
                    session, EndpointCreate(url=f"http://127.0.0.1:9/{n}"), settings, NOW
                ).id
                for n in range(endpoints)
            ]
        self.store = store

    def article(self, title: str, at: datetime) -> None:
        """Published and announced at ``at``: a delivery to each endpoint, one payload."""
        self.store.article("thoi-su", title, published_at=at)
        with self.db.transaction() as session:
            assert announce_due(session, self.settings, at) == 1

    def send(self, at: datetime, outcome: Callable[[int], int], max_attempts: int = 12) -> None:
        """Claim every due delivery at ``at`` and record what each endpoint answered
        (``outcome(endpoint_id)``: an HTTP status; 500 fails, and with ``max_attempts`` 1
        the delivery dies)."""
        settings = self.settings.model_copy(update={"delivery_max_attempts": max_attempts})
        with self.db.transaction() as session:
            attempts = claim_deliveries(session, settings, at, 10_000)
            results = [
                AttemptResult(a, status, "" if status < 300 else f"HTTP {status}")
                for a in attempts
                for status in [outcome(a.endpoint_id or 0)]
            ]
            record_attempts(session, settings, results, at, random.Random(1))


def delivered(_endpoint: int) -> int:
    return 200


def failed(_endpoint: int) -> int:
    return 500


def deliveries(db: Database) -> set[tuple[str, str]]:
    """(article title, state) of every delivery, with a count suffix when repeated."""
    with db.transaction() as session:
        rows = session.execute(
            select(Article.title, Delivery.state, func.count())
            .join(Article, Delivery.article_id == Article.id)
            .group_by(Article.title, Delivery.state)
        ).all()
    return {(title, f"{state}×{count}") for title, state, count in rows}


def payload_titles(db: Database) -> set[str]:
    with db.transaction() as session:
        bodies = session.scalars(select(DeliveryPayload.body)).all()
    titles = set()
    for body in bodies:
        for title in ("old sent", "dead long ago", "dead lately", "sent lately", "shared", "old"):
            if f'"title": "{title}"' in body:
                titles.add(title)
    return titles


def test_deliveries_and_payloads_go_only_once_nothing_needs_them(db, hk_settings, store):
    fanout = Fanout(db, hk_settings, store, endpoints=2)
    fanout.article("old sent", NOW - 30 * DAY)  # delivered 30 days ago: goes
    fanout.send(NOW - 30 * DAY, delivered)
    fanout.article("dead long ago", NOW - 100 * DAY)  # dead 100 days ago: goes
    fanout.send(NOW - 100 * DAY, failed, max_attempts=1)
    fanout.article("dead lately", NOW - 30 * DAY)  # dead 30 days ago: stays
    fanout.send(NOW - 30 * DAY, failed, max_attempts=1)
    fanout.article("sent lately", NOW - 10 * DAY)  # delivered 10 days ago: stays
    fanout.send(NOW - 10 * DAY, delivered)
    fanout.article("shared", NOW - 30 * DAY)  # one delivered, one failing: payload stays
    first = fanout.endpoints[0]
    fanout.send(NOW - 30 * DAY, lambda endpoint: 200 if endpoint == first else 500)
    fanout.article("old", NOW - 40 * DAY)  # never sent yet, 40 days on: stays with payload

    removed = sweep(db, hk_settings, NOW)

    assert removed == {
        **dict.fromkeys(KINDS, 0),
        "delivered": 3,
        "dead_letters": 2,
        "payloads": 2,
    }
    assert deliveries(db) == {
        ("dead lately", "dead×2"),
        ("sent lately", "delivered×2"),
        ("shared", "pending×1"),  # failing, to be retried
        ("old", "pending×2"),
    }
    assert payload_titles(db) == {"dead lately", "sent lately", "shared", "old"}
    assert sweep(db, hk_settings, NOW) == dict.fromkeys(KINDS, 0)  # nothing twice
    # once the pending ones are delivered (30 days ago), only their age counted: they go
    fanout.send(NOW - 30 * DAY + timedelta(minutes=5), delivered)
    assert sweep(db, hk_settings, NOW)["delivered"] == 3
    assert payload_titles(db) == {"dead lately", "sent lately"}


def test_batches_are_bounded(db, hk_settings, store):
    settings = hk_settings.model_copy(update={"housekeeping_batch_size": 10})
    fanout = Fanout(db, settings, store, endpoints=35)
    fanout.article("old sent", NOW - 20 * DAY)
    fanout.send(NOW - 20 * DAY, delivered)
    batches: list[tuple[str, int]] = []

    removed = sweep(db, settings, NOW, on_batch=lambda kind, rows: batches.append((kind, rows)))

    assert batches == [("delivered", 10)] * 3 + [("delivered", 5), ("payloads", 1)]
    assert removed["delivered"] == 35 and removed["payloads"] == 1


def test_sweeps_at_once_remove_each_row_once(db, hk_settings, store):
    settings = hk_settings.model_copy(update={"housekeeping_batch_size": 10})
    fanout = Fanout(db, settings, store, endpoints=60)
    for n in range(3):
        fanout.article(f"old sent {n}", NOW - (20 + n) * DAY)
        fanout.send(NOW - (20 + n) * DAY, delivered)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        try:
            results.append(sweep(db, settings, NOW))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r["delivered"] for r in results) == 180
    assert sum(r["payloads"] for r in results) == 3
    assert deliveries(db) == set()
    assert last_sweep_total(db, "delivered") == 180


def last_sweep_total(db: Database, kind: str) -> int:
    with db.transaction() as session:
        swept = last_sweep(session)
    assert swept is not None
    return swept.removed_total[kind]


def test_ended_hub_subscriptions_go_with_their_queued_pushes(db, hk_settings, store):
    store.category("Thời sự")
    topic = f"{hk_settings.base_url}/feeds/thoi-su.rss"
    with Receiver() as receiver, delivery_client(hk_settings) as client:

        def request(path: str, at: datetime, lease: int, topic: str = topic) -> None:
            with db.transaction() as session:
                record_intent(
                    session, hk_settings, "subscribe", topic, receiver.url + path, lease, "",
                    "192.0.2.7", at,
                )  # fmt: skip
            with db.transaction() as session:
                [intent] = claim_intents(session, hk_settings, at, 10)
            confirmed = verify_subscriber_intent(client, hk_settings, intent)
            with db.transaction() as session:
                record_verification(session, intent, confirmed, at)

        request("/ended-long-ago", NOW - 20 * DAY, 3600)
        request("/live", NOW - 20 * DAY, 30 * 24 * 3600, topic.replace(".rss", ".atom"))
        store.article("thoi-su", "push", published_at=NOW - 20 * DAY + timedelta(minutes=1))
        with db.transaction() as session:  # a push queued for each, never sent
            announce_due(session, hk_settings, NOW - 20 * DAY + timedelta(minutes=1))
        request("/ended-lately", NOW - 3 * DAY, 3600)
        for at in (NOW - 10 * DAY, NOW - DAY):  # denied, never told (the worker was away)
            with db.transaction() as session:
                record_intent(
                    session, hk_settings, "subscribe", f"{hk_settings.base_url}/feeds/x.rss",
                    f"{receiver.url}/denied-{at.day}", None, "", "192.0.2.7", at,
                )  # fmt: skip

    removed = sweep(db, hk_settings, NOW)

    assert removed["hub_subscriptions"] == 2 and removed["payloads"] == 1
    with db.transaction() as session:
        left = session.execute(select(HubSubscription.callback, HubSubscription.intent)).all()
        queued = session.scalar(select(func.count()).select_from(Delivery))
    assert sorted((c.removeprefix(receiver.url), i) for c, i in left) == [
        (f"/denied-{(NOW - DAY).day}", "denied"),
        ("/ended-lately", ""),
        ("/live", ""),
    ]
    assert queued == 1  # the live subscription's push; the ended one's went, and its payload


def test_addresses_never_confirmed_and_left_are_removed(db, hk_settings, store):
    store.category("Thời sự")
    ips = iter(f"192.0.2.{n}" for n in range(100))

    def subscriber(email: str, at: datetime) -> int:
        with db.transaction() as session:
            subscribe(session, hk_settings, SubscribeForm(email=email), next(ips), at)
            return session.scalars(
                select(EmailSubscriber.id).where(EmailSubscriber.email == email)
            ).one()

    def token(purpose: str, subscriber_id: int) -> str:
        with db.transaction() as session:
            return make_token(signing_key(session, hk_settings), purpose, subscriber_id)

    def confirmed(email: str, at: datetime) -> int:
        subscriber_id = subscriber(email, at)
        link = token("confirm", subscriber_id)
        with db.transaction() as session:
            confirm(session, hk_settings, link, at)
        return subscriber_id

    def left(email: str, at: datetime) -> None:
        link = token("unsubscribe", confirmed(email, at - DAY))
        with db.transaction() as session:
            leave(session, hk_settings, link, at)

    subscriber("quen@example.vn", NOW - 8 * DAY)  # never confirmed: goes
    subscriber("moi@example.vn", NOW - 2 * DAY)  # its link still works: stays
    confirmed("doc-gia@example.vn", NOW - 400 * DAY)  # a reader: stays
    left("da-di@example.vn", NOW - 31 * DAY)  # left a month ago: goes
    left("vua-di@example.vn", NOW - 5 * DAY)  # left lately: stays

    removed = sweep(db, hk_settings, NOW)

    assert removed["unconfirmed_emails"] == 1 and removed["unsubscribed_emails"] == 1
    with db.transaction() as session:
        emails = set(session.scalars(select(EmailSubscriber.email)))
        mailed_to = set(
            session.scalars(
                select(EmailSubscriber.email).join(
                    Delivery, Delivery.email_subscriber_id == EmailSubscriber.id
                )
            )
        )
    assert emails == {"moi@example.vn", "doc-gia@example.vn", "vua-di@example.vn"}
    assert mailed_to == emails  # the confirmation mails of the others went with them


def test_ended_sessions_and_old_rate_limit_records_are_removed(db, hk_settings):
    with db.transaction() as session:
        create_user(session, "bien-tap", "mật-khẩu-đủ-dài", "admin", NOW)

    def sign_in_at(at: datetime) -> None:
        with db.transaction() as session:
            log_in(session, hk_settings, "bien-tap", "mật-khẩu-đủ-dài", "192.0.2.1", at)

    def request_at(key: str, at: datetime) -> None:
        with db.transaction() as session:
            take(session, [key], 5, timedelta(hours=1), at, "too many")

    # newest first: each count drops what is a day older than it (feedsvc.ratelimit)
    sign_in_at(NOW)
    request_at("subscribe:new", NOW - timedelta(hours=1))
    sign_in_at(NOW - 2 * DAY)  # a 12-hour session, ended; its login keys unused since
    request_at("subscribe:old", NOW - 2 * DAY)

    removed = sweep(db, hk_settings, NOW)

    assert (removed["admin_sessions"], removed["rate_events"], removed["rate_keys"]) == (1, 1, 3)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(AdminSession)) == 1
        assert set(session.scalars(select(RateEvent.key))) == {"subscribe:new"}
        assert set(session.scalars(select(RateKey.key))) == {"subscribe:new"}


def test_one_process_sweeps_each_interval(db, hk_settings):
    assert sweep_if_due(db, hk_settings, NOW) == dict.fromkeys(KINDS, 0)
    assert sweep_if_due(db, hk_settings, NOW + timedelta(minutes=59)) is None
    assert sweep_if_due(db, hk_settings, NOW + timedelta(minutes=60)) is not None


def test_the_scheduler_runs_housekeeping_at_its_interval(db, settings):
    jobs = Jobs(settings.model_copy(update={"housekeeping_interval_minutes": 30}), db)
    try:
        job = jobs.scheduler.get_job("housekeeping")
        assert job.trigger.interval == timedelta(minutes=30)
    finally:
        jobs.parsers.close()
        jobs.fetch_client.close()
        jobs.delivery_client.close()


def test_the_worker_sweeps_and_the_dashboard_and_metrics_show_it(
    database_url, db, hk_settings, app, tmp_path
):
    with db.transaction() as session:  # a rate-limit record two days old
        take(session, ["hub:192.0.2.9"], 5, timedelta(hours=1), NOW - 2 * DAY, "too many")
    worker = start_worker(database_url, tmp_path / "worker.log")
    try:
        assert wait_until(lambda: last_sweep_of(db) is not None, 30), (
            tmp_path / "worker.log"
        ).read_text()
    finally:
        worker.terminate()
        worker.wait(10)
    swept = last_sweep_of(db)
    assert swept is not None and swept.removed["rate_events"] == 1

    client = app.test_client()
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'feedsvc_housekeeping_removed_total{kind="rate_events"} 1.0' in metrics
    assert 'feedsvc_housekeeping_removed_total{kind="delivered"} 0.0' in metrics
    assert "feedsvc_housekeeping_last_sweep_timestamp_seconds " in metrics
    make_user(db, "quan-tri")
    sign_in(client, "quan-tri")
    page = client.get("/admin/").get_data(as_text=True)
    card = page[page.index('id="housekeeping"') :]
    assert "Dọn dẹp dữ liệu cũ" in card and "Chưa dọn lần nào" not in card
    assert "<dt>Bản ghi giới hạn tần suất</dt><dd>2</dd>" in card  # the event and its key


def last_sweep_of(db: Database):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return last_sweep(session)


def rss(*items: tuple[str, datetime]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><guid>{title}</guid>"
        f"<pubDate>{format_datetime(at)}</pubDate></item>"
        for title, at in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Huyện</title><link>http://huyen.example.vn/</link><description>d</description>"
        f"{entries}</channel></rss>"
    )


def test_old_ingested_articles_go_but_never_a_first_page_or_our_own(
    sources, upstream, store, ingest_settings
):
    """Feeds of 3 items: the first pages of thoi-su and of all are kept, however old."""
    settings = ingest_settings.model_copy(update={"feed_items": 3})
    kept_source = sources.add(
        upstream.serve(
            "/huyen", rss(*[(f"A{d}", NOW - d * DAY) for d in (10, 60, 70, 80, 90, 100)])
        ),
        keep_days=30,
    )
    forever_source = sources.add(
        upstream.serve("/so", rss(("B400", NOW - 400 * DAY))), category="kinh-te"
    )
    for source_id in (kept_source, forever_source):
        sources.refresh(source_id)
    store.article("thoi-su", "L200", published_at=NOW - 200 * DAY)  # our own
    for d in (1, 2, 3):  # the first page of all
        store.article("kinh-te", f"K{d}", published_at=NOW - d * DAY)
    with store.database.transaction() as session:
        version = session.scalar(select(ContentState.version))

    removed = sweep(store.database, settings, NOW)

    assert removed["articles"] == 3
    with store.database.transaction() as session:
        titles = set(session.scalars(select(Article.title)))
        assert session.scalar(select(ContentState.version)) > version  # feeds rebuilt
    # A60 and A70 are older than 30 days but on thoi-su's first page, with A10
    assert titles == {"A10", "A60", "A70", "B400", "L200", "K1", "K2", "K3"}
    assert sweep(store.database, settings, NOW)["articles"] == 0


def test_the_age_of_a_sources_articles_is_set_through_the_api(api, upstream):
    url = upstream.serve("/huyen", rss())
    created = api.post("/api/v1/sources", json={"url": url, "category": "thoi-su"})
    assert created.status_code == 201 and created.get_json()["keep_days"] is None
    path = f"/api/v1/sources/{created.get_json()['id']}"
    assert api.patch(path, json={"keep_days": 365}).get_json()["keep_days"] == 365
    refused = api.patch(path, json={"keep_days": 0})
    assert refused.status_code == 422 and "keep_days" in refused.get_json()["fields"]
    assert api.patch(path, json={"keep_days": None}).get_json()["keep_days"] is None


def test_the_age_of_a_sources_articles_is_set_on_the_admin_form_and_the_cli(
    settings, db, store, upstream, database_url
):
    store.category("Thời sự")
    make_user(db, "lan")
    local = create_app(settings.model_copy(update={"allow_private_urls": True}))
    client = local.test_client()
    sign_in(client, "lan")
    page = "/admin/sources/new"
    fields = {"url": upstream.serve("/huyen", rss()), "category": "thoi-su", "keep_days": "90"}
    assert post(client, page, {"action": "save", **fields}, page=page).status_code == 302
    [source] = sources_of(db)
    assert source.keep_days == 90
    edit = f"/admin/sources/{source.id}"
    refused = post(client, edit, {**fields, "keep_days": "0"}, page=edit)
    assert refused.status_code == 422 and sources_of(db)[0].keep_days == 90
    post(client, edit, {**fields, "keep_days": ""}, page=edit)  # empty: for ever
    assert sources_of(db)[0].keep_days is None
    local.extensions["feedsvc.db"].dispose()

    added = run_cli(
        "sources", "add", upstream.serve("/so", rss()), "--category", "thoi-su",
        "--keep-days", "30", database_url=database_url, FEEDSVC_ALLOW_PRIVATE_URLS="true",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert [s.keep_days for s in sources_of(db)] == [None, 30]


def sources_of(db: Database) -> list[Source]:
    with db.sessions() as session:
        return list(session.scalars(select(Source).order_by(Source.id)))
