"""The pure decisions of ingestion, as tables: when a source is fetched next, what makes
an entry the same entry, which category it goes to, when to subscribe at a WebSub hub.

No clock, no database, no network: ``now`` and the random draws are given, and the
answers are exact.
"""

from datetime import UTC, datetime, timedelta

import pytest

from feedsvc.ingest.entries import content_hash, entry_key, map_category
from feedsvc.ingest.parse import ParsedEntry
from feedsvc.ingest.refresh import _next_poll
from feedsvc.ingest.schedule import HOLD_BACKOFF, after_failure, after_success, first_fetch
from feedsvc.ingest.websub import renewal_due, want_subscription
from feedsvc.models import Source
from feedsvc.settings import Settings
from tests.fixed import MIDDLE, FixedRandom

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
SETTINGS = Settings(
    base_url="http://feeds.example.vn",
    max_consecutive_failures=10,
    backoff_max_minutes=24 * 60,
    websub_poll_minutes=6 * 60,
    websub_lease_seconds=7 * 24 * 3600,
)


# --- when a source is fetched next -----------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "draw", "wait"),
    [
        (15, 0.0, timedelta(0)),  # at once
        (15, MIDDLE, 45 * timedelta(seconds=1)),  # spread over a tenth of the interval
        (60, 1.0, 6 * MINUTE),
    ],
)
def test_first_fetch_is_soon(interval, draw, wait):
    assert first_fetch(NOW, interval, FixedRandom(draw)) == NOW + wait


@pytest.mark.parametrize(
    ("interval", "draw", "wait"),
    [
        (15, MIDDLE, 15 * MINUTE),  # the jitter is ±10%: the middle draw is none
        (15, 0.0, 13.5 * MINUTE),
        (15, 1.0, 16.5 * MINUTE),
        (60, MIDDLE, HOUR),
    ],
)
def test_after_success_the_interval_with_jitter(interval, draw, wait):
    plan = after_success(NOW, interval, FixedRandom(draw))
    assert (plan.at, plan.disable_reason, plan.hold_reason) == (NOW + wait, "", "")


@pytest.mark.parametrize(
    ("status", "failures", "draw", "at", "disabled", "held"),
    [
        (410, 1, MIDDLE, NOW, "the feed is gone (HTTP 410 Gone)", ""),  # at once
        (500, 10, MIDDLE, NOW, "10 failed fetches in a row", ""),
        (500, 9, 0.0, NOW + 24 * HOUR, "", HOLD_BACKOFF),  # 15 min × 2⁸ capped at a day
        (500, 1, MIDDLE, NOW + 15.75 * MINUTE, "", HOLD_BACKOFF),  # +10% jitter at half
        (500, 2, 1.0, NOW + 33 * MINUTE, "", HOLD_BACKOFF),
        (None, 3, 0.0, NOW + HOUR, "", HOLD_BACKOFF),  # no answer at all counts too
    ],
)
def test_after_failure_backs_off_then_disables(status, failures, draw, at, disabled, held):
    plan = after_failure(NOW, 15, failures, status, None, SETTINGS, FixedRandom(draw))
    assert (plan.at, plan.disable_reason, plan.hold_reason) == (at, disabled, held)


@pytest.mark.parametrize(
    ("interval", "renew_at", "draw", "at"),
    [
        (15, None, MIDDLE, NOW + 15 * MINUTE),  # not pushed: the interval
        (15, NOW + 7 * 24 * HOUR, MIDDLE, NOW + 6 * HOUR),  # pushed: the safety net
        (15, NOW + 7 * 24 * HOUR, 0.0, NOW + 5.4 * HOUR),
        (600, NOW + 7 * 24 * HOUR, MIDDLE, NOW + 10 * HOUR),  # a longer interval stays
        (15, NOW + 2 * HOUR, MIDDLE, NOW + 2 * HOUR),  # in time to renew the lease
        (15, NOW - HOUR, MIDDLE, NOW),  # renewal overdue: at once
    ],
)
def test_next_poll_of_a_pushed_source_is_a_safety_net(interval, renew_at, draw, at):
    assert _next_poll(interval, renew_at, SETTINGS, NOW, FixedRandom(draw)) == at


# --- what makes an entry the same entry --------------------------------------------------------


def entry(**fields: object) -> ParsedEntry:
    values: dict[str, object] = {
        "base": "",
        "guid": None,
        "link": None,
        "title": "Tin",
        "summary": "",
        "content_html": "",
        "author": "",
        "categories": (),
        "published": None,
        "updated": None,
        "enclosure": None,
    }
    return ParsedEntry(**{**values, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ({"guid": "1", "link": "http://x.vn/a"}, {"guid": "1", "link": "http://x.vn/b"}, True),
        ({"guid": "1"}, {"guid": "2"}, False),
        ({"guid": "1", "title": "Cũ"}, {"guid": "1", "title": "Mới"}, True),  # an edit
        ({"link": "http://x.vn/a"}, {"link": "http://x.vn/a", "title": "Mới"}, True),
        ({"link": "http://x.vn/a"}, {"link": "http://x.vn/b"}, False),
        ({"guid": "http://x.vn/a"}, {"link": "http://x.vn/a"}, False),  # a guid is no link
        ({"title": "A", "summary": "x"}, {"title": "A", "summary": "x"}, True),  # neither
        ({"title": "A", "summary": "x"}, {"title": "A", "summary": "y"}, False),
        ({"title": "A", "content_html": "<p>x</p>"}, {"title": "A", "summary": "<p>x</p>"}, True),
        ({"guid": "\ud800"}, {"guid": "\ud800"}, True),  # a lone surrogate still gives a key
    ],
)
def test_entry_key(first, second, same):
    assert (entry_key(entry(**first)) == entry_key(entry(**second))) is same


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        ({"published": NOW}, False),  # dates alone are not an edit
        ({"updated": NOW}, False),
        ({"base": "http://x.vn/"}, False),
        ({"title": "Tin mới"}, True),
        ({"summary": "Tóm tắt"}, True),
        ({"content_html": "<p>x</p>"}, True),
        ({"author": "Minh Châu"}, True),
        ({"link": "http://x.vn/a"}, True),
        ({"categories": ("Kinh tế",)}, True),
    ],
)
def test_content_hash_changes_with_what_is_stored(change, changed):
    assert (content_hash(entry()) != content_hash(entry(**change))) is changed


MAP = {"Thời sự": "thoi-su", "kinh te": "kinh-te"}


@pytest.mark.parametrize(
    ("categories", "slug"),
    [
        ((), "mac-dinh"),
        (("Thể thao",), "mac-dinh"),  # not mapped
        (("thoi su",), "thoi-su"),  # without diacritics and case
        (("KINH TẾ",), "kinh-te"),
        (("Thể thao", "Kinh tế", "Thời sự"), "kinh-te"),  # the first mapped term
    ],
)
def test_map_category(categories, slug):
    assert map_category(categories, MAP, "mac-dinh") == slug


# --- when to subscribe at a WebSub hub ---------------------------------------------------------

HUB, TOPIC = "http://hub.example.vn/", "http://so.example.vn/rss"


@pytest.mark.parametrize(
    ("state", "lease_expires_at", "renew_at"),
    [
        ("active", NOW + 7 * 24 * HOUR, NOW + 7 * 24 * HOUR - HOUR),  # an hour before
        ("active", None, None),
        ("pending", NOW + HOUR, None),
        ("denied", NOW + HOUR, None),
    ],
)
def test_renewal_due(state, lease_expires_at, renew_at):
    assert renewal_due(state, lease_expires_at) == renew_at


@pytest.mark.parametrize(
    ("state", "hub", "topic", "lease_expires_at", "asks"),
    [
        ("", None, TOPIC, None, False),  # the feed names no hub
        ("", HUB, None, None, False),  # ... or no rel=self
        ("", HUB, TOPIC, None, True),  # never subscribed
        ("pending", HUB, TOPIC, None, False),  # asked, not yet verified
        ("active", HUB, TOPIC, NOW + 2 * HOUR, False),  # the lease runs
        ("active", HUB, TOPIC, NOW + HOUR, True),  # an hour left: renew
        ("active", "http://other-hub.vn/", TOPIC, NOW + 2 * HOUR, True),  # the hub moved
        ("active", HUB, TOPIC + "?v=2", NOW + 2 * HOUR, True),  # so did the topic
        ("denied", HUB, TOPIC, None, False),  # the hub said no: not asked again
        ("failed", HUB, TOPIC, None, True),  # the request failed: asked again
    ],
)
def test_want_subscription(state, hub, topic, lease_expires_at, asks):
    source = Source(
        id=7,
        websub_state=state,
        websub_hub=HUB,
        websub_topic=TOPIC,
        websub_secret="s" * 64,
        websub_callback_key="old-key",
        websub_lease_expires_at=lease_expires_at,
    )
    request = want_subscription(source, hub, topic, SETTINGS, NOW)
    assert (request is not None) is asks
    if request is None:
        assert (source.websub_state, source.websub_callback_key) == (state, "old-key")
        return
    assert (request.source_id, request.hub, request.topic) == (7, hub, topic)
    assert request.lease_seconds == 7 * 24 * 3600
    assert source.websub_state == "pending" and source.websub_callback_key != "old-key"
    assert request.callback == f"http://feeds.example.vn/websub/7/{source.websub_callback_key}"
    assert request.secret == source.websub_secret != "s" * 64  # a new secret per request
