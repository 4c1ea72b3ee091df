"""Housekeeping: what the store no longer needs is removed, in bounded batches.

Kinds of rows removed by ``sweep`` (the settings are ``keep_*`` in config/feedsvc.toml):

- ``hub_subscriptions``: WebSub subscriptions whose lease ended
  ``keep_ended_hub_subscriptions_days`` ago with no request pending (expired, or unsubscribed),
  and denied requests as old. Their queued deliveries go with them (the foreign key
  cascades): the outbox would only end them dead ("the WebSub subscription has ended").
- ``unconfirmed_emails``: addresses never confirmed, ``keep_unconfirmed_email_days`` after
  their confirmation mail; ``unsubscribed_emails``: addresses that left,
  ``keep_unsubscribed_email_days`` after (personal data is kept no longer than it serves).
  Their deliveries go with them.
- ``delivered``: deliveries delivered ``keep_delivered_days`` ago; ``dead_letters``: dead
  letters whose last attempt was ``keep_dead_days`` ago.
- ``payloads``: payloads as old as delivered deliveries that no delivery refers to any more.
  A payload is shared by a fan-out: a pending or failing delivery keeps it, whatever its age.
- ``admin_sessions``: sessions past their end (a logout removes its session at once).
- ``rate_events``, ``rate_keys``: counted events older than every rate limit's window, and
  keys untouched for as long (``ratelimit.KEEP``).
- ``articles``: ingested articles of a source with ``keep_days`` (NULL: for ever, the
  default) published that many days ago; never an article on the first page of a feed (the
  newest ``feed_items`` visible articles of its category, and of ``all``), never one of our
  own (local) articles. The feeds' content versions move with each batch, as with any delete.

Each batch is one short transaction removing at most ``housekeeping_batch_size`` rows chosen
by a subquery (``DELETE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` on
PostgreSQL; SQLite has one writer at a time), so a backlog never holds locks for long, and
sweeps running at once remove each row once, without waiting for each other. Every batch
is found through an index (migration 0020), but for admin sessions: a handful of rows, as
``accounts.log_in`` removes the expired ones too.

The worker's scheduler runs ``sweep_due`` every ``housekeeping_interval_minutes``: however
many workers run it, one claims each interval's sweep.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session

from feedsvc.content import touch_categories
from feedsvc.db import Database
from feedsvc.models import (
    AdminSession,
    Article,
    Category,
    Delivery,
    DeliveryPayload,
    EmailSubscriber,
    HousekeepingState,
    HubSubscription,
    RateEvent,
    RateKey,
    Source,
)
from feedsvc.ratelimit import KEEP
from feedsvc.settings import Settings
from feedsvc.text import Clock

KINDS = (
    "articles",
    "hub_subscriptions",
    "unconfirmed_emails",
    "unsubscribed_emails",
    "delivered",
    "dead_letters",
    "payloads",
    "admin_sessions",
    "rate_events",
    "rate_keys",
)
STATE_ID = 1
NEVER = datetime(2000, 1, 1, tzinfo=UTC)

OnBatch = Callable[[str, int], None]


@dataclass(frozen=True)
class _Kind:
    """Rows of one kind: their key column and what makes them removable at ``now``."""

    name: str
    key: InstrumentedAttribute[Any]
    removable: Callable[[Settings, datetime], list[ColumnElement[bool]]]


def _ended_hub_subscriptions(settings: Settings, now: datetime) -> list[ColumnElement[bool]]:
    cutoff = now - timedelta(days=settings.keep_ended_hub_subscriptions_days)
    return [HubSubscription.expires_at < cutoff, HubSubscription.intent == ""]


def _denied_hub_requests(settings: Settings, now: datetime) -> list[ColumnElement[bool]]:
    """Denied requests the worker never got to tell (its verification clears the others);
    a subscription still in its lease is kept."""
    cutoff = now - timedelta(days=settings.keep_ended_hub_subscriptions_days)
    return [
        HubSubscription.intent == "denied",
        HubSubscription.intent_at < cutoff,
        HubSubscription.expires_at.is_(None) | (HubSubscription.expires_at < cutoff),
    ]


def _unconfirmed_emails(settings: Settings, now: datetime) -> list[ColumnElement[bool]]:
    cutoff = now - timedelta(days=settings.keep_unconfirmed_email_days)
    # (an address that never confirmed cannot have unsubscribed: only announcements, sent
    # to confirmed addresses, carry the link)
    return [EmailSubscriber.confirmed_at.is_(None), EmailSubscriber.confirmation_sent_at < cutoff]


def _unsubscribed_emails(settings: Settings, now: datetime) -> list[ColumnElement[bool]]:
    cutoff = now - timedelta(days=settings.keep_unsubscribed_email_days)
    return [EmailSubscriber.unsubscribed_at < cutoff]


def _delivered(settings: Settings, now: datetime) -> list[ColumnElement[bool]]:
    """Found through the due index: a delivered row's ``next_attempt_at`` is the end of the
    lease it was sent under, after its delivery (the lease outlasts the sending), so the
    index narrows the range and ``delivered_at`` decides; no index of its own to keep up
    on the busiest table."""
    cutoff = now - timedelta(days=settings.keep_delivered_days)
    return [
        Delivery.state == "delivered",
        Delivery.next_attempt_at < cutoff,
        Delivery.delivered_at < cutoff,
    ]


def _dead_letters(settings: Settings, now: datetime) -> list[ColumnElement[bool]]:
    """A dead letter's ``next_attempt_at`` is the time of its last attempt (outbox)."""
    cutoff = now - timedelta(days=settings.keep_dead_days)
    return [Delivery.state == "dead", Delivery.next_attempt_at < cutoff]


def _ended_admin_sessions(settings: Settings, now: datetime) -> list[ColumnElement[bool]]:
    return [AdminSession.expires_at < now]


def _old_rate_events(settings: Settings, now: datetime) -> list[ColumnElement[bool]]:
    return [RateEvent.at < now - KEEP]


def _unused_rate_keys(settings: Settings, now: datetime) -> list[ColumnElement[bool]]:
    return [RateKey.touched_at < now - KEEP]


# In this order: the subscribers first, so that their cascaded deliveries leave their
# payloads to this sweep's payload pass.
_PLAN = (
    _Kind("hub_subscriptions", HubSubscription.id, _ended_hub_subscriptions),
    _Kind("hub_subscriptions", HubSubscription.id, _denied_hub_requests),
    _Kind("unconfirmed_emails", EmailSubscriber.id, _unconfirmed_emails),
    _Kind("unsubscribed_emails", EmailSubscriber.id, _unsubscribed_emails),
    _Kind("delivered", Delivery.id, _delivered),
    _Kind("dead_letters", Delivery.id, _dead_letters),
    _Kind("admin_sessions", AdminSession.id, _ended_admin_sessions),
    _Kind("rate_events", RateEvent.id, _old_rate_events),
    _Kind("rate_keys", RateKey.key, _unused_rate_keys),
)


def sweep(
    database: Database,
    settings: Settings,
    now: datetime,
    *,
    on_batch: OnBatch | None = None,
    stopping: threading.Event | None = None,
) -> dict[str, int]:
    """Remove every row that is no longer needed at ``now``; returns the rows removed per
    kind (every kind of ``KINDS``), also recorded for the dashboard and /metrics.

    ``on_batch(kind, rows)`` is called after each batch that removed rows is committed.
    ``stopping``, once set, ends the sweep between two batches (what is left waits for the
    next sweep).
    """
    started = time.monotonic()
    removed = dict.fromkeys(KINDS, 0)

    def batch_done(kind: str, rows: int) -> None:
        removed[kind] += rows
        if on_batch is not None:
            on_batch(kind, rows)

    def stopped() -> bool:
        return stopping is not None and stopping.is_set()

    _remove_articles(database, settings, now, batch_done, stopped)
    for kind in _PLAN:
        if stopped():
            break
        _remove(database, settings, now, kind, batch_done, stopped)
    if not stopped():
        _remove_payloads(database, settings, now, batch_done, stopped)
    _record(database, now, removed, round((time.monotonic() - started) * 1000))
    return removed


def _remove(
    database: Database,
    settings: Settings,
    now: datetime,
    kind: _Kind,
    batch_done: OnBatch,
    stopped: Callable[[], bool],
) -> None:
    """Batch after batch until one removes fewer than a batch: the rest is gone, or held by
    another sweep (PostgreSQL skips the rows another transaction locked), which removes it."""
    model = kind.key.class_
    size = settings.housekeeping_batch_size
    while not stopped():
        chosen = (
            select(kind.key)
            .where(*kind.removable(settings, now))
            .limit(size)
            .with_for_update(skip_locked=True)
        )
        with database.transaction() as session:
            result = session.execute(
                delete(model)
                .where(kind.key.in_(chosen))
                .execution_options(synchronize_session=False)
            )
        rows = result.rowcount  # type: ignore[attr-defined]  # SQLAlchemy: DML gives a CursorResult
        if rows:
            batch_done(kind.name, rows)
        if rows < size:
            return


def _first_pages(session: Session, settings: Settings, now: datetime) -> list[int]:
    """The articles on the first page of the feed of every category, and of ``all``."""
    newest = (
        select(Article.id)
        .where(Article.published_at <= now)
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(settings.feed_items)
    )
    kept = set(session.scalars(newest))
    for category_id in session.scalars(select(Category.id)):
        kept.update(session.scalars(newest.where(Article.category_id == category_id)))
    return sorted(kept)


def _remove_articles(
    database: Database,
    settings: Settings,
    now: datetime,
    batch_done: OnBatch,
    stopped: Callable[[], bool],
) -> None:
    """Source after source, batch after batch as ``_remove`` does; the first pages are
    looked up again in each batch's transaction, so they are those of its moment."""
    size = settings.housekeeping_batch_size
    with database.sessions() as session:
        sources = session.execute(
            select(Source.id, Source.keep_days).where(Source.keep_days.is_not(None))
        ).all()
    for source_id, keep_days in sources:
        cutoff = now - timedelta(days=keep_days or 0)  # never 0: filtered above
        while not stopped():
            with database.transaction() as session:
                chosen = (
                    select(Article.id)
                    .where(
                        Article.source_id == source_id,
                        Article.origin != "local",
                        Article.published_at < cutoff,
                        Article.id.not_in(_first_pages(session, settings, now)),
                    )
                    .limit(size)
                    .with_for_update(skip_locked=True)
                )
                categories = session.scalars(
                    delete(Article).where(Article.id.in_(chosen)).returning(Article.category_id)
                ).all()
                if categories:
                    touch_categories(session, categories, now)
            if categories:
                batch_done("articles", len(categories))
            if len(categories) < size:
                break


def _remove_payloads(
    database: Database,
    settings: Settings,
    now: datetime,
    batch_done: OnBatch,
    stopped: Callable[[], bool],
) -> None:
    """Payloads as old as delivered deliveries, oldest first, a batch at a time, each batch
    removing those no delivery refers to. The walk goes on from where the last batch ended,
    so the old payloads that are still referenced (by dead letters, by deliveries still
    being retried) are looked at once a sweep, never twice."""
    cutoff = now - timedelta(days=settings.keep_delivered_days)
    size = settings.housekeeping_batch_size
    after: tuple[datetime, int] | None = None
    while not stopped():
        query = select(DeliveryPayload.id, DeliveryPayload.created_at).where(
            DeliveryPayload.created_at < cutoff
        )
        if after is not None:
            query = query.where(tuple_(DeliveryPayload.created_at, DeliveryPayload.id) > after)
        with database.transaction() as session:
            walked = session.execute(
                query.order_by(DeliveryPayload.created_at, DeliveryPayload.id)
                .limit(size)
                .with_for_update(skip_locked=True)
            ).all()
            result = session.execute(
                delete(DeliveryPayload)
                .where(
                    DeliveryPayload.id.in_([row.id for row in walked]),
                    ~exists().where(Delivery.payload_id == DeliveryPayload.id),
                )
                .execution_options(synchronize_session=False)
            )
        rows = result.rowcount  # type: ignore[attr-defined]  # SQLAlchemy: DML gives a CursorResult
        if rows:
            batch_done("payloads", rows)
        if len(walked) < size:
            return
        after = (walked[-1].created_at, walked[-1].id)


def _ensure_state(session: Session) -> None:
    """The state row, made by whichever process needs it first."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(HousekeepingState)
        .values(id=STATE_ID, next_sweep_at=NEVER, last_removed={}, removed_total={})
        .on_conflict_do_nothing()
    )


def _record(database: Database, now: datetime, removed: dict[str, int], duration_ms: int) -> None:
    with database.transaction() as session:
        _ensure_state(session)
        state = session.get(HousekeepingState, STATE_ID, with_for_update=True)
        assert state is not None  # made just above
        state.last_swept_at, state.last_duration_ms = now, duration_ms
        state.last_removed = dict(removed)
        totals = state.removed_total
        state.removed_total = {kind: totals.get(kind, 0) + removed[kind] for kind in KINDS}


def sweep_due(
    database: Database, settings: Settings, clock: Clock, *, stopping: threading.Event | None = None
) -> dict[str, int] | None:
    """The scheduled job: ``sweep_if_due`` at the time ``clock`` tells."""
    return sweep_if_due(database, settings, clock(), stopping=stopping)


def sweep_if_due(
    database: Database,
    settings: Settings,
    now: datetime,
    *,
    stopping: threading.Event | None = None,
) -> dict[str, int] | None:
    """Sweep, unless another process has swept (or is sweeping) within the interval: the
    sweep is claimed by moving ``next_sweep_at`` forward in the statement that checks it is
    due. Returns what was removed, or None when it was not this process's turn."""
    with database.transaction() as session:
        _ensure_state(session)
        claimed = session.execute(
            update(HousekeepingState)
            .where(HousekeepingState.id == STATE_ID, HousekeepingState.next_sweep_at <= now)
            .values(next_sweep_at=now + timedelta(minutes=settings.housekeeping_interval_minutes))
        )
    if not claimed.rowcount:  # type: ignore[attr-defined]  # SQLAlchemy: DML gives a CursorResult
        return None
    return sweep(database, settings, now, stopping=stopping)


@dataclass(frozen=True)
class LastSweep:
    swept_at: datetime  # the time it swept for (rows older than their kind's age at it)
    duration_ms: int
    removed: dict[str, int]  # by the last sweep, per kind
    removed_total: dict[str, int]  # by every sweep so far, per kind


def last_sweep(session: Session) -> LastSweep | None:
    """What the last sweep removed, and every sweep so far; None before the first."""
    state = session.get(HousekeepingState, STATE_ID)
    if state is None or state.last_swept_at is None:
        return None
    return LastSweep(
        state.last_swept_at,
        state.last_duration_ms or 0,
        {kind: state.last_removed.get(kind, 0) for kind in KINDS},
        {kind: state.removed_total.get(kind, 0) for kind in KINDS},
    )
