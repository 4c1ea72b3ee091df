"""Pure scheduling decisions: when a source is fetched next, and when it is disabled.

Time and randomness come in as arguments, so tests need no clock.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from feedsvc.settings import Settings

JITTER = 0.1  # ±10% of the interval, so sources added together drift apart


@dataclass(frozen=True)
class NextFetch:
    at: datetime
    disable_reason: str = ""


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
    """``failures`` counts this one. 410 disables at once; 429/503 honour Retry-After;
    otherwise the wait doubles per failure (interval × 2^(n-1)), capped, with jitter; after
    ``max_consecutive_failures`` in a row the source is disabled."""
    if status == 410:
        return NextFetch(now, "the feed is gone (HTTP 410 Gone)")
    if failures >= settings.max_consecutive_failures:
        return NextFetch(now, f"{failures} failed fetches in a row")
    cap = timedelta(minutes=settings.backoff_max_minutes)
    if status in (429, 503) and retry_after is not None:
        return NextFetch(now + min(max(retry_after, timedelta(minutes=1)), cap))
    backoff = timedelta(minutes=interval_minutes) * 2 ** min(failures - 1, 20)
    wait = min(backoff, cap) * (1 + JITTER * rng.random())
    return NextFetch(now + wait)
