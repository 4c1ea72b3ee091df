"""Rate limits shared by every process: counted events in the store (``rate_events``).

Checking and counting are one step, so parallel requests (threads, gunicorn workers, several
hosts on one PostgreSQL) cannot all pass a check before any of them is counted. ``take`` runs
a short transaction of its own on a connection of its own:

1. it upserts the row of each key in ``rate_keys`` (INSERT ... ON CONFLICT DO UPDATE), keys in
   sorted order, which locks the row until commit: a row lock on PostgreSQL (a concurrent
   taker of the same key waits, then counts what the first one committed), the database's
   write lock on SQLite;
2. it counts each key's events within the window;
3. if every key is under the limit it adds one event per key and commits; otherwise it raises
   RateLimited and nothing is counted.

The lock is held for those three statements only, never while the caller works, and the count
is final whatever becomes of the request.

What is counted:

- Subscription requests: every request that passes (``take``).
- Logins: only failures. An attempt is counted *before* its password is verified (``take``),
  and a success gives its events back (``give_back``, in the caller's transaction, so with the
  new session). Counting after the verification would reopen the race: every parallel attempt
  would pass the check before the first failure was counted. The price: attempts in flight
  count as failures until they succeed, and an attempt whose request dies midway stays
  counted; the limiter errs towards refusing.

Events older than ``KEEP`` (longer than every window) and keys untouched for as long are
dropped after each ``take``, in another transaction that skips rows other takers hold.
"""

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from feedsvc.db import IMMEDIATE
from feedsvc.errors import RateLimited
from feedsvc.models import RATE_KEY_LENGTH, RateEvent, RateKey

KEEP = timedelta(days=1)


def take(
    session: Session,
    keys: Iterable[str],
    limit: int,
    window: timedelta,
    now: datetime,
    message: str,
) -> list[int]:
    """Count one event for each of ``keys``, unless one of them was counted ``limit`` times
    within ``window``: then raise RateLimited with ``message`` and count nothing.

    Committed at once, on a connection of its own (see the module docstring): call it before
    ``session`` writes anything, or on SQLite it waits for ``session``'s own write lock.
    The one exception: a SQLite session inside ``Database.transaction()`` holds the write lock
    from its start, so the counting is atomic in it, and is done there.
    Returns the ids of the events counted, for ``give_back``.
    """
    # one order for every taker: none waits on another's next key
    wanted = sorted({_fitted(key) for key in keys})
    if _holds_write_lock(session):
        ids = _count(session, wanted, limit, window, now, message)
        _drop_old(session, now)
        return ids
    with Session(session.get_bind()) as own, own.begin():
        ids = _count(own, wanted, limit, window, now, message)
    with Session(session.get_bind()) as own, own.begin():
        _drop_old(own, now)
    return ids


def _count(
    session: Session, keys: list[str], limit: int, window: timedelta, now: datetime, message: str
) -> list[int]:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for key in keys:
        upsert = insert(RateKey).values(key=key, touched_at=now)
        session.execute(
            upsert.on_conflict_do_update(
                index_elements=[RateKey.key], set_={"touched_at": upsert.excluded.touched_at}
            )
        )
    counted: dict[str, int] = dict(
        session.execute(
            select(RateEvent.key, func.count())
            .where(RateEvent.key.in_(keys), RateEvent.at > now - window)
            .group_by(RateEvent.key)
        ).all()
    )
    if any(counted.get(key, 0) >= limit for key in keys):
        raise RateLimited(message)
    events = [RateEvent(key=key, at=now) for key in keys]
    session.add_all(events)
    session.flush()
    return [event.id for event in events]


def _holds_write_lock(session: Session) -> bool:
    """True for a SQLite session inside ``Database.transaction()`` (BEGIN IMMEDIATE)."""
    if not session.in_transaction():
        return False
    connection = session.connection()
    return connection.dialect.name == "sqlite" and bool(
        connection.get_execution_options().get(IMMEDIATE)
    )


def _fitted(key: str) -> str:
    """Keys hold what clients send (a user name): a longer one than the column keeps its
    start and a digest of the whole."""
    if len(key) <= RATE_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: RATE_KEY_LENGTH - len(digest) - 1]}#{digest}"


def give_back(session: Session, event_ids: Iterable[int]) -> None:
    """Uncount events that ``take`` counted (a login that succeeded), in ``session``'s
    transaction."""
    session.execute(delete(RateEvent).where(RateEvent.id.in_(list(event_ids))))


def _drop_old(session: Session, now: datetime) -> None:
    """Rows another transaction holds are skipped (PostgreSQL's SKIP LOCKED; SQLite has one
    writer at a time): a taker reviving a stale key never waits in a cycle with this."""
    old_events = (
        select(RateEvent.id).where(RateEvent.at < now - KEEP).with_for_update(skip_locked=True)
    )
    session.execute(delete(RateEvent).where(RateEvent.id.in_(old_events)))
    old_keys = (
        select(RateKey.key).where(RateKey.touched_at < now - KEEP).with_for_update(skip_locked=True)
    )
    session.execute(delete(RateKey).where(RateKey.key.in_(old_keys)))
