"""Pure scheduling decisions: when a source is fetched next, when it is disabled, and
whether a manual fetch must wait for it.

Time and randomness come in as arguments, so tests need no clock.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from feedsvc.settings import Settings

JITTER = 0.1  # ±10% of the interval, so sources added together drift apart


HOLD_RETRY_AFTER = "retry_after"  # the upstream answered 429/503 with Retry-After
HOLD_BACKOFF = "backoff"  # the source failed: its next try waits, longer each failure
HOLD_REASONS = {  # for the CLI and the API; the admin UI says it in Vietnamese
    HOLD_RETRY_AFTER: "the upstream asked to wait (Retry-After)",
    HOLD_BACKOFF: "backing off after failed fetches",
}


@dataclass(frozen=True)
class NextFetch:
    at: datetime
    disable_reason: str = ""
    hold_reason: str = ""  # why ``at`` holds back manual fetches too ("": it does not)


@dataclass(frozen=True)
class Hold:
    """A source held back from manual fetches until ``until``, for ``reason``."""

    until: datetime
    reason: str


def first_fetch(now: datetime, interval_minutes: int, rng: random.Random) -> datetime:
    """A new source is first fetched soon, spread over a tenth of its interval."""
    return now + timedelta(minutes=interval_minutes * JITTER * rng.random())


def after_success(now: datetime, interval_minutes: int, rng: random.Random) -> NextFetch:
    factor = 1 + JITTER * (2 * rng.random() - 1)
    return NextFetch(now + timedelta(minutes=interval_minutes * factor))


def after_failure(
    now: datetime,
    interval_minutes: int,
    failures: int,
    status: int | None,
    retry_after: timedelta | None,
    settings: Settings,
    rng: random.Random,
) -> NextFetch:
    """``failures`` counts this one. 410 disables at once; 429/503 honour Retry-After (at
    least a minute, at most ``backoff_max_minutes``: an upstream cannot silence a source for
    longer); otherwise the wait doubles per failure (interval × 2^(n-1)), capped, with
    jitter; after ``max_consecutive_failures`` in a row the source is disabled. Until the
    time returned, manual fetches are held back too (``hold_reason``)."""
    if status == 410:
        return NextFetch(now, "the feed is gone (HTTP 410 Gone)")
    if failures >= settings.max_consecutive_failures:
        return NextFetch(now, f"{failures} failed fetches in a row")
    cap = timedelta(minutes=settings.backoff_max_minutes)
    if status in (429, 503) and retry_after is not None:
        wait = min(max(retry_after, timedelta(minutes=1)), cap)
        return NextFetch(now + wait, hold_reason=HOLD_RETRY_AFTER)
    backoff = timedelta(minutes=interval_minutes) * 2 ** min(failures - 1, 20)
    wait = min(backoff, cap) * (1 + JITTER * rng.random())
    return NextFetch(now + wait, hold_reason=HOLD_BACKOFF)


def manual_fetch_hold(
    hold_until: datetime | None, hold_reason: str, now: datetime, force: bool
) -> Hold | None:
    """Whether a manual fetch ("fetch now", ``feedsvc fetch``) must skip a source: only while
    a failure holds it back, and not when forced. A healthy source that is merely not due
    is fetched: that is what a manual fetch is for."""
    if force or hold_until is None or hold_until <= now:
        return None
    return Hold(hold_until, hold_reason or HOLD_BACKOFF)
