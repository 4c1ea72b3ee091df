"""Keyset paging: one way for every list (pages, feeds, the API, the admin UI, the CLI).

A list is ordered newest first by a key of columns that ends with the id (unique), e.g.
``(published_at, id)``; an index on those columns (after any equality filter) makes a page
cost the same at any depth. A page is asked for by position: nothing (the newest), ``before``
a cursor (the next older rows) or ``after`` one (the next newer rows). A cursor is the key of
a row shown, so rows inserted or deleted between two requests neither shift a page nor make
a row shown twice or skipped; no offset is ever used.

A cursor is the key's values joined by ``|`` (times in ISO 8601, UTC), base64url without
padding: opaque to clients, and the same encoding the API's ``cursor`` always had.
"""

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, Tuple, bindparam, func, select, true, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from feedsvc.errors import InvalidInput
from feedsvc.models import EARLIEST, LATEST, MAX_INTEGER, UTCDateTime

T = TypeVar("T")
# Old ``?page=N`` links (offset pages) are still answered, by a redirect to the cursor of
# that page, up to this page: finding it reads (N - 1) × page size index keys.
NUMBERED_PAGES = 100
KeyValue = datetime | int
Key = Sequence[InstrumentedAttribute[Any]]


@dataclass(frozen=True)
class Position:
    """Where a page starts: the newest rows, or ``before``/``after`` a cursor (raw text)."""

    before: str = ""
    after: str = ""
    before_field: str = "before"  # the parameter it came in, named in an error (API: cursor)

    def __post_init__(self) -> None:
        if self.before and self.after:
            raise InvalidInput("invalid position", {"after": "give before or after, not both"})

    @property
    def first(self) -> bool:
        return not (self.before or self.after)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page, newest first, with the cursors of its neighbours (None: there is none)."""

    items: list[T]
    newer: str | None  # give as ``after``
    older: str | None  # give as ``before``
    # The newer page is exactly the newest one: link to it without a cursor (one URL, one
    # cached copy, for the page most read).
    newer_is_first: bool = False


def encode_cursor(values: Sequence[KeyValue]) -> str:
    raw = "|".join(
        v.astimezone(UTC).isoformat() if isinstance(v, datetime) else str(v) for v in values
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _is_time(column: InstrumentedAttribute[Any]) -> bool:
    return isinstance(column.type, UTCDateTime)


def decode_cursor(cursor: str, key: Key, name: str = "cursor") -> tuple[KeyValue, ...]:
    """The key values of a cursor for ``key``; InvalidInput (on field ``name``) otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = raw.split("|")
        if len(parts) != len(key):
            raise ValueError("wrong number of values")
        values: list[KeyValue] = []
        for column, part in zip(key, parts, strict=True):
            if _is_time(column):
                moment = datetime.fromisoformat(part)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                if not EARLIEST <= moment <= LATEST:
                    raise ValueError("time out of range")
                values.append(moment.astimezone(UTC))
            else:
                if not (part.isascii() and part.isdigit()) or not 0 <= int(part) <= MAX_INTEGER:
                    raise ValueError("no such id")
                values.append(int(part))
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"invalid {name}", {name: "not a cursor of this list"}) from exc
    return tuple(values)


def row_key(row: Any, key: Key) -> tuple[KeyValue, ...]:
    return tuple(getattr(row, column.key) for column in key)


def _bound(key: Key, values: Sequence[KeyValue]) -> Tuple:
    """The values as a row of binds typed like the key's columns."""
    return tuple_(*(bindparam(None, v, type_=c.type) for c, v in zip(key, values, strict=True)))


def keyset_page(
    session: Session,
    stmt: Select[Any],
    key: Key,
    position: Position,
    limit: int,
    ahead: Sequence[ColumnElement[bool]] = (),
) -> Page[Any]:
    """A page of ``stmt`` (its filters, not its order: this orders by ``key``, newest first).

    Two indexed queries at most: the page (one row more than ``limit`` tells whether there
    are more on its far side) and, when a cursor was given, how many rows (up to
    ``limit + 1``) lie on the near side (they may have been deleted since). ``ahead``: more
    filters, which a ``before`` cursor implies for its page but not for the rows ahead of it.
    """
    columns = tuple_(*key)
    if position.after:
        start = decode_cursor(position.after, key, "after")
        rows = list(
            session.scalars(
                stmt.where(columns > _bound(key, start))
                .order_by(*(c.asc() for c in key))
                .limit(limit + 1)
            ).unique()
        )
        if rows:  # else nothing is newer any more: the newest page
            items = rows[:limit][::-1]
            newer = encode_cursor(row_key(items[0], key)) if len(rows) > limit else None
            last = row_key(items[-1], key)
            older = encode_cursor(last) if _beyond(session, stmt, key, last, "<", 1) else None
            return Page(items, newer, older)
    start_before = (
        decode_cursor(position.before, key, position.before_field) if position.before else None
    )
    page_stmt = stmt if start_before is None else stmt.where(columns < _bound(key, start_before))
    rows = list(
        session.scalars(page_stmt.order_by(*(c.desc() for c in key)).limit(limit + 1)).unique()
    )
    items = rows[:limit]
    older = encode_cursor(row_key(items[-1], key)) if len(rows) > limit else None
    if start_before is None:
        return Page(items, None, older)
    newer_than = row_key(items[0], key) if items else start_before
    newer_count = _beyond(session, stmt.where(*ahead), key, newer_than, ">", limit + 1)
    newer = encode_cursor(newer_than) if newer_count else None
    return Page(items, newer, older, newer_is_first=newer_count == limit)


def older_than(key: Key, values: Sequence[KeyValue]) -> ColumnElement[bool]:
    """The condition of the rows after ``values`` in newest-first order."""
    return tuple_(*key) < _bound(key, values)


def _beyond(
    session: Session, stmt: Select[Any], key: Key, values: Sequence[KeyValue], op: str, cap: int
) -> int:
    """How many rows of ``stmt`` lie beyond ``values`` (``op``: "<" older, ">" newer), up to
    ``cap``."""
    columns, bound = tuple_(*key), _bound(key, values)
    side: ColumnElement[bool] = columns < bound if op == "<" else columns > bound
    # Ordered from the bound outwards: an index walk that stops after ``cap`` keys (unordered,
    # a planner may scan the table where few rows lie beyond).
    probe = (
        select(key[-1])
        .where(stmt.whereclause if stmt.whereclause is not None else true(), side)
        .order_by(*(c.desc() if op == "<" else c.asc() for c in key))
    )
    return session.scalar(select(func.count()).select_from(probe.limit(cap).subquery())) or 0
