"""The admin's deliveries: each says when, by which channel, to whom (readably), about which
article, how many attempts, the next one and the last error; filtered by state, channel and
subscriber (a subscriber's own deliveries), each filter on an index. Real webhook receivers
and a real SMTP server on 127.0.0.1, SQLite and PostgreSQL."""

import re

import pytest
from sqlalchemy import create_engine, select, text

from feedsvc.models import EmailSubscriber
from feedsvc.notify.deliver import announce_new_articles, deliver_due
from feedsvc.notify.mail.subscriptions import SubscribeForm, subscribe
from feedsvc.notify.outbox import page_deliveries
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.paging import Position
from feedsvc.text import utcnow
from feedsvc.web import create_app
from tests.admin_helpers import make_user, sign_in
from tests.receiver import Receiver


@pytest.fixture
def world(mail_settings, db, store):  # type: ignore[no-untyped-def]
    """Webhook A answers 500 (its one attempt: dead), webhook B 204 (delivered), and an
    e-mail subscriber got its confirmation (delivered to the SMTP server)."""
    settings = mail_settings.model_copy(update={"delivery_max_attempts": 1})
    store.category("Thời sự")
    with Receiver(status=500) as failing, Receiver(status=204) as working:
        with db.transaction() as session:
            a = add_endpoint(
                session, EndpointCreate(url=f"{failing.url}/hook-a"), settings, utcnow()
            )
            b = add_endpoint(
                session, EndpointCreate(url=f"{working.url}/hook-b"), settings, utcnow()
            )
            subscribe(
                session, settings, SubscribeForm(email="ban.doc@example.com"), "192.0.2.9", utcnow()
            )
            ids = {"a": a.id, "b": b.id}
        store.article("thoi-su", "Khánh thành cầu Cửa Hội")
        announce_new_articles(db, settings)
        deliver_due(db, settings)
        hosts = {"a": failing.url.split("//")[1], "b": working.url.split("//")[1]}
    with db.sessions() as session:
        ids["email"] = session.scalar(select(EmailSubscriber.id))  # type: ignore[assignment]
    app = create_app(settings)
    make_user(db, "quantri")
    client = app.test_client()
    sign_in(client, "quantri")
    yield client, ids, hosts
    app.extensions["feedsvc.db"].dispose()


def rows(page: str) -> list[str]:
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_each_delivery_explains_itself(world):  # type: ignore[no-untyped-def]
    client, _, hosts = world
    page = client.get("/admin/deliveries").get_data(as_text=True)
    listed = rows(page)
    assert len(listed) == 3
    dead = next(r for r in listed if hosts["a"] in r)
    assert "Khánh thành cầu Cửa Hội" in dead  # the article's title
    assert "Webhook" in dead and "Đã bỏ cuộc" in dead and "HTTP 500" in dead
    assert re.search(r'data-label="Số lần thử">1', dead)
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", dead)  # when, in Vietnam's time
    assert "/hook-a" not in dead  # the host, not the whole URL
    mail = next(r for r in listed if "ban.doc@example.com" in r)
    assert "Thư xác nhận địa chỉ" in mail and "Đã gửi" in mail


def test_filters_by_state_channel_and_subscriber(world):  # type: ignore[no-untyped-def]
    client, ids, hosts = world
    dead = rows(client.get("/admin/deliveries?state=dead").get_data(as_text=True))
    assert len(dead) == 1 and hosts["a"] in dead[0]
    webhooks = rows(client.get("/admin/deliveries?channel=webhook").get_data(as_text=True))
    assert len(webhooks) == 2 and not any("ban.doc" in r for r in webhooks)
    mails = rows(client.get("/admin/deliveries?channel=email").get_data(as_text=True))
    assert len(mails) == 1 and "ban.doc@example.com" in mails[0]
    both = rows(
        client.get("/admin/deliveries?state=delivered&channel=webhook").get_data(as_text=True)
    )
    assert len(both) == 1 and hosts["b"] in both[0]
    page = client.get(f"/admin/deliveries?channel=webhook&subscriber={ids['b']}").get_data(
        as_text=True
    )
    assert f"Lượt gửi tới {hosts['b']}" in page  # the subscriber's page of deliveries
    assert len(rows(page)) == 1 and hosts["b"] in rows(page)[0]
    # unknown choices are ignored, as the page's own links never send them
    assert len(rows(client.get("/admin/deliveries?channel=fax").get_data(as_text=True))) == 3
    for missing in ("999999", "0", "9" * 30):
        answer = client.get(f"/admin/deliveries?channel=webhook&subscriber={missing}")
        assert answer.status_code == 404, missing


def test_each_subscriber_links_to_its_deliveries(world):  # type: ignore[no-untyped-def]
    client, ids, _ = world
    page = client.get("/admin/subscribers").get_data(as_text=True)
    for channel, key in (("webhook", "a"), ("webhook", "b"), ("email", "email")):
        assert f"/admin/deliveries?channel={channel}&amp;subscriber={ids[key]}" in page


def test_filtered_pages_follow_the_keyset(world, db):  # type: ignore[no-untyped-def]
    _, ids, _ = world
    with db.sessions() as session:
        first = page_deliveries(session, None, Position(), 1, "webhook")
        second = page_deliveries(session, None, Position(before=first.older or ""), 1, "webhook")
        assert first.older and not second.older
        shown = {d.endpoint_id for d in first.items + second.items}
    assert shown == {ids["a"], ids["b"]}


@pytest.mark.parametrize(
    ("where", "index"),
    [
        ("endpoint_id = 1", "ix_deliveries_endpoint_id"),
        ("email_subscriber_id = 1", "ix_deliveries_email_subscriber_id"),
        ("hub_subscription_id IS NOT NULL", "ix_deliveries_channel_hub_subscription_id"),
        ("endpoint_id IS NOT NULL", "ix_deliveries_channel_endpoint_id"),
    ],
)
def test_each_filter_reads_an_index_in_order_on_sqlite(sqlite_url, where, index):  # type: ignore[no-untyped-def]
    """No sort and no scan of the table: the newest rows of the filter come off an index."""
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        plan = " ".join(
            row[-1]
            for row in connection.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM deliveries"
                    f" WHERE {where} ORDER BY id DESC LIMIT 50"
                )
            )
        )
    engine.dispose()
    assert index in plan and "TEMP B-TREE" not in plan
