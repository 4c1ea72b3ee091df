"""The per-process feed state is reused only while nothing changed: a commit from any other
connection or process, or a scheduled article's time coming, makes the next request re-read."""

from datetime import timedelta

from feedsvc.db import create_database
from feedsvc.feeds.service import FeedStates
from tests.conftest import Store
from tests.waiting import wait_until


def titles(client, slug="thoi-su"):
    return [i["title"] for i in client.get(f"/feeds/{slug}.json").get_json()["items"]]


def test_a_commit_from_elsewhere_reaches_the_next_request(client, store, settings, now):
    store.category("Thời sự")
    store.article("thoi-su", "Tin một", published_at=now)
    assert titles(client) == ["Tin một"]  # the state is now cached in the app
    elsewhere = create_database(settings.database_url)  # another pool: as another process
    try:
        Store(elsewhere, settings).article("thoi-su", "Tin hai", published_at=now)
        # PostgreSQL: the NOTIFY takes milliseconds
        wait_until(lambda: titles(client) == ["Tin hai", "Tin một"], 2, every=0.01)
        assert titles(client) == ["Tin hai", "Tin một"]
    finally:
        elsewhere.dispose()


def test_state_is_reused_until_a_scheduled_article_is_due(db, store, now):
    store.category("Thời sự")
    store.article("thoi-su", "Đã đăng", published_at=now - timedelta(hours=1))
    store.article("thoi-su", "Hẹn giờ", published_at=now + timedelta(hours=1))
    states = FeedStates(db)
    # PostgreSQL: the listener thread starts on first use
    wait_until(lambda: db.changes.token() is not None, 5, every=0.01)
    first = states.get("thoi-su", now)
    assert first.next_change_at == now + timedelta(hours=1)
    assert states.get("thoi-su", now + timedelta(minutes=30)) is first  # reused, no query
    later = states.get("thoi-su", now + timedelta(hours=2))
    assert later is not first
    assert later.last_modified > first.last_modified
    assert later.next_change_at is None
