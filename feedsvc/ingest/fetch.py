"""Fetch an upstream feed with httpx: conditional GET, limits, redirects, the address guard.

httpx is used only here (and by the notification channels). Nothing raises for an upstream
problem: every outcome is a ``FetchResult`` that the refresh records on the source.
"""

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

import httpx

from feedsvc.errors import UnsafeURL
from feedsvc.ingest.guard import check_peer, check_url
from feedsvc.settings import Settings

REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT_REDIRECTS = {301, 308}
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


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


def new_client(settings: Settings) -> httpx.Client:
    """One client per batch of fetches, so connections to a host are reused."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.fetch_read_timeout, connect=settings.fetch_connect_timeout),
        headers={"User-Agent": settings.user_agent, "Accept": ACCEPT},
        follow_redirects=False,
        limits=httpx.Limits(max_connections=settings.fetch_concurrency * 2),
    )


def connected_peer(response: httpx.Response) -> str | None:
    """The address the response came from (checked by the private-address guard)."""
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream else None
    return str(peer[0]) if peer else None


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3); None if absent or odd."""
    if not value:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=int(value))
    try:
        return max(parsedate_to_datetime(value) - now, timedelta(0))
    except (TypeError, ValueError):
        return None


def _read_body(response: httpx.Response, settings: Settings, deadline: float) -> tuple[bytes, str]:
    """The decompressed body, or what is wrong: reading stops at the size or time limit
    (so a gzip bomb is cut off after ``fetch_max_bytes`` too)."""
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > settings.fetch_max_bytes:
            return b"", f"body larger than {settings.fetch_max_bytes} bytes"
        if time.monotonic() > deadline:
            return b"", f"slower than {settings.fetch_total_timeout:g} s"
    return bytes(body), ""


def fetch_feed(
    client: httpx.Client,
    settings: Settings,
    url: str,
    now: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """GET ``url`` conditionally, following redirects (each hop checked by the guard)."""
    started = time.monotonic()
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    seen = [url]
    all_permanent = True

    def done(result: FetchResult, **changes: object) -> FetchResult:
        elapsed = int((time.monotonic() - started) * 1000)
        return replace(result, duration_ms=elapsed, **changes)  # type: ignore[arg-type]

    try:
        while True:
            check_url(url, settings.allow_private_urls)
            with client.stream("GET", url, headers=headers) as response:
                check_peer(connected_peer(response), settings.allow_private_urls)
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
                body, error = _read_body(response, settings, started + settings.fetch_total_timeout)
                return done(result, body=body, error=error)
    except UnsafeURL as exc:
        return done(FetchResult(url), error=str(exc))
    except httpx.TimeoutException as exc:
        return done(FetchResult(url), error=f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return done(FetchResult(url), error=f"{type(exc).__name__}: {exc}")
