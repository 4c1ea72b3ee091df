"""Claims: which sources a refresh round fetches, taken in short transactions.

A source is claimed by moving its ``next_fetch_at`` past a lease and setting
``claimed_until`` to the lease's end (``FOR UPDATE SKIP LOCKED`` on PostgreSQL for the
worker's due sources), so any number of workers share the due sources without fetching one
twice, a worker that dies mid-fetch leaves the source due again when the lease ends, and a
manual fetch never runs beside another process's fetch of the same source.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.ingest.schedule import Hold, manual_fetch_hold
from feedsvc.ingest.websub import renewal_due
from feedsvc.models import Source
from feedsvc.settings import Settings


@dataclass(frozen=True)
class Ticket:
    """What a claimed source's fetch needs, read in the claiming transaction."""

    source_id: int
    url: str
    etag: str | None
    last_modified: str | None
    interval_minutes: int
    renew_at: datetime | None  # when the WebSub lease needs renewing, if one is active


SKIP_HELD = "held"  # a failure holds it back (``hold``): Retry-After or backoff
SKIP_BUSY = "busy"  # another process is fetching it right now
SKIP_FRESH = "fresh"  # another process fetched it since this manual fetch began


@dataclass(frozen=True)
class Skip:
    """A source a manual round does not fetch, and why (``hold`` with SKIP_HELD)."""

    source_id: int
    why: str
    hold: Hold | None = None


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.fetch_total_timeout * 2 + 60)


def _claim(source: Source, now: datetime, settings: Settings) -> Ticket:
    source.next_fetch_at = source.claimed_until = now + _lease(settings)
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
        tickets.append(_claim(source, now, settings))
        if len(tickets) == limit:
            break
    return tickets


class Claims(Protocol):
    """Which sources a refresh round fetches: ``take`` claims up to ``limit`` of them (and
    says which it skipped); the round ends once nothing runs and ``finished`` is true."""

    @property
    def finished(self) -> bool: ...

    def take(
        self, session: Session, settings: Settings, now: datetime, limit: int, busy: Counter[str]
    ) -> tuple[list[Ticket], list[Skip]]: ...


class DueClaims:
    """The worker's round: due sources, as long as there are any."""

    finished = True

    def take(
        self, session: Session, settings: Settings, now: datetime, limit: int, busy: Counter[str]
    ) -> tuple[list[Ticket], list[Skip]]:
        return claim_due_sources(session, settings, now, limit, busy), []


class ManualClaims:
    """A manual round: each of ``source_ids`` once, due or not, in id order, unless another
    process is fetching it or has fetched it since ``started``, or a failure holds it back
    and ``force`` is not given. Row locks wait (no SKIP LOCKED) for a worker's short claim
    or record transaction, so its claim is seen; the worker skips what is locked here."""

    def __init__(self, source_ids: Iterable[int], force: bool, started: datetime) -> None:
        self.pending = list(dict.fromkeys(source_ids))
        self.force = force
        self.started = started

    @property
    def finished(self) -> bool:
        return not self.pending

    def take(
        self, session: Session, settings: Settings, now: datetime, limit: int, busy: Counter[str]
    ) -> tuple[list[Ticket], list[Skip]]:
        looked_at = self.pending[: limit * 4]
        stmt = select(Source).where(Source.id.in_(looked_at)).order_by(Source.id)
        rows = {source.id: source for source in session.scalars(stmt.with_for_update())}
        taken = Counter(busy)
        tickets: list[Ticket] = []
        skipped: list[Skip] = []
        decided: set[int] = set()
        for source_id in looked_at:
            source = rows.get(source_id)
            if source is None:  # deleted meanwhile
                decided.add(source_id)
                continue
            why, hold = self._skip(source, now)
            if why:
                skipped.append(Skip(source_id, why, hold))
                decided.add(source_id)
            elif len(tickets) < limit and taken[host_of(source.url)] < settings.fetch_per_host:
                taken[host_of(source.url)] += 1
                tickets.append(_claim(source, now, settings))
                decided.add(source_id)
        self.pending = [i for i in self.pending if i not in decided]
        return tickets, skipped

    def _skip(self, source: Source, now: datetime) -> tuple[str, Hold | None]:
        if source.claimed_until is not None and source.claimed_until > now:
            return SKIP_BUSY, None
        if source.last_fetch_at is not None and source.last_fetch_at >= self.started:
            return SKIP_FRESH, None
        hold = manual_fetch_hold(source.hold_until, source.hold_reason, now, self.force)
        return (SKIP_HELD, hold) if hold else ("", None)


def enabled_source_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Source.id).where(Source.enabled.is_(True))))
