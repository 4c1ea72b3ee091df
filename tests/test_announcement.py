"""Not every new article is news (issue 11, point 1): the decision without a clock, then what
the store, the API, the admin and the CLI make of it. Through the worker: test_baseline.py."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from feedsvc.announcement import BASELINE, OLD, hold_reason, max_age
from feedsvc.models import Article
from feedsvc.text import utcnow
from feedsvc.web import create_app
from tests.admin_helpers import make_user, post, sign_in
from tests.conftest import publish
from tests.ingest_helpers import Sources
from tests.test_cli import feedsvc

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
HOURS_48 = timedelta(hours=48)


@pytest.mark.parametrize(
    ("baseline", "dated", "limit", "expected"),
    [
        (True, NOW, HOURS_48, BASELINE),  # a baseline holds even today's entries
        (True, None, HOURS_48, BASELINE),
        (True, NOW - timedelta(days=900), None, BASELINE),
        (False, None, HOURS_48, None),  # undated: new
        (False, NOW, HOURS_48, None),
        (False, NOW - timedelta(hours=47), HOURS_48, None),
        (False, NOW - HOURS_48, HOURS_48, None),  # at the limit: still news
        (False, NOW - HOURS_48 - timedelta(seconds=1), HOURS_48, OLD),
        (False, datetime(2019, 5, 1, tzinfo=UTC), HOURS_48, OLD),
        (False, datetime(2019, 5, 1, tzinfo=UTC), None, None),  # no limit
        (False, NOW + timedelta(days=3), HOURS_48, None),  # scheduled
    ],
)
def test_which_new_articles_are_announced(baseline, dated, limit, expected):
    assert hold_reason(baseline=baseline, dated=dated, now=NOW, limit=limit) == expected


def test_the_setting_in_hours_and_zero_for_no_limit():
    assert max_age(48) == HOURS_48
    assert max_age(0) is None


def rss(*items: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Huyện</title>'
        "<link>http://huyen.example.vn/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def item(guid: str, when: datetime | None) -> str:
    date = f"<pubDate>{format_datetime(when)}</pubDate>" if when else ""
    return f"<item><guid>{guid}</guid><title>Tin {guid}</title>{date}</item>"


def announced(sources, source_id) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    """Title → whether the article is held back or already told (True) or to be announced."""
    return {a.title: a.announced_at is not None for a in sources.articles(source_id)}


def test_baseline_then_new_entries_are_announced_and_old_ones_not(sources, upstream):
    now = utcnow()
    catalogue = [item("2019", datetime(2019, 3, 1, tzinfo=UTC)), item("hom-nay", now)]
    source_id = sources.add(upstream.serve("/f", rss(*catalogue)))
    assert sources.get(source_id).baseline_at is None
    first = sources.refresh(source_id)
    assert len(first.new_ids) == 2
    assert announced(sources, source_id) == {"Tin 2019": True, "Tin hom-nay": True}
    source = sources.get(source_id)
    assert source.baseline_at is not None
    assert (source.unannounced_baseline, source.unannounced_old, source.last_unannounced) == (
        2,
        0,
        2,
    )
    later = [
        item("moi", now),
        item("khong-ngay", None),
        item("2020", datetime(2020, 1, 1, tzinfo=UTC)),
    ]
    upstream.serve("/f", rss(*catalogue, *later))
    assert len(sources.refresh(source_id).new_ids) == 3
    held = announced(sources, source_id)
    assert (held["Tin moi"], held["Tin khong-ngay"], held["Tin 2020"]) == (False, False, True)
    source = sources.get(source_id)
    assert (source.unannounced_baseline, source.unannounced_old, source.last_unannounced) == (
        2,
        1,
        1,
    )
    upstream.serve("/f", rss(*catalogue, *later))
    sources.refresh(source_id)
    assert sources.get(source_id).last_unannounced == 0  # the last fetch's figure


def test_the_baseline_lasts_until_no_new_entry_was_left_out(sources, upstream, ingest_settings):
    """Entries skipped by max_new_entries_per_fetch come in later: still the back catalogue."""
    limited = ingest_settings.model_copy(update={"max_new_entries_per_fetch": 2})
    now = utcnow()
    items = [item(str(n), now - timedelta(minutes=n)) for n in range(3)]
    source_id = sources.add(upstream.serve("/f", rss(*items)))
    assert sources.refresh(source_id, limited).new_ids
    assert sources.get(source_id).baseline_at is None  # one entry is still to come
    assert len(sources.refresh(source_id, limited).new_ids) == 1
    assert set(announced(sources, source_id).values()) == {True}
    source = sources.get(source_id)
    assert source.baseline_at is not None and source.unannounced_baseline == 3


@pytest.fixture
def sources(api, db, notify_settings):  # type: ignore[no-untyped-def]
    """Sources beside an API client (which makes the categories)."""
    return Sources(db, notify_settings)


def source_json(api, source_id):  # type: ignore[no-untyped-def]
    return api.get(f"/api/v1/sources/{source_id}").get_json()


def test_a_new_url_is_a_baseline_again(api, sources, upstream):
    now = utcnow()
    source_id = sources.add(upstream.serve("/old", rss(item("a", now)), headers={"ETag": '"v1"'}))
    sources.refresh(source_id)
    counts = source_json(api, source_id)["announcements"]
    assert counts["unannounced_baseline"] == 1 and counts["baseline_at"]
    upstream.serve("/new", rss(item("b", now), item("c", now)))
    answer = api.patch(f"/api/v1/sources/{source_id}", json={"url": f"{upstream.base_url}/new"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["url"] == f"{upstream.base_url}/new"
    assert answer.get_json()["announcements"]["baseline_at"] is None
    assert sources.get(source_id).etag is None  # the old document's validators are not sent
    sources.refresh(source_id)
    assert announced(sources, source_id) == {"Tin a": True, "Tin b": True, "Tin c": True}
    counts = source_json(api, source_id)["announcements"]
    assert (counts["unannounced_baseline"], counts["last_unannounced"]) == (3, 2)
    assert counts["baseline_at"]
    # Saving the same URL again changes nothing.
    api.patch(f"/api/v1/sources/{source_id}", json={"url": f"{upstream.base_url}/new"})
    assert source_json(api, source_id)["announcements"]["baseline_at"]


def test_a_new_url_is_checked_like_a_new_source(api, sources, upstream):
    first = sources.add(upstream.serve("/a", rss()))
    second = sources.add(upstream.serve("/b", rss()))
    taken = api.patch(f"/api/v1/sources/{second}", json={"url": f"{upstream.base_url}/a"})
    assert taken.status_code == 409 and "exists already" in taken.get_json()["error"]
    for bad in ("ftp://example.vn/rss", ""):
        answer = api.patch(f"/api/v1/sources/{first}", json={"url": bad})
        assert answer.status_code == 422, (bad, answer.get_json())
        assert "url" in answer.get_data(as_text=True).lower()
    assert sources.get(first).url == f"{upstream.base_url}/a"


def test_articles_of_the_api_with_an_old_date_are_not_announced(api, db):
    old = publish(api, "Tin lưu trữ", published_at="2019-05-01T08:00:00+07:00")
    recent = publish(api, "Tin hôm qua", published_at=(utcnow() - timedelta(days=1)).isoformat())
    later = (utcnow() + timedelta(days=2)).isoformat()
    scheduled = publish(api, "Tin hẹn giờ", published_at=later)
    moved = publish(api, "Tin hẹn giờ, lùi về quá khứ", published_at=later)
    answer = api.patch(
        f"/api/v1/articles/{moved['id']}", json={"published_at": "2020-01-01T08:00:00+07:00"}
    )
    assert answer.status_code == 200
    with db.sessions() as session:
        told = dict(session.execute(select(Article.id, Article.announced_at)).all())
    assert told[old["id"]] is not None and told[moved["id"]] is not None
    assert told[recent["id"]] is None and told[scheduled["id"]] is None


def test_the_admin_and_the_cli_show_what_was_not_announced(
    ingest_settings, database_url, db, sources, upstream
):
    now = utcnow()
    source_id = sources.add(upstream.serve("/f", rss(item("a", now), item("b", now))))
    sources.refresh(source_id)
    upstream.serve(
        "/f", rss(item("a", now), item("b", now), item("c", datetime(2020, 1, 1, tzinfo=UTC)))
    )
    sources.refresh(source_id)
    listed = feedsvc("sources", "list", database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    assert "not announced: 2 baseline, 1 old, 1 in the last fetch" in listed.stdout
    make_user(db, "lan")
    app = create_app(ingest_settings)
    client = app.test_client()
    sign_in(client, "lan")
    page = client.get(f"/admin/sources/{source_id}").data.decode()
    assert "2 tin khi lấy mốc ban đầu, 1 tin vì đã cũ; lần lấy tin gần nhất: 1" in page
    # The admin changes the address: the next fetch is a baseline again.
    upstream.serve("/g", rss(item("d", now)))
    form = {
        "url": f"{upstream.base_url}/g",
        "title": "",
        "category": "thoi-su",
        "interval_minutes": "15",
    }
    path = f"/admin/sources/{source_id}"
    assert post(client, path, form, page=path).status_code == 302
    page = client.get(path).data.decode()
    assert "Chưa: tin của lần lấy tin thành công tới sẽ được lưu mà không thông báo" in page
    sources.refresh(source_id)
    assert announced(sources, source_id)["Tin d"] is True
    assert sources.get(source_id).unannounced_baseline == 3
    app.extensions["feedsvc.db"].dispose()
