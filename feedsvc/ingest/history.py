"""The last fetches of each source, for its admin page: written in the transaction that
records a fetch, and pruned there to ``FETCH_HISTORY_PER_SOURCE`` rows, so the table holds
at most that many rows per source whatever the store's age (no housekeeping needed)."""

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from feedsvc.models import SourceFetch

FETCH_HISTORY_PER_SOURCE = 20
OK, NOT_MODIFIED, ERROR = "ok", "not_modified", "error"
MAX_ERROR_CHARS = 1000


def record_fetch(
    session: Session,
    source_id: int,
    fetched_at: datetime,
    outcome: str,
    http_status: int | None,
    duration_ms: int | None,
    new_items: int = 0,
    updated_items: int = 0,
    error: str = "",
) -> None:
    """Add one fetch and drop the source's fetches older than the last
    ``FETCH_HISTORY_PER_SOURCE`` (an index range on ``(source_id, id)``)."""
    session.add(
        SourceFetch(
            source_id=source_id,
            fetched_at=fetched_at,
            outcome=outcome,
            http_status=http_status,
            duration_ms=duration_ms,
            new_items=new_items,
            updated_items=updated_items,
            error=error[:MAX_ERROR_CHARS],
        )
    )
    session.flush()
    oldest_kept = session.scalar(
        select(SourceFetch.id)
        .where(SourceFetch.source_id == source_id)
        .order_by(SourceFetch.id.desc())
        .offset(FETCH_HISTORY_PER_SOURCE - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        session.execute(
            delete(SourceFetch).where(
                SourceFetch.source_id == source_id, SourceFetch.id < oldest_kept
            )
        )


def recent_fetches(session: Session, source_id: int) -> list[SourceFetch]:
    """The source's last fetches, newest first."""
    stmt = (
        select(SourceFetch)
        .where(SourceFetch.source_id == source_id)
        .order_by(SourceFetch.id.desc())
        .limit(FETCH_HISTORY_PER_SOURCE)
    )
    return list(session.scalars(stmt))
