"""Announce rounds: one "fat ping" per WebSub topic a round, bounded rounds and mails, and an
article whose payload cannot be built costing only itself (issue 10)."""

import json
import logging
from datetime import timedelta

import feedparser
import pytest
from sqlalchemy import func, select, text

from feedsvc.instance_key import signing_key
from feedsvc.models import Article, Delivery, DeliveryPayload
from feedsvc.notify.deliver import announce_new_articles, deliver_due, verify_hub_intents
from feedsvc.notify.mail.links import make_token
from feedsvc.notify.mail.subscriptions import SubscribeForm, confirm, subscribe
from feedsvc.text import utcnow
from tests.conftest import publish
from tests.receiver import Receiver
from tests.test_feed_validity import assert_valid

FEEDS = "http://feeds.example.vn/feeds"


@pytest.fixture
def subscriber():
    with Receiver() as server:
        yield server


def hub_subscribe(api, db, settings, callback, topic):
    form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback}
    assert api.post("/hub", data=form).status_code == 202
    assert verify_hub_intents(db, settings) == 1


def mail_subscriber(db, settings, email, categories, keywords=""):
    """A confirmed subscriber who wants mails at once, made as a reader makes one."""
    with db.transaction() as session:
        form = SubscribeForm(
            email=email, categories=categories, keywords=keywords, frequency="immediate"
        )
        subscribe(session, settings, form, f"192.0.2.{len(email)}", utcnow())
    with db.transaction() as session:
        subscriber_id = session.scalar(
            text("SELECT id FROM email_subscribers WHERE email = :e"), {"e": email}
        )
        token = make_token(signing_key(session, settings), "confirm", subscriber_id)
        confirm(session, settings, token, utcnow())


def news(mail):
    """The mails that are not address confirmations."""
    return [m for m in mail.messages if not m["Subject"].startswith("Xác nhận")]


def entry_titles(body: bytes) -> list[str]:
    if body.startswith(b"{"):  # JSON Feed
        return [item["title"] for item in json.loads(body)["items"]]
    return [entry.title for entry in feedparser.parse(body).entries]


def validate(tmp_path, name, body):
    path = tmp_path / name
    path.write_bytes(body)
    assert_valid(str(path))


def test_one_round_gives_each_topic_one_push_with_just_its_new_entries(
    api, db, notify_settings, subscriber, tmp_path
):
    for topic in ("thoi-su.rss", "thoi-su.atom", "all.json", "kinh-te.rss"):
        hub_subscribe(api, db, notify_settings, f"{subscriber.url}/{topic}", f"{FEEDS}/{topic}")
    publish(api, "Tin cũ đã báo")  # announced before: not in the next push
    announce_new_articles(db, notify_settings)
    deliver_due(db, notify_settings)
    subscriber.received.clear()
    titles = [f"Tin số {n}" for n in range(9)]
    for n, title in enumerate(titles):  # a minute apart, as a valid feed's entries are
        publish(api, title, published_at=(utcnow() - timedelta(minutes=9 - n)).isoformat())
    assert announce_new_articles(db, notify_settings) == 9
    deliver_due(db, notify_settings)
    newest_first = titles[::-1]
    [rss] = subscriber.at("/thoi-su.rss")
    [atom] = subscriber.at("/thoi-su.atom")
    [json_feed] = subscriber.at("/all.json")
    assert subscriber.at("/kinh-te.rss") == []  # no new entries there: no push
    for push in (rss, atom):
        assert entry_titles(push.body) == newest_first
    # JSON Feed has no exception to "the full contents of the topic URL" (WebSub §7)
    assert entry_titles(json_feed.body) == ["Tin cũ đã báo", *newest_first]  # newest first
    assert rss.headers["link"] == (
        f'<http://feeds.example.vn/hub>; rel="hub", <{FEEDS}/thoi-su.rss>; rel="self"'
    )
    parsed = feedparser.parse(atom.body).feed
    assert {(link.rel, link.href) for link in parsed.links} >= {
        ("self", f"{FEEDS}/thoi-su.atom"),
        ("hub", "http://feeds.example.vn/hub"),
    }
    with db.transaction() as session:  # a document per topic with news in each of 2 rounds
        documents = select(func.count()).where(DeliveryPayload.content_type != "application/json")
        assert session.scalar(documents) == 2 * 3
    validate(tmp_path, "push.rss", rss.body)
    validate(tmp_path, "push.atom", atom.body)


def test_a_round_holds_at_most_the_batch_the_rest_go_in_the_next(
    api, db, notify_settings, subscriber
):
    settings = notify_settings.model_copy(update={"announce_batch_size": 4})
    hub_subscribe(api, db, settings, f"{subscriber.url}/cb", f"{FEEDS}/thoi-su.rss")
    for n in range(9):
        publish(api, f"Tin số {n}")
    assert announce_new_articles(db, settings) == 9
    deliver_due(db, settings)
    pushes = [entry_titles(push.body) for push in subscriber.at("/cb")]
    assert sorted(map(len, pushes)) == [1, 4, 4]
    assert sorted(t for push in pushes for t in push) == sorted(f"Tin số {n}" for n in range(9))


def test_a_flood_of_articles_makes_few_mails(api, db, mail_settings, mail):
    settings = mail_settings.model_copy(update={"mail_list_after": 3, "mail_immediate_per_hour": 5})
    mail_subscriber(db, settings, "lan@example.vn", ["thoi-su"])
    for n in range(9):
        publish(api, f"Tin số {n}")
    announce_new_articles(db, settings)
    deliver_due(db, settings)
    [listing] = news(mail)  # more than 3 at once: one mail listing them all
    assert listing["Subject"] == f"9 tin mới – {settings.site_title}"
    body = listing.get_body(preferencelist=("plain",)).get_content()
    assert all(f"- Tin số {n}" in body for n in range(9))
    for n in range(2):  # a few at a time: a mail each
        publish(api, f"Tin lẻ {n}")
    announce_new_articles(db, settings)
    deliver_due(db, settings)
    assert sorted(m["Subject"] for m in news(mail)[1:]) == [
        "Tin mới: Tin lẻ 0",
        "Tin mới: Tin lẻ 1",
    ]
    for n in range(3):  # 3 more within the hour: 2 are left of the 5 allowed
        publish(api, f"Tin thêm {n}")
    announce_new_articles(db, settings)
    deliver_due(db, settings)
    assert len(news(mail)) == 5
    with db.transaction() as session:  # an hour later the subscriber gets mails again
        session.execute(
            text("UPDATE deliveries SET created_at = :t"), {"t": utcnow() - timedelta(hours=2)}
        )
    publish(api, "Tin sau một giờ")
    announce_new_articles(db, settings)
    deliver_due(db, settings)
    assert news(mail)[-1]["Subject"] == "Tin mới: Tin sau một giờ"


def test_an_article_that_cannot_be_rendered_costs_only_itself(
    api, db, mail_settings, subscriber, mail, caplog
):
    hub_subscribe(api, db, mail_settings, f"{subscriber.url}/hub", f"{FEEDS}/thoi-su.rss")
    assert api.post("/api/v1/webhooks", json={"url": f"{subscriber.url}/hook"}).status_code == 201
    mail_subscriber(db, mail_settings, "lan@example.vn", ["thoi-su"])
    good = [publish(api, f"Tin tốt {n}")["id"] for n in range(3)]
    bad = publish(api, "Tin hỏng")["id"]
    with db.transaction() as session:  # what the API no longer lets in, written by hand
        session.execute(
            text("UPDATE articles SET title = :t, summary = :s WHERE id = :id"),
            {"t": "Tin hỏng \uffff", "s": "\ufffe", "id": bad},
        )
    with caplog.at_level(logging.ERROR):
        assert announce_new_articles(db, mail_settings) == 4
    assert f"thoi-su.rss: article {bad} left out" in caplog.text  # from the push's renderer
    assert announce_new_articles(db, mail_settings) == 0  # announced: not tried every 5 s
    deliver_due(db, mail_settings)
    [push] = subscriber.at("/hub")
    assert entry_titles(push.body) == ["Tin tốt 2", "Tin tốt 1", "Tin tốt 0"]
    events = [r.body.decode() for r in subscriber.at("/hook")]
    assert all(any(f'"id": {i},' in e for e in events) for i in good)
    subjects = {m["Subject"] for m in news(mail)}
    assert {f"Tin mới: Tin tốt {n}" for n in range(3)} <= subjects
    with db.transaction() as session:
        assert session.scalar(select(func.count()).where(Article.announced_at.is_(None))) == 0
        assert (
            session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.state != "delivered")
            )
            == 0
        )


def test_hub_limits_per_callback_host_and_per_address(api, notify_settings):
    limits = {"hub_subscriptions_per_host": 2, "hub_requests_per_hour": 4}
    api.application.extensions["feedsvc.settings"] = notify_settings.model_copy(update=limits)

    def ask(callback, topic="thoi-su.rss", ip="192.0.2.1", mode="subscribe"):
        form = {"hub.mode": mode, "hub.topic": f"{FEEDS}/{topic}", "hub.callback": callback}
        return api.post("/hub", data=form, environ_base={"REMOTE_ADDR": ip})

    assert ask("http://127.0.0.1:9/a").status_code == 202
    assert ask("http://127.0.0.1:9/b").status_code == 202
    refused = ask("http://127.0.0.1:8/c")
    assert refused.status_code == 429
    assert "127.0.0.1 hold 2 subscriptions" in refused.data.decode()
    assert ask("http://127.0.0.1:9/a").status_code == 202  # a renewal passes
    assert ask("http://127.0.0.2:9/a", ip="192.0.2.2").status_code == 202  # another host
    # every request is counted, the one refused for its host too: the 5th from 192.0.2.1
    too_many = ask("http://127.0.0.3:9/a")
    assert too_many.status_code == 429
    assert "too many hub requests from this address" in too_many.data.decode()
    assert ask("http://127.0.0.3:9/a", ip="192.0.2.3").status_code == 202
    assert ask("http://127.0.0.1:9/b", ip="192.0.2.3", mode="unsubscribe").status_code == 202
