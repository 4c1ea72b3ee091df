"""Rate limits shared by every process: counted events in the store (``rate_events``).

Subscription requests count every request; logins count only failures. Events older than a
day are dropped as new ones are counted.
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from feedsvc.errors import RateLimited
from feedsvc.models import RateEvent

KEEP = timedelta(days=1)


def check_rate(
    session: Session, key: str, limit: int, window: timedelta, now: datetime, message: str
) -> None:
    """Raise RateLimited if ``key`` was counted ``limit`` times within ``window``."""
    recent = session.scalar(
        select(func.count()).where(RateEvent.key == key, RateEvent.at > now - window)
    )
    if (recent or 0) >= limit:
        raise RateLimited(message)


def count_event(session: Session, key: str, now: datetime) -> None:
    session.execute(delete(RateEvent).where(RateEvent.at < now - KEEP))
    session.add(RateEvent(key=key, at=now))
