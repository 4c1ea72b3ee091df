"""What the admin dashboard shows: each source's items per day, deliveries by state,
subscribers by state. Read from the store, so it covers every worker."""

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from feedsvc.models import Article, Delivery, EmailSubscriber, HubSubscription, WebhookEndpoint
from feedsvc.text import to_local

DAYS = 30


def items_per_day(session: Session, now: datetime, days: int = DAYS) -> dict[int, list[int]]:
    """Per source, the articles it brought in on each of the last ``days`` local days
    (oldest first, today last)."""
    today = to_local(now).date()
    since = now - timedelta(days=days + 1)
    counts: dict[int, list[int]] = {}
    rows = session.execute(
        select(Article.source_id, Article.created_at).where(
            Article.source_id.is_not(None), Article.created_at >= since
        )
    )
    for source_id, created_at in rows:
        if source_id is None:  # excluded by the query; for the type checker
            continue
        age = (today - to_local(created_at).date()).days
        if 0 <= age < days:
            counts.setdefault(source_id, [0] * days)[days - 1 - age] += 1
    return counts


def delivery_counts(session: Session) -> dict[str, int]:
    """pending (never tried yet), failing (pending after a failure), dead, delivered."""
    state = case(
        (
            (Delivery.state == "pending") & (Delivery.attempts > 0),
            "failing",
        ),
        else_=Delivery.state,
    )
    rows = session.execute(select(state, func.count()).group_by(state)).all()
    found = {str(name): int(count) for name, count in rows}
    return {key: found.get(key, 0) for key in ("pending", "failing", "dead", "delivered")}


def subscriber_counts(session: Session, now: datetime) -> dict[str, int]:
    emails: Counter[str] = Counter()
    for confirmed, left in session.execute(
        select(EmailSubscriber.confirmed_at, EmailSubscriber.unsubscribed_at)
    ):
        emails["left" if left else "confirmed" if confirmed else "unconfirmed"] += 1
    hooks = dict(
        session.execute(
            select(WebhookEndpoint.enabled, func.count()).group_by(WebhookEndpoint.enabled)
        ).all()
    )
    websub = session.scalar(
        select(func.count()).where(
            HubSubscription.active.is_(True), HubSubscription.expires_at > now
        )
    )
    return {
        "email_confirmed": emails["confirmed"],
        "email_unconfirmed": emails["unconfirmed"],
        "email_left": emails["left"],
        "webhooks_enabled": hooks.get(True, 0),
        "webhooks_disabled": hooks.get(False, 0),
        "websub_active": websub or 0,
    }
