"""Manual fetches (`feedsvc fetch`, the admin's "fetch now", the API's fetch) take the worker's
round, and are polite: a source held back by an upstream's Retry-After or by backoff after
failures is skipped, saying until when, unless forced; a source another process is fetching
is never fetched beside it."""

import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from feedsvc.ingest.fetch import parse_retry_after
from feedsvc.ingest.schedule import (
    HOLD_BACKOFF,
    HOLD_RETRY_AFTER,
    Hold,
    after_failure,
    manual_fetch_hold,
)
from feedsvc.models import Source
from feedsvc.settings import Settings
from feedsvc.text import format_local, utcnow
from feedsvc.web import create_app
from tests.admin_helpers import make_user, post, sign_in
from tests.conftest import start_worker
from tests.fixed import MIDDLE, FixedRandom
from tests.test_cli import environment, feedsvc
from tests.upstream import InFlight, Upstream
from tests.waiting import wait_until

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=2)
RSS = (
    '<rss version="2.0"><channel><title>Nguồn</title><link>http://x.vn/</link>'
    "<description>d</description><item><title>Tin</title><guid>1</guid></item>"
    "</channel></rss>"
)
ALLOW = {"FEEDSVC_ALLOW_PRIVATE_URLS": "true"}


# --- pure decisions, with `now` passed in -------------------------------------------------


@pytest.mark.parametrize(
    ("hold_until", "reason", "force", "expected"),
    [
        (None, "", False, None),  # never failed
        (NOW - timedelta(seconds=1), HOLD_BACKOFF, False, None),  # the hold is over
        (NOW, HOLD_BACKOFF, False, None),  # ends at that very time
        (LATER, HOLD_RETRY_AFTER, False, Hold(LATER, HOLD_RETRY_AFTER)),
        (LATER, HOLD_BACKOFF, False, Hold(LATER, HOLD_BACKOFF)),
        (LATER, "", False, Hold(LATER, HOLD_BACKOFF)),
        (LATER, HOLD_RETRY_AFTER, True, None),  # forced
    ],
)
def test_manual_fetch_hold(hold_until, reason, force, expected):
    assert manual_fetch_hold(hold_until, reason, NOW, force) == expected


MINUTE = timedelta(minutes=1)
CAP = timedelta(minutes=Settings().backoff_max_minutes)


@pytest.mark.parametrize(
    ("status", "retry_after", "failures", "wait", "reason"),
    [
        (429, timedelta(seconds=120), 1, timedelta(seconds=120), HOLD_RETRY_AFTER),
        (503, timedelta(seconds=120), 4, timedelta(seconds=120), HOLD_RETRY_AFTER),
        (429, timedelta(seconds=5), 1, MINUTE, HOLD_RETRY_AFTER),  # at least a minute
        (503, timedelta(days=3650), 1, CAP, HOLD_RETRY_AFTER),  # "10 years": capped
        (429, None, 1, 15 * MINUTE, HOLD_BACKOFF),  # no Retry-After: backoff
        (302, timedelta(seconds=120), 1, 15 * MINUTE, HOLD_BACKOFF),  # only 429/503 count
        (500, None, 1, 15 * MINUTE, HOLD_BACKOFF),
        (500, None, 3, 60 * MINUTE, HOLD_BACKOFF),  # interval × 2^(n-1)
        (None, None, 9, CAP, HOLD_BACKOFF),  # capped
    ],
)
def test_after_failure_holds_until_the_next_try(status, retry_after, failures, wait, reason):
    plan = after_failure(NOW, 15, failures, status, retry_after, Settings(), FixedRandom(0.0))
    assert (plan.at - NOW, plan.hold_reason, plan.disable_reason) == (wait, reason, "")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", timedelta(seconds=120)),
        (" 120 ", timedelta(seconds=120)),
        ("Fri, 27 Nov 2026 13:02:00 GMT", timedelta(seconds=120)),
        ("Fri, 27 Nov 2026 12:00:00 GMT", timedelta(0)),  # in the past
        ("99999999999999999999999", timedelta(seconds=10**9)),  # fits, for the cap to apply
        ("Fri, 31 Dec 9999 23:59:59 GMT", timedelta(seconds=10**9)),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_both_forms(header, expected):
    assert parse_retry_after(header, NOW) == expected


# --- through real upstream servers and the real database -----------------------------------


def test_a_source_failing_three_times_is_held_until_its_backoff_time(sources, upstream):
    source_id = sources.add(upstream.serve("/down", status=500))
    # a second apart, in the past: a manual fetch skips a source fetched since it began
    times = [utcnow() - timedelta(seconds=4 - n) for n in range(4)]
    for at in times[:3]:
        failed = sources.refresh(source_id, at=at, rng=FixedRandom(MIDDLE))
        assert failed.error == "HTTP 500 Internal Server Error"
    held = sources.get(source_id)
    skipped = sources.refresh(source_id, force=False, at=times[3])
    assert skipped.skipped == "held" and skipped.status is None
    assert skipped.hold == Hold(held.next_fetch_at, HOLD_BACKOFF)
    assert held.last_fetch_at == times[2]
    assert held.next_fetch_at == times[2] + timedelta(minutes=63)  # 15 × 2², +5% of jitter
    assert upstream.hits("/down") == 3  # no request for the skipped fetch
    upstream.serve("/down", RSS)
    fetched = sources.refresh(source_id, force=True)
    assert fetched.status == 200 and len(fetched.new_ids) == 1
    assert sources.get(source_id).hold_until is None  # a success ends the hold


def test_a_healthy_source_that_is_not_due_is_fetched_now(sources, upstream):
    source_id = sources.add(upstream.serve("/ok", RSS))
    sources.refresh(source_id)
    assert sources.get(source_id).next_fetch_at > utcnow()  # not due
    assert sources.refresh(source_id, force=False).status == 200
    assert upstream.hits("/ok") == 2


def add_source(api, url: str) -> int:  # type: ignore[no-untyped-def]
    added = api.post("/api/v1/sources", json={"url": url, "category": "thoi-su"})
    assert added.status_code == 201, added.get_json()
    return added.get_json()["id"]  # type: ignore[no-any-return]


def test_resuming_a_source_ends_its_hold(api, upstream):
    source_id = add_source(api, upstream.serve("/down", status=503, headers={"Retry-After": "600"}))
    api.post(f"/api/v1/sources/{source_id}/fetch")
    assert api.get(f"/api/v1/sources/{source_id}").get_json()["health"]["hold_reason"] == (
        "retry_after"
    )
    api.patch(f"/api/v1/sources/{source_id}", json={"enabled": False})
    resumed = api.patch(f"/api/v1/sources/{source_id}", json={"enabled": True}).get_json()
    assert resumed["health"]["held_until"] is None and resumed["health"]["hold_reason"] == ""


def test_api_fetch_answers_409_with_the_time_unless_forced(api, upstream):
    source_id = add_source(api, upstream.serve("/busy", status=429, headers={"Retry-After": "120"}))
    first = api.post(f"/api/v1/sources/{source_id}/fetch").get_json()
    assert first["outcome"]["error"] == "HTTP 429 Too Many Requests"
    held = api.post(f"/api/v1/sources/{source_id}/fetch")
    body = held.get_json()
    assert held.status_code == 409 and body["hold_reason"] == "retry_after"
    health = api.get(f"/api/v1/sources/{source_id}").get_json()["health"]
    assert body["held_until"] == health["held_until"]
    last = datetime.fromisoformat(health["last_fetch_at"])
    assert datetime.fromisoformat(body["held_until"]) - last == timedelta(seconds=120)
    assert "held back until" in body["error"] and upstream.hits("/busy") == 1
    refused = api.post(f"/api/v1/sources/{source_id}/fetch?force=perhaps")
    assert refused.status_code == 422 and "force" in refused.get_json()["fields"]
    forced = api.post(f"/api/v1/sources/{source_id}/fetch?force=true")
    assert forced.status_code == 200 and upstream.hits("/busy") == 2


def test_admin_fetch_now_says_until_when_and_the_button_forces(
    ingest_settings, db, sources, upstream
):
    app = create_app(ingest_settings)
    client = app.test_client()
    make_user(db, "lan")
    sign_in(client, "lan")
    source_id = sources.add(upstream.serve("/busy", status=429, headers={"Retry-After": "120"}))
    page = f"/admin/sources/{source_id}"
    fetch = f"{page}/fetch"
    assert "Đã lấy tin" not in client.get(page).data.decode()
    first = post(client, fetch, page=page)  # not held yet: fetched, answered 429
    assert "Lấy tin thất bại: HTTP 429" in client.get(first.headers["Location"]).data.decode()
    until = format_local(sources.get(source_id).hold_until)  # type: ignore[arg-type]
    message = f"Nguồn đang tạm nghỉ đến {until} (máy chủ nguồn yêu cầu chờ (Retry-After))."
    shown = client.get(page).data.decode()
    assert message in shown and "Vẫn lấy ngay" in shown and "Lấy tin ngay" not in shown
    assert 'name="force" value="1"' in shown
    skipped = post(client, fetch, page=page)  # a plain POST, e.g. from a page opened before
    after = client.get(skipped.headers["Location"]).data.decode()
    assert f"{message} Chưa lấy tin" in after and upstream.hits("/busy") == 1
    upstream.serve("/busy", RSS)
    forced = post(client, fetch, {"force": "1"}, page=page)
    done = client.get(forced.headers["Location"]).data.decode()
    assert "Đã lấy tin: 1 tin mới" in done and upstream.hits("/busy") == 2
    assert "Lấy tin ngay" in done and "tạm nghỉ" not in done
    app.extensions["feedsvc.db"].dispose()


# --- `feedsvc fetch`, in a subprocess -------------------------------------------------------


@pytest.mark.slow
def test_cli_fetch_skips_a_source_held_by_retry_after_until_forced(database_url, sources, upstream):
    busy = sources.add(upstream.serve("/busy", status=429, headers={"Retry-After": "120"}))
    ok = sources.add(upstream.serve("/ok", RSS))
    first = feedsvc("fetch", database_url=database_url, **ALLOW)
    assert first.returncode == 1, first.stderr  # a fetch failed
    assert f"{busy}: FAILED: HTTP 429 Too Many Requests" in first.stderr
    assert f"{ok}: HTTP 200, 1 new, 0 updated" in first.stdout  # parsed in a parser process
    held = sources.get(busy)
    assert held.hold_until - held.last_fetch_at == timedelta(seconds=120)  # type: ignore[operator]
    again = feedsvc("fetch", database_url=database_url, **ALLOW)
    assert again.returncode == 75, again.stderr  # none failed, one skipped
    assert again.stdout.splitlines() == [
        f"{busy}: skipped: held back until {format_local(held.hold_until)} "  # type: ignore[arg-type]
        "(the upstream asked to wait (Retry-After)); --force fetches it",
        f"{ok}: HTTP 200, 0 new, 0 updated",  # healthy and not due: fetched
    ]
    assert upstream.hits("/busy") == 1 and upstream.hits("/ok") == 2
    listed = feedsvc("sources", "list", database_url=database_url).stdout
    assert f"held back until {format_local(held.hold_until)}" in listed  # type: ignore[arg-type]
    one = feedsvc("fetch", str(busy), database_url=database_url, **ALLOW)
    assert one.returncode == 75 and upstream.hits("/busy") == 1
    forced = feedsvc("fetch", str(busy), "--force", database_url=database_url, **ALLOW)
    assert forced.returncode == 1 and "HTTP 429" in forced.stderr
    assert upstream.hits("/busy") == 2


@pytest.mark.slow
def test_cli_fetch_of_100_sources_runs_them_concurrently(database_url, sources):
    shared = InFlight()
    hosts = [Upstream(shared).__enter__() for _ in range(4)]
    try:
        for n in range(100):
            # slow 304s, so that fetches overlap when they run concurrently
            sources.add(hosts[n % 4].serve(f"/{n}", status=304, delay=0.2))
        limits = {"FEEDSVC_FETCH_CONCURRENCY": "8", "FEEDSVC_FETCH_PER_HOST": "2"}
        fetched = feedsvc("fetch", database_url=database_url, **ALLOW, **limits)
    finally:
        for host in hosts:
            host.__exit__()
    assert fetched.returncode == 0, fetched.stderr
    lines = fetched.stdout.splitlines()
    assert len(lines) == 100 and all(
        line.endswith(": HTTP 304, 0 new, 0 updated") for line in lines
    )
    assert sorted(len(host.requests) for host in hosts) == [25] * 4
    assert all(host.in_flight.most <= 2 for host in hosts)  # fetch_per_host
    assert 2 < shared.most <= 8  # several hosts at once, within fetch_concurrency


@pytest.mark.slow
def test_a_worker_and_cli_fetch_never_fetch_one_source_at_once(
    database_url, db, sources, upstream, tmp_path
):
    count = 24
    ids = [sources.add(upstream.serve(f"/{n}", RSS, delay=0.3)) for n in range(count)]
    for source_id in ids:
        sources.make_due(source_id, utcnow() + timedelta(hours=1))
    log = tmp_path / "worker.log"
    worker = start_worker(
        database_url, log, scheduler_tick_seconds="1", fetch_concurrency="2", fetch_per_host="2"
    )
    try:
        assert wait_until(lambda: "jobs started" in log.read_text(), 60), log.read_text()
        cli = subprocess.Popen(
            [sys.executable, "-m", "feedsvc.cli", "fetch"],
            env=environment(database_url, FEEDSVC_FETCH_CONCURRENCY="2", **ALLOW),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The CLI's round has begun once the upstream sees it: now the sources it has not
        # claimed yet fall due for the worker too, and both work through them at once.
        assert wait_until(lambda: upstream.requests, 60)
        with db.transaction() as session:
            session.execute(
                update(Source)
                .where(Source.claimed_until.is_(None), Source.last_fetch_at.is_(None))
                .values(next_fetch_at=utcnow())
            )
        out, err = cli.communicate(timeout=120)
        assert cli.returncode in (0, 75), err
        assert wait_until(lambda: all(upstream.hits(f"/{n}") for n in range(count)), 30)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert [upstream.hits(f"/{n}") for n in range(count)] == [1] * count
    assert max(upstream.in_flight.most_per_path.values()) == 1
    by_cli = len(re.findall(r": HTTP 200, 1 new", out))
    by_worker = len(re.findall(r": skipped: another process (?:is fetching|fetched)", out))
    assert by_cli + by_worker == count and by_cli and by_worker, out
