"""Fetching upstream feeds over real HTTP: conditional GET, limits, redirects, errors,
backoff, the private-address guard, and one bad source never stopping the others."""

import random
from datetime import timedelta

import pytest

from feedsvc.errors import UnsafeURL
from feedsvc.ingest.parse_pool import ParserPool
from feedsvc.ingest.refresh import refresh_due_sources
from feedsvc.text import utcnow
from tests.fixed import MIDDLE, FixedRandom

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Sở Nội vụ</title><link>http://so.example.vn/</link>
<description>Tin</description>
<item><title>Tin một</title><link>http://so.example.vn/1</link><guid>tin-1</guid>
<pubDate>Fri, 26 Mar 2021 10:00:00 +0700</pubDate><description>Nội dung một</description></item>
</channel></rss>"""


def test_conditional_get_then_304_parses_nothing(sources, upstream):
    url = upstream.serve(
        "/feed",
        RSS,
        headers={
            "ETag": '"v1"',
            "Last-Modified": "Fri, 26 Mar 2021 03:00:00 GMT",
            "Content-Type": "application/rss+xml",
        },
    )
    source_id = sources.add(url)
    first = sources.refresh(source_id)
    assert first.status == 200 and len(first.new_ids) == 1
    second = sources.refresh(source_id)
    assert second.status == 304 and second.new_ids == () and second.error == ""
    sent = upstream.requests[-1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Fri, 26 Mar 2021 03:00:00 GMT"
    assert sent["User-Agent"].startswith("feedsvc/")
    source = sources.get(source_id)
    assert (source.last_status, source.consecutive_failures, source.fetch_count) == (304, 0, 2)
    assert source.title == "Sở Nội vụ"


def test_gzip_is_decoded(sources, upstream):
    source_id = sources.add(upstream.serve("/gz", RSS, gzip=True))
    assert len(sources.refresh(source_id).new_ids) == 1


def test_body_over_the_cap_stops_reading_also_when_gzipped(sources, upstream, ingest_settings):
    small = ingest_settings.model_copy(update={"fetch_max_bytes": 4096})
    big = sources.add(upstream.serve("/big", RSS.replace("Nội dung một", "x" * 50_000)))
    outcome = sources.refresh(big, small)
    assert outcome.error == "body larger than 4096 bytes"
    bomb = sources.add(upstream.serve("/bomb", b"<rss>" + b" " * 5_000_000, gzip=True))
    assert "body larger" in sources.refresh(bomb, small).error
    assert sources.articles(big) == []


def test_permanent_redirect_moves_the_source_temporary_does_not(sources, upstream):
    target = upstream.serve("/new", RSS)
    moved = sources.add(upstream.redirect("/old", target, 301))
    assert len(sources.refresh(moved).new_ids) == 1
    assert sources.get(moved).url == target
    temporary = sources.add(upstream.redirect("/tmp", upstream.redirect("/tmp2", target, 308), 302))
    sources.refresh(temporary)
    assert sources.get(temporary).url.endswith("/tmp")


def test_redirect_loops_and_long_chains_are_errors(sources, upstream):
    upstream.redirect("/a", upstream.base_url + "/b")
    loop = sources.add(upstream.redirect("/b", upstream.base_url + "/a"))
    assert sources.refresh(loop).error.startswith("redirect loop")
    for n in range(8):
        upstream.redirect(f"/r{n}", f"{upstream.base_url}/r{n + 1}", 302)
    chain = sources.add(upstream.base_url + "/r0")
    assert sources.refresh(chain).error == "more than 5 redirects"


def test_gone_disables_with_the_reason(sources, upstream):
    source_id = sources.add(upstream.serve("/gone", "bye", status=410))
    outcome = sources.refresh(source_id)
    source = sources.get(source_id)
    assert not source.enabled and "410" in source.disabled_reason
    assert outcome.disabled_reason == source.disabled_reason


def test_too_many_requests_honours_retry_after(sources, upstream):
    source_id = sources.add(upstream.serve("/busy", status=429, headers={"Retry-After": "7200"}))
    now = utcnow()
    sources.refresh(source_id, at=now)
    assert sources.get(source_id).next_fetch_at == now + timedelta(hours=2)  # no jitter


def test_failures_back_off_and_finally_disable(sources, upstream, ingest_settings):
    settings = ingest_settings.model_copy(update={"max_consecutive_failures": 3})
    source_id = sources.add(upstream.serve("/err", "oops", status=500), interval_minutes=10)
    waits = []
    for n in range(3):  # a second apart: a manual fetch skips a source fetched since it began
        at = utcnow() - timedelta(seconds=3 - n)
        outcome = sources.refresh(source_id, settings, at=at, rng=FixedRandom(MIDDLE))
        waits.append(sources.get(source_id).next_fetch_at - at)
    source = sources.get(source_id)
    assert outcome.error == "HTTP 500 Internal Server Error"
    assert source.last_error == "HTTP 500 Internal Server Error"
    assert source.consecutive_failures == 3 and source.error_count == 3
    # 10 and 20 minutes, each with half of its +10% jitter; disabled at once at the third
    assert waits == [timedelta(minutes=10.5), timedelta(minutes=21), timedelta(0)]
    assert not source.enabled and source.disabled_reason == "3 failed fetches in a row"


def test_slow_servers_time_out(sources, upstream):
    stalls = sources.add(upstream.serve("/stall", RSS, delay=1.5))
    assert sources.refresh(stalls).error.startswith("timed out")
    trickles = sources.add(upstream.serve("/trickle", RSS * 3, delay=0.3, chunks=10))
    assert sources.refresh(trickles).error == "slower than 2 s"


def test_private_addresses_are_refused_unless_allowed(sources, upstream, ingest_settings):
    strict = ingest_settings.model_copy(update={"allow_private_urls": False})
    url = upstream.serve("/feed", RSS)
    strict_sources = type(sources)(sources.database, strict)
    with pytest.raises(UnsafeURL, match=r"non-public address 127\.0\.0\.1"):
        strict_sources.add(url)
    with pytest.raises(UnsafeURL):
        strict_sources.add("file:///etc/passwd")
    source_id = sources.add(url)  # added while allowed, fetched after it was switched off
    assert "non-public address" in sources.refresh(source_id, strict).error
    assert upstream.hits("/feed") == 0


def test_one_bad_source_never_stops_the_others(sources, upstream, db, ingest_settings):
    good = sources.add(upstream.serve("/good", RSS))
    bad = sources.add(upstream.serve("/bad", "<html>not a feed</html>"))
    dead = sources.add("http://127.0.0.1:9/refused")
    for source_id in (good, bad, dead):
        sources.make_due(source_id, utcnow() - timedelta(minutes=1))
    parsers = ParserPool(1)  # as in the worker: parsed in another process
    try:
        outcomes = refresh_due_sources(db, ingest_settings, utcnow, random.Random(1), parsers.parse)
    finally:
        parsers.close()
    outcomes = {o.source_id: o for o in outcomes}
    assert len(outcomes[good].new_ids) == 1
    assert outcomes[bad].error.startswith("not a feed")
    assert "ConnectError" in outcomes[dead].error
    assert sources.get(bad).last_error.startswith("not a feed")
    assert (
        refresh_due_sources(db, ingest_settings, utcnow, random.Random(1)) == []
    )  # nothing due any more
