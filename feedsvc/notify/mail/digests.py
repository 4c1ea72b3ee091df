"""Daily digests: one mail a day, at ``digest_time``, to each subscriber who chose them."""

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from feedsvc.models import Article, EmailSubscriber
from feedsvc.notify.mail.compose import MAIL_TYPE, digest_mail
from feedsvc.notify.rows import Filters, delivery_row, insert_deliveries, new_payload
from feedsvc.settings import Settings
from feedsvc.text import as_utc, to_local


def last_digest_time(settings: Settings, now: datetime) -> datetime:
    """The latest daily digest instant at or before ``now`` (``digest_time``, local time)."""
    local = to_local(now)
    hour, minute = map(int, settings.digest_time.split(":"))
    today = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return as_utc(today if today <= local else today - timedelta(days=1))


def queue_digests(session: Session, settings: Settings, now: datetime, limit: int = 500) -> int:
    """Queue the digest of every daily subscriber not served for the last digest time.

    A digest holds the articles published since the previous one (at most a day back, never
    before the subscriber confirmed), grouped by category; when there is nothing, no mail is
    sent but the subscriber is marked served. Returns the number of subscribers handled.
    """
    due_at = last_digest_time(settings, now)
    subscribers = list(
        session.scalars(
            select(EmailSubscriber)
            .where(
                EmailSubscriber.frequency == "daily",
                EmailSubscriber.confirmed_at.is_not(None),
                EmailSubscriber.unsubscribed_at.is_(None),
                or_(
                    EmailSubscriber.digest_through.is_(None),
                    EmailSubscriber.digest_through < due_at,
                ),
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not subscribers:
        return 0
    earliest = due_at - timedelta(days=1)
    articles = list(
        session.scalars(
            select(Article)
            .options(joinedload(Article.category))
            .where(Article.published_at > earliest, Article.published_at <= due_at)
            .order_by(Article.published_at.desc())
        )
    )
    rows, digests = [], {}
    for subscriber in subscribers:
        since = max(subscriber.digest_through or earliest, subscriber.confirmed_at or earliest)
        filters = Filters.of(subscriber.categories, subscriber.keywords)
        chosen = [a for a in articles if a.published_at > since and filters.passes(a)]
        if chosen:
            ids = tuple(article.id for article in chosen)
            if ids not in digests:  # subscribers with the same filters share a digest
                mail = digest_mail(settings, chosen, due_at, now)
                digests[ids] = new_payload(session, mail, MAIL_TYPE, now)
            rows.append(delivery_row(now, None, digests[ids], email_subscriber_id=subscriber.id))
        subscriber.digest_through = due_at
    insert_deliveries(session, rows)
    return len(subscribers)
