"""What the admin dashboard shows: each source's items per day, deliveries by state,
subscribers by state. Read from the store, so it covers every worker.

Every figure is computed by the database at a cost that does not grow with the store: the
chart reads one index range (the shown sources' articles of the last ``DAYS`` days), and
counts stop at ``COUNT_CAP`` (shown as "hơn 10.000": see docs/decisions/0012-keyset-paging.md).
"""

from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from feedsvc.models import Article, Delivery, EmailSubscriber, HubSubscription, WebhookEndpoint
from feedsvc.text import LOCAL_TZ, to_local

DAYS = 30
COUNT_CAP = 10_000


def _local_day(session: Session, column: Any) -> ColumnElement[str]:
    """The Vietnam date (YYYY-MM-DD) of a UTC time column, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(LOCAL_TZ.key, column), "YYYY-MM-DD")
    # SQLite stores UTC; Vietnam is UTC+7 all year (no daylight saving since 1975).
    return func.date(column, "+7 hours")


def items_per_day(
    session: Session, now: datetime, source_ids: Collection[int], days: int = DAYS
) -> dict[int, list[int]]:
    """Per source of ``source_ids``, the articles it brought in on each of the last ``days``
    Vietnam days (oldest first, today last); sources without any are left out."""
    if not source_ids:
        return {}
    today = to_local(now).date()
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), LOCAL_TZ)
    day = _local_day(session, Article.created_at)
    rows = session.execute(
        select(Article.source_id, day, func.count())
        .where(Article.source_id.in_(list(source_ids)), Article.created_at >= since)
        .group_by(Article.source_id, day)
    )
    counts: dict[int, list[int]] = {}
    for source_id, local_day, count in rows:
        age = (today - date.fromisoformat(str(local_day))).days
        if source_id is not None and 0 <= age < days:
            counts.setdefault(source_id, [0] * days)[days - 1 - age] += count
    return counts


def capped_count(session: Session, stmt: Select[Any], cap: int = COUNT_CAP) -> int:
    """The rows of ``stmt``, counted up to ``cap + 1`` at most (more than ``cap``: cap + 1)."""
    limited = stmt.limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(limited)) or 0


def delivery_counts(session: Session) -> dict[str, int]:
    """pending (never tried yet), failing (pending after a failure), dead, delivered."""
    pending = select(Delivery.id).where(Delivery.state == "pending")
    return {
        "pending": capped_count(session, pending.where(Delivery.attempts == 0)),
        "failing": capped_count(session, pending.where(Delivery.attempts > 0)),
        "dead": capped_count(session, select(Delivery.id).where(Delivery.state == "dead")),
        "delivered": capped_count(
            session, select(Delivery.id).where(Delivery.state == "delivered")
        ),
    }


def subscriber_counts(session: Session, now: datetime) -> dict[str, int]:
    confirmed, left = EmailSubscriber.confirmed_at, EmailSubscriber.unsubscribed_at
    emails, hooks = select(EmailSubscriber.id), select(WebhookEndpoint.id)
    websub = select(HubSubscription.id).where(
        HubSubscription.active.is_(True), HubSubscription.expires_at > now
    )
    return {
        "email_confirmed": capped_count(
            session, emails.where(confirmed.is_not(None), left.is_(None))
        ),
        "email_unconfirmed": capped_count(
            session, emails.where(confirmed.is_(None), left.is_(None))
        ),
        "email_left": capped_count(session, emails.where(left.is_not(None))),
        "webhooks_enabled": capped_count(session, hooks.where(WebhookEndpoint.enabled.is_(True))),
        "webhooks_disabled": capped_count(session, hooks.where(WebhookEndpoint.enabled.is_(False))),
        "websub_active": capped_count(session, websub),
    }
