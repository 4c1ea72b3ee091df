"""The one refresh path: claim a source, fetch it, parse it, store what is new, record health.

No database transaction is open while a source is fetched or parsed. A source is *claimed*
by moving its ``next_fetch_at`` past a lease in a short transaction (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so any number of workers share the due sources without fetching one
twice; a worker that dies mid-fetch leaves the source due again when the lease ends.
"""

import logging
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from feedsvc.announcement import max_age
from feedsvc.db import Database
from feedsvc.errors import N_, Conflict, NotAFeed, NotFound
from feedsvc.ingest.fetch import FetchResult, fetch_feed
from feedsvc.ingest.parse import ParsedFeed, parse_feed
from feedsvc.ingest.schedule import after_failure, after_success
from feedsvc.ingest.store import store_entries
from feedsvc.ingest.websub import (
    SubscribeRequest,
    record_subscription_error,
    renewal_due,
    send_subscription,
    want_subscription,
)
from feedsvc.models import Source
from feedsvc.outbound import fetch_client
from feedsvc.settings import Settings
from feedsvc.text import clean_line, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ticket:
    """What a claimed source's fetch needs, read in the claiming transaction."""

    source_id: int
    url: str
    etag: str | None
    last_modified: str | None
    interval_minutes: int
    renew_at: datetime | None  # when the WebSub lease needs renewing, if one is active


@dataclass(frozen=True)
class RefreshOutcome:
    source_id: int
    status: int | None
    new_ids: tuple[int, ...] = ()
    updated: int = 0
    error: str = ""
    warning: str = ""
    disabled_reason: str = ""


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.fetch_total_timeout * 2 + 60)


def _ticket(source: Source, now: datetime, settings: Settings) -> Ticket:
    source.next_fetch_at = now + _lease(settings)
    return Ticket(
        source.id,
        source.url,
        source.etag,
        source.last_modified,
        source.interval_minutes,
        renewal_due(source.websub_state, source.websub_lease_expires_at),
    )


def host_of(url: str) -> str:
    """What ``fetch_per_host`` counts by: the URL's host and port."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()


def claim_due_sources(
    session: Session,
    settings: Settings,
    now: datetime,
    limit: int,
    busy_hosts: Mapping[str, int] | None = None,
) -> list[Ticket]:
    """Claim up to ``limit`` due sources, oldest due first, none of a host that already has
    ``fetch_per_host`` fetches running here (``busy_hosts``). Looks at a few times ``limit``
    due rows, so a host with many due sources does not hold back the others behind it."""
    taken = Counter(busy_hosts or {})
    stmt = (
        select(Source)
        .where(Source.enabled.is_(True), Source.next_fetch_at <= now)
        .order_by(Source.next_fetch_at)
        .limit(limit * 4)
        .with_for_update(skip_locked=True)
    )
    tickets: list[Ticket] = []
    for source in session.scalars(stmt):
        host = host_of(source.url)
        if taken[host] >= settings.fetch_per_host:
            continue
        taken[host] += 1
        tickets.append(_ticket(source, now, settings))
        if len(tickets) == limit:
            break
    return tickets


def claim_source(session: Session, settings: Settings, source_id: int, now: datetime) -> Ticket:
    """Claim one source now, due or not ("fetch now"); refused while another fetch runs."""
    stmt = select(Source).where(Source.id == source_id).with_for_update(skip_locked=True)
    source = session.scalar(stmt)
    if source is None:
        if session.get(Source, source_id) is None:
            raise NotFound(N_("Không có nguồn tin %(id)s"), id=source_id)
        raise Conflict(N_("Nguồn tin %(id)s đang được lấy tin"), id=source_id)
    return _ticket(source, now, settings)


def _record(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    fetched: FetchResult,
    parsed: ParsedFeed | None,
    error: str,
    now: datetime,
    rng: random.Random,
) -> tuple[RefreshOutcome, SubscribeRequest | None]:
    source = session.get(Source, ticket.source_id, with_for_update=True)
    if source is None:  # deleted while it was being fetched
        return RefreshOutcome(ticket.source_id, fetched.status, error="source deleted"), None
    source.last_fetch_at = now
    source.last_status = fetched.status
    source.last_duration_ms = fetched.duration_ms
    source.last_bytes = fetched.size
    source.fetch_count += 1
    if (
        fetched.moved_to
        and session.scalar(select(Source.id).where(Source.url == fetched.moved_to)) is None
    ):
        source.url = fetched.moved_to
    if error:
        source.consecutive_failures += 1
        source.error_count += 1
        source.last_error = error
        source.last_new = source.last_updated = source.last_skipped = 0
        source.last_unannounced = 0
        plan = after_failure(
            now,
            source.interval_minutes,
            source.consecutive_failures,
            fetched.status,
            fetched.retry_after,
            settings,
            rng,
        )
        source.next_fetch_at = plan.at
        if plan.disable_reason:
            source.enabled, source.disabled_reason = False, plan.disable_reason
        outcome = RefreshOutcome(
            source.id, fetched.status, error=error, disabled_reason=plan.disable_reason
        )
        return outcome, None
    stored_new: tuple[int, ...] = ()
    stored_updated = unannounced = 0
    if parsed is not None:
        subscribe = want_subscription(source, parsed.hub, parsed.self_url, settings, now)
        result = store_entries(
            session,
            source,
            parsed.entries,
            now,
            settings.max_new_entries_per_fetch,
            max_age(settings.announce_max_age_hours),
        )
        stored_new, stored_updated = result.new_ids, result.updated
        source.etag, source.last_modified = fetched.etag, fetched.last_modified
        source.title = source.title or clean_line(parsed.title)[:500]
        warning = ". ".join(filter(None, (parsed.warning, result.warning)))
        source.last_warning = warning
        source.last_skipped = result.skipped
        source.item_count += len(stored_new)
        unannounced = result.unannounced
    else:  # 304: the lease may still need renewing, at the hub we know
        subscribe = want_subscription(source, source.websub_hub, source.websub_topic, settings, now)
    source.consecutive_failures = 0
    source.last_error = ""
    source.last_new, source.last_updated = len(stored_new), stored_updated
    source.last_unannounced = unannounced
    source.next_fetch_at = _next_poll(
        source.interval_minutes,
        renewal_due(source.websub_state, source.websub_lease_expires_at),
        settings,
        now,
        rng,
    )
    outcome = RefreshOutcome(
        source.id,
        fetched.status,
        stored_new,
        stored_updated,
        warning=source.last_warning if parsed else "",
    )
    return outcome, subscribe


def _next_poll(
    interval_minutes: int,
    renew_at: datetime | None,
    settings: Settings,
    now: datetime,
    rng: random.Random,
) -> datetime:
    """Pushed by WebSub, a source is polled only as a safety net, and in time to renew."""
    if renew_at is None:
        return after_success(now, interval_minutes, rng).at
    interval = max(interval_minutes, settings.websub_poll_minutes)
    return min(after_success(now, interval, rng).at, max(renew_at, now))


def _record_not_modified(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    fetched: FetchResult,
    now: datetime,
    rng: random.Random,
) -> RefreshOutcome:
    """A 304, the most common outcome of a poll: one UPDATE from what the claim read."""
    session.execute(
        update(Source)
        .where(Source.id == ticket.source_id)
        .values(
            last_fetch_at=now,
            last_status=fetched.status,
            last_duration_ms=fetched.duration_ms,
            last_bytes=0,
            fetch_count=Source.fetch_count + 1,
            consecutive_failures=0,
            last_error="",
            last_new=0,
            last_updated=0,
            last_skipped=0,
            last_unannounced=0,
            next_fetch_at=_next_poll(ticket.interval_minutes, ticket.renew_at, settings, now, rng),
        )
    )
    return RefreshOutcome(ticket.source_id, fetched.status)


Parser = Callable[[bytes, str, str], ParsedFeed]


def run_ticket(
    database: Database,
    settings: Settings,
    client: httpx.Client,
    ticket: Ticket,
    rng: random.Random,
    parse: Parser = parse_feed,
    now: Callable[[], datetime] = utcnow,
) -> RefreshOutcome:
    fetched = fetch_feed(client, settings, ticket.url, now(), ticket.etag, ticket.last_modified)
    parsed, error = None, fetched.error
    if not error and fetched.status == 200:
        try:
            parsed = parse(fetched.body, fetched.url, fetched.content_type)
        except NotAFeed as exc:
            error = str(exc)
    when = now()
    renewing = ticket.renew_at is not None and when >= ticket.renew_at
    if fetched.status == 304 and not error and not fetched.moved_to and not renewing:
        with database.transaction() as session:
            return _record_not_modified(session, settings, ticket, fetched, when, rng)
    try:
        with database.transaction() as session:
            outcome, subscribe = _record(
                session, settings, ticket, fetched, parsed, error, when, rng
            )
    except Exception as exc:  # a bug or a database error on one source must not stop others
        log.exception("storing source %s failed", ticket.source_id)
        with database.transaction() as session:
            failed = FetchResult(fetched.url, fetched.status, duration_ms=fetched.duration_ms)
            outcome, _ = _record(
                session,
                settings,
                ticket,
                failed,
                None,
                f"could not store entries: {exc!r}",
                now(),
                rng,
            )
        return outcome
    if subscribe is not None:
        problem = send_subscription(client, settings, subscribe)
        if problem:
            with database.transaction() as session:
                record_subscription_error(session, subscribe.source_id, problem)
    return outcome


def refresh_source(
    database: Database, settings: Settings, source_id: int, rng: random.Random | None = None
) -> RefreshOutcome:
    """Fetch one source now (CLI, API, admin)."""
    with database.transaction() as session:
        ticket = claim_source(session, settings, source_id, utcnow())
    with fetch_client(settings) as client:
        return run_ticket(database, settings, client, ticket, rng or random.Random())


STOP_GRACE = 5.0  # seconds running fetches have to end once the job is stopping


def _log_outcome(ticket: Ticket, outcome: RefreshOutcome) -> None:
    """One line per fetch: INFO when it found something or went wrong, DEBUG for nothing
    new (a 304, an unchanged document), which is most fetches."""
    status = f"HTTP {outcome.status}" if outcome.status else "no answer"
    line = f"source {ticket.source_id} fetched <{ticket.url}>: {status}"
    if outcome.error:
        disabled = (
            f"; source disabled: {outcome.disabled_reason}" if outcome.disabled_reason else ""
        )
        log.warning("%s, failed: %s%s", line, outcome.error, disabled)
    elif outcome.new_ids or outcome.updated or outcome.warning:
        warning = f" (warning: {outcome.warning})" if outcome.warning else ""
        log.info("%s, %d new, %d updated%s", line, len(outcome.new_ids), outcome.updated, warning)
    else:
        log.debug("%s, nothing new", line)


def refresh_due_sources(
    database: Database,
    settings: Settings,
    rng: random.Random | None = None,
    parse: Parser = parse_feed,
    client: httpx.Client | None = None,
    *,
    stopping: threading.Event | None = None,
) -> list[RefreshOutcome]:
    """The scheduler's job: fetch due sources, ``fetch_concurrency`` at once, at most
    ``fetch_per_host`` at once to one host, until none is due or ``stopping`` is set.

    No batch barrier: a source claimed takes one slot, and whenever a slot frees the next
    due source is claimed, so a slow upstream (bounded by ``fetch_total_timeout``) holds up
    nobody else. Once ``stopping`` is set, running fetches have STOP_GRACE seconds; those
    still running are left to their lease, in daemon threads that do not hold up the
    process's exit. ``parse`` is where feeds are parsed: in the fetching thread by default,
    in other processes when the scheduler passes ``ParserPool.parse``. ``client``: the
    worker's long-lived fetch client, else one made for this run.
    """
    rng = rng or random.Random()
    stopping = stopping or threading.Event()
    poll = float(min(settings.scheduler_tick_seconds, 5))
    ended: queue.SimpleQueue[tuple[Ticket, RefreshOutcome | Exception]] = queue.SimpleQueue()
    running = 0
    busy_hosts: Counter[str] = Counter()
    outcomes: list[RefreshOutcome] = []
    stop_by: float | None = None
    with ExitStack() as stack:
        fetcher = client or stack.enter_context(fetch_client(settings))

        def fetch(ticket: Ticket) -> None:
            try:
                ended.put((ticket, run_ticket(database, settings, fetcher, ticket, rng, parse)))
            except Exception as exc:  # e.g. the database went away: the lease brings it back
                ended.put((ticket, exc))

        last_claim = -poll
        while True:
            free = settings.fetch_concurrency - running
            if free and not stopping.is_set() and time.monotonic() - last_claim >= poll:
                with database.transaction() as session:
                    tickets = claim_due_sources(session, settings, utcnow(), free, busy_hosts)
                last_claim = time.monotonic()
                for ticket in tickets:
                    busy_hosts[host_of(ticket.url)] += 1
                    running += 1
                    threading.Thread(target=fetch, args=(ticket,), daemon=True).start()
            if not running:
                break
            if stopping.is_set():
                stop_by = stop_by or time.monotonic() + STOP_GRACE
                if time.monotonic() >= stop_by:
                    break
            try:
                ticket, result = ended.get(timeout=1)
            except queue.Empty:
                continue
            running -= 1
            busy_hosts[host_of(ticket.url)] -= 1
            last_claim = -poll  # a slot is free: claim at once
            if isinstance(result, Exception):
                log.error("refreshing source %s failed", ticket.source_id, exc_info=result)
            else:
                _log_outcome(ticket, result)
                outcomes.append(result)
    if outcomes:
        log.debug(
            "refreshed %d source(s): %d new, %d updated, %d failed",
            len(outcomes),
            sum(len(o.new_ids) for o in outcomes),
            sum(o.updated for o in outcomes),
            sum(1 for o in outcomes if o.error),
        )
    return outcomes
