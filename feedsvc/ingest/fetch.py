"""Fetch an upstream feed: conditional GET, redirects, the size cap.

The caller passes a client made by ``feedsvc.outbound.fetch_client`` (address guard, pinned
connections, the total deadline ``fetch_total_timeout``): the refresh round's, or the one
``ingest.preview`` makes. Nothing raises for an upstream problem: every outcome is a
``FetchResult``, which the refresh records on the source and the preview turns into an
``UpstreamError``.
"""

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TypedDict, Unpack
from urllib.parse import urljoin

import httpx

from feedsvc.errors import UnsafeURL
from feedsvc.outbound import check_scheme, read_capped
from feedsvc.settings import Settings

REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT_REDIRECTS = {301, 308}
RETRY_AFTER_BOUND = 10**9  # seconds (about 31 years): far beyond any cap, within a timedelta


class _Outcome(TypedDict, total=False):
    body: bytes
    error: str


@dataclass(frozen=True)
class FetchResult:
    url: str  # the URL finally answered
    status: int | None = None  # None: no HTTP answer at all
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None  # set when every redirect on the way was permanent
    retry_after: timedelta | None = None
    duration_ms: int = 0
    error: str = ""

    @property
    def size(self) -> int:
        return len(self.body)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3); None if absent or odd.
    Absurd values are bounded here only so they fit a timedelta; the schedule caps them."""
    if not value:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=min(int(value), RETRY_AFTER_BOUND))
    try:
        wait = (parsedate_to_datetime(value) - now).total_seconds()
    except (TypeError, ValueError, OverflowError):
        return None
    return timedelta(seconds=min(max(wait, 0), RETRY_AFTER_BOUND))


def fetch_feed(
    client: httpx.Client,
    settings: Settings,
    url: str,
    now: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """GET ``url`` conditionally, following redirects (each hop checked by the guard, each
    with what is left of ``fetch_total_timeout``)."""
    started = time.monotonic()
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    seen = [url]
    all_permanent = True

    def done(result: FetchResult, **outcome: Unpack[_Outcome]) -> FetchResult:
        elapsed = int((time.monotonic() - started) * 1000)
        return replace(result, duration_ms=elapsed, **outcome)

    try:
        while True:
            check_scheme(url)  # the address is checked by the client, on every connection
            left = settings.fetch_total_timeout - (time.monotonic() - started)
            with client.stream(
                "GET", url, headers=headers, extensions={"total_timeout": left}
            ) as response:
                status = response.status_code
                if status in REDIRECTS and "location" in response.headers:
                    all_permanent &= status in PERMANENT_REDIRECTS
                    url = urljoin(url, response.headers["location"])
                    if url in seen:
                        return done(FetchResult(url, status), error=f"redirect loop at {url}")
                    if len(seen) > settings.fetch_max_redirects:
                        limit = settings.fetch_max_redirects
                        return done(FetchResult(url, status), error=f"more than {limit} redirects")
                    seen.append(url)
                    continue
                result = FetchResult(
                    url,
                    status,
                    content_type=response.headers.get("content-type", ""),
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    moved_to=url if len(seen) > 1 and all_permanent else None,
                    retry_after=parse_retry_after(response.headers.get("retry-after"), now),
                )
                if status == 304:
                    return done(result)
                if status != 200:
                    return done(result, error=f"HTTP {status} {response.reason_phrase}".strip())
                body = read_capped(response, settings.fetch_max_bytes)
                if body is None:
                    error = f"body larger than {settings.fetch_max_bytes} bytes"
                    return done(result, error=error)
                return done(result, body=body)
    except UnsafeURL as exc:
        return done(FetchResult(url), error=str(exc))
    except httpx.TimeoutException as exc:
        if time.monotonic() - started >= settings.fetch_total_timeout - 0.1:
            return done(FetchResult(url), error=f"slower than {settings.fetch_total_timeout:g} s")
        return done(FetchResult(url), error=f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return done(FetchResult(url), error=f"{type(exc).__name__}: {exc}")
