"""The one refresh path: claim sources, fetch them, parse them, store what is new, record
health. The worker's rounds of due sources and manual fetches (``feedsvc fetch``, "fetch
now" of the API and the admin) are the same round (``refresh_sources``), with other claims
(``ingest.claims``).

No database transaction is open while a source is fetched or parsed. Recording a fetch ends
its claim; a failure holds the source back (``hold_until``) until its next try, which manual
fetches respect unless forced.

The clock and the random source come from the caller (the scheduler, the CLI, the web
views): a round reads the time when it claims and when it records each fetch (a fetch takes
up to ``fetch_total_timeout``), so it takes a ``Clock``; a test passes a fixed one and gets
exact times.
"""

import logging
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from feedsvc.announcement import max_age
from feedsvc.db import Database
from feedsvc.errors import N_, NotAFeed, NotFound
from feedsvc.ingest.claims import (
    Claims,
    DueClaims,
    ManualClaims,
    Ticket,
    enabled_source_ids,
    host_of,
)
from feedsvc.ingest.fetch import FetchResult, fetch_feed
from feedsvc.ingest.history import ERROR, NOT_MODIFIED, OK, record_fetch
from feedsvc.ingest.parse import ParsedFeed, parse_feed
from feedsvc.ingest.schedule import Hold, after_failure, after_success
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
from feedsvc.text import Clock, clean_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshOutcome:
    source_id: int
    status: int | None
    new_ids: tuple[int, ...] = ()
    updated: int = 0
    error: str = ""
    warning: str = ""
    disabled_reason: str = ""
    skipped: str = ""  # not fetched, and why: claims.SKIP_HELD, SKIP_BUSY or SKIP_FRESH
    hold: Hold | None = None  # with SKIP_HELD: until when, and why


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
    source.claimed_until = None
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
        source.hold_until, source.hold_reason = plan.at, plan.hold_reason
        if plan.disable_reason:
            source.enabled, source.disabled_reason = False, plan.disable_reason
            source.hold_until, source.hold_reason = None, ""
        record_fetch(
            session, source.id, now, ERROR, fetched.status, fetched.duration_ms, error=error
        )
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
        source.site_url = _web_address(parsed.link)
        warning = ". ".join(filter(None, (parsed.warning, result.warning)))
        source.last_warning = warning
        source.last_skipped = result.skipped
        source.item_count += len(stored_new)
        unannounced = result.unannounced
    else:  # 304: the lease may still need renewing, at the hub we know
        subscribe = want_subscription(source, source.websub_hub, source.websub_topic, settings, now)
    source.consecutive_failures = 0
    source.hold_until, source.hold_reason = None, ""
    source.last_error = ""
    source.last_new, source.last_updated = len(stored_new), stored_updated
    source.last_unannounced = unannounced
    record_fetch(
        session,
        source.id,
        now,
        OK if parsed is not None else NOT_MODIFIED,
        fetched.status,
        fetched.duration_ms,
        len(stored_new),
        stored_updated,
    )
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


def _web_address(link: str | None) -> str | None:
    """A feed's site link, if it is an http(s) address that fits (it is shown as a link)."""
    if link and len(link) <= 2000 and urlsplit(link).scheme in ("http", "https"):
        return link
    return None


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
    """A 304, the most common outcome of a poll: one UPDATE from what the claim read (and
    its line in the fetch history, unless the source was deleted meanwhile)."""
    updated = session.execute(
        update(Source)
        .where(Source.id == ticket.source_id)
        .values(
            last_fetch_at=now,
            claimed_until=None,
            hold_until=None,
            hold_reason="",
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
    if updated.rowcount:  # type: ignore[attr-defined]
        record_fetch(
            session, ticket.source_id, now, NOT_MODIFIED, fetched.status, fetched.duration_ms
        )
    return RefreshOutcome(ticket.source_id, fetched.status)


Parser = Callable[[bytes, str, str], ParsedFeed]


def run_ticket(
    database: Database,
    settings: Settings,
    client: httpx.Client,
    ticket: Ticket,
    clock: Clock,
    rng: random.Random,
    parse: Parser = parse_feed,
) -> RefreshOutcome:
    fetched = fetch_feed(client, settings, ticket.url, clock(), ticket.etag, ticket.last_modified)
    parsed, error = None, fetched.error
    if not error and fetched.status == 200:
        try:
            parsed = parse(fetched.body, fetched.url, fetched.content_type)
        except NotAFeed as exc:
            error = str(exc)
    when = clock()
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
                clock(),
                rng,
            )
        return outcome
    if subscribe is not None:
        problem = send_subscription(client, settings, subscribe)
        if problem:
            with database.transaction() as session:
                record_subscription_error(session, subscribe.source_id, problem)
    return outcome


Which = Literal["due", "enabled"] | int  # the due sources, every enabled one, or that one


def refresh_source(
    database: Database,
    settings: Settings,
    source_id: int,
    clock: Clock,
    rng: random.Random,
    *,
    force: bool = False,
) -> RefreshOutcome:
    """Fetch one source now ("fetch now" of the API and the admin), due or not, unless it is
    skipped (``RefreshOutcome.skipped``); NotFound if there is no such source."""
    (outcome,) = refresh_sources(database, settings, source_id, clock, rng, force=force)
    return outcome


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


def refresh_sources(
    database: Database,
    settings: Settings,
    which: Which,
    clock: Clock,
    rng: random.Random,
    parse: Parser = parse_feed,
    client: httpx.Client | None = None,
    *,
    force: bool = False,
    stopping: threading.Event | None = None,
) -> list[RefreshOutcome]:
    """The one refresh round, of the worker (``which="due"``) and of manual fetches (every
    enabled source, or one by id): ``fetch_concurrency`` fetches at once, at most
    ``fetch_per_host`` at once to one host, until none is left or ``stopping`` is set.

    No batch barrier: a source claimed takes one slot, and whenever a slot frees the next
    source is claimed, so a slow upstream (bounded by ``fetch_total_timeout``) holds up
    nobody else. Once ``stopping`` is set, running fetches have STOP_GRACE seconds; those
    still running are left to their lease, in daemon threads that do not hold up the
    process's exit. ``parse`` is where feeds are parsed: in the fetching thread by default,
    in other processes when given ``ParserPool.parse``. ``client``: a long-lived fetch
    client (the worker's), else one made for this round. ``force``: manual fetches also
    fetch sources a failure holds back. Outcomes come in the order fetches end, skipped
    sources (manual rounds) among them.
    """
    stopping = stopping or threading.Event()
    with database.transaction() as session:
        claims = _claims_of(session, which, force, clock())
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
                ended.put(
                    (ticket, run_ticket(database, settings, fetcher, ticket, clock, rng, parse))
                )
            except Exception as exc:  # e.g. the database went away: the lease brings it back
                ended.put((ticket, exc))

        last_claim = -poll
        while True:
            free = settings.fetch_concurrency - running
            if free and not stopping.is_set() and time.monotonic() - last_claim >= poll:
                with database.transaction() as session:
                    tickets, skipped = claims.take(session, settings, clock(), free, busy_hosts)
                last_claim = time.monotonic()
                outcomes.extend(
                    RefreshOutcome(k.source_id, None, skipped=k.why, hold=k.hold) for k in skipped
                )
                for ticket in tickets:
                    busy_hosts[host_of(ticket.url)] += 1
                    running += 1
                    threading.Thread(target=fetch, args=(ticket,), daemon=True).start()
            if not running and (claims.finished or stopping.is_set()):
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
                if not result.skipped:
                    _log_outcome(ticket, result)
                outcomes.append(result)
    fetched = [o for o in outcomes if not o.skipped]
    if fetched:
        log.debug(
            "refreshed %d source(s): %d new, %d updated, %d failed",
            len(fetched),
            sum(len(o.new_ids) for o in fetched),
            sum(o.updated for o in fetched),
            sum(1 for o in fetched if o.error),
        )
    return outcomes


def refresh_due_sources(
    database: Database,
    settings: Settings,
    clock: Clock,
    rng: random.Random,
    parse: Parser = parse_feed,
    client: httpx.Client | None = None,
    *,
    stopping: threading.Event | None = None,
) -> list[RefreshOutcome]:
    """The scheduler's job: one round of the due sources (see ``refresh_sources``)."""
    return refresh_sources(database, settings, "due", clock, rng, parse, client, stopping=stopping)


def _claims_of(session: Session, which: Which, force: bool, now: datetime) -> Claims:
    if isinstance(which, int):
        if session.get(Source, which) is None:
            raise NotFound(N_("Không có nguồn tin %(id)s"), id=which)
        return ManualClaims([which], force, now)
    if which == "enabled":
        return ManualClaims(enabled_source_ids(session), force, now)
    return DueClaims()
