"""The outbox: deliveries made from newly visible articles, claimed, retried, dead-lettered.

- ``announce_due`` claims a round of visible articles not yet announced (FOR UPDATE SKIP
  LOCKED), makes a delivery per matching endpoint (INSERT ... ON CONFLICT DO NOTHING, so a
  rerun after a crash adds nothing twice) and marks the articles announced, all in one
  transaction. Scheduled articles are announced by the first round after their time. A
  WebSub topic gets one push per round (see ``hub.hub_rows``); an immediate e-mail
  subscriber a bounded number of mails (see ``email.email_rows``).
- ``claim_deliveries`` hands due deliveries to one sender (row locks and a lease, as sources
  are claimed); ``record_attempts`` stores what happened: delivered, or the next attempt after
  an exponential backoff with jitter, or dead after ``delivery_max_attempts``.
"""

import json
import random
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, joinedload

from feedsvc.errors import Conflict, NotFound
from feedsvc.models import (
    Article,
    Delivery,
    DeliveryPayload,
    EmailSubscriber,
    HubSubscription,
    WebhookEndpoint,
)
from feedsvc.notify.email import email_rows
from feedsvc.notify.hub import hub_rows
from feedsvc.notify.rows import (
    Attempt,
    AttemptResult,
    built_or_logged,
    delivery_row,
    insert_deliveries,
    matches,
    new_payload,
)
from feedsvc.settings import Settings
from feedsvc.text import to_local
from feedsvc.urls import FEED_FORMATS, article_url, category_url, feed_url

JITTER = 0.2
BATCH_ROUNDS = 8  # a claimed batch holds delivery_concurrency × this many deliveries


def article_event(article: Article, base_url: str, now: datetime) -> dict[str, Any]:
    """The JSON payload announcing an article (fixed when the delivery is made)."""
    slug = article.category.slug
    return {
        "type": "article.published",
        "timestamp": to_local(now).isoformat(),
        "data": {
            "id": article.id,
            "guid": article.guid,
            "title": article.title,
            "summary": article.summary,
            "author": article.author,
            "url": article.link or article_url(base_url, article.id, article.slug),
            "image_url": article.image_url,
            "published_at": to_local(article.published_at).isoformat(),
            "category": {
                "slug": slug,
                "name": article.category.name,
                "url": category_url(base_url, slug),
            },
            "feeds": {fmt: feed_url(base_url, slug, fmt) for fmt in FEED_FORMATS},
        },
    }


def _webhook_rows(
    session: Session, settings: Settings, articles: Sequence[Article], now: datetime
) -> list[dict[str, Any]]:
    """A delivery per enabled endpoint whose filters an article passes; an article's event
    is stored once and shared."""
    endpoints = session.execute(  # rows, not ORM objects: there may be tens of thousands
        select(WebhookEndpoint.id, WebhookEndpoint.categories, WebhookEndpoint.keywords).where(
            WebhookEndpoint.enabled
        )
    ).all()
    rows = []
    for article in articles:
        wanting = [e.id for e in endpoints if matches(e.categories, e.keywords, article)]
        if not wanting:
            continue
        event = built_or_logged(
            "the webhook event",
            [article.id],
            partial(article_event, article, settings.base_url, now),
        )
        if event is None:
            continue
        body = json.dumps(event, ensure_ascii=False)
        event_id = new_payload(session, body, "application/json", now)
        rows += [delivery_row(now, article.id, event_id, endpoint_id=e) for e in wanting]
    return rows


def announce_due(session: Session, settings: Settings, now: datetime) -> int:
    """Make the deliveries of one round of visible, unannounced articles (at most
    ``announce_batch_size``, oldest first); returns how many articles.

    Each channel's payload of an article is built in isolation: one that fails (text its
    format cannot hold) is logged with the article's id and left out of that channel, and
    the article is marked announced all the same, so that it never blocks the others.
    """
    articles = list(
        session.scalars(
            select(Article)
            .where(Article.announced_at.is_(None), Article.published_at <= now)
            .order_by(Article.published_at, Article.id)
            .limit(settings.announce_batch_size)
            .with_for_update(skip_locked=True, of=Article)
        )
    )
    if not articles:
        return 0
    rows = hub_rows(session, settings, articles, now)
    rows += _webhook_rows(session, settings, articles, now)
    rows += email_rows(session, settings, articles, now)
    for article in articles:
        article.announced_at = now
    for start in range(0, len(rows), 5000):
        insert_deliveries(session, rows[start : start + 5000])
    return len(articles)


PARKED = timedelta(hours=1)  # a disabled webhook's deliveries are looked at again then


def _why_not(row: Any, now: datetime) -> str | None:
    """Why a due delivery cannot go to its subscriber now: "" to park it (a paused webhook
    may be enabled again), a reason to end it dead; None when it can go."""
    if row.endpoint_id is not None:
        return None if row.endpoint_enabled else ""
    if row.callback is not None:
        alive = row.hub_active and row.hub_expires_at is not None and row.hub_expires_at > now
        return None if alive else "the WebSub subscription has ended"
    if row.unsubscribed_at is not None:
        return "unsubscribed"
    if row.confirmed_at is None and row.article_id is not None:
        return "the address is not confirmed"
    return None


def claim_deliveries(
    session: Session, settings: Settings, now: datetime, limit: int
) -> list[Attempt]:
    """Lock up to ``limit`` due deliveries and lease them to this sender.

    The due rows are taken from the ``(state, next_attempt_at)`` index alone, then their
    subscribers looked up: filtering on the subscribers in the same query made PostgreSQL
    join every due row before the LIMIT (15 ms a claim with 10,000 due). Deliveries whose
    subscriber is gone end dead with the reason; a paused webhook's wait an hour.
    Columns, not ORM objects, one UPDATE for the lease, each payload read once.
    """
    while True:
        due = session.scalars(
            select(Delivery.id)
            .where(Delivery.state == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not due:
            return []
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.message_id,
                Delivery.payload_id,
                Delivery.attempts,
                Delivery.article_id,
                Delivery.email_subscriber_id,
                WebhookEndpoint.id.label("endpoint_id"),
                WebhookEndpoint.url.label("endpoint_url"),
                WebhookEndpoint.secret.label("endpoint_secret"),
                WebhookEndpoint.enabled.label("endpoint_enabled"),
                HubSubscription.callback,
                HubSubscription.secret.label("hub_secret"),
                HubSubscription.topic,
                HubSubscription.active.label("hub_active"),
                HubSubscription.expires_at.label("hub_expires_at"),
                EmailSubscriber.email,
                EmailSubscriber.confirmed_at,
                EmailSubscriber.unsubscribed_at,
            )
            .outerjoin(WebhookEndpoint, Delivery.endpoint_id == WebhookEndpoint.id)
            .outerjoin(HubSubscription, Delivery.hub_subscription_id == HubSubscription.id)
            .outerjoin(EmailSubscriber, Delivery.email_subscriber_id == EmailSubscriber.id)
            .where(Delivery.id.in_(due))
            .order_by(Delivery.next_attempt_at)
        ).all()
        verdicts = [(row, _why_not(row, now)) for row in rows]
        sendable = [row for row, reason in verdicts if reason is None]
        for row, reason in verdicts:
            if reason is not None:
                _set_aside(session, row.id, reason, now)
        if sendable:
            return _lease(session, settings, now, sendable)


def _set_aside(session: Session, delivery_id: int, reason: str, now: datetime) -> None:
    """Park a delivery ("": its webhook is paused) or end it dead with the reason."""
    values = (
        {"next_attempt_at": now + PARKED}
        if reason == ""
        else {"state": "dead", "last_error": reason}
    )
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def _lease(session: Session, settings: Settings, now: datetime, rows: list[Any]) -> list[Attempt]:
    # The lease outlasts the sending (see deliver.py), so that a sender that dies leaves its
    # deliveries due again: a batch waits for the one before it, and each thread's share of
    # a batch is BATCH_ROUNDS sends at most (mails: plus an SMTP connection and greeting).
    rounds = 2 * (BATCH_ROUNDS + 2)
    lease = now + timedelta(seconds=settings.delivery_timeout * rounds + 10)
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_([row.id for row in rows]))
        .values(next_attempt_at=lease)
        .execution_options(synchronize_session=False)
    )
    payloads = {
        payload.id: payload
        for payload in session.execute(
            select(DeliveryPayload.id, DeliveryPayload.body, DeliveryPayload.content_type).where(
                DeliveryPayload.id.in_({row.payload_id for row in rows})
            )
        )
    }
    attempts = []
    for row in rows:
        if row.endpoint_id is not None:
            kind, url, secret, topic = "webhook", row.endpoint_url, row.endpoint_secret, None
        elif row.callback is not None:
            kind, url, secret, topic = "websub", row.callback, row.hub_secret, row.topic
        else:
            kind, url, secret, topic = "email", row.email, None, None
        attempts.append(
            Attempt(
                row.id,
                row.message_id,
                kind,
                row.endpoint_id,
                row.email_subscriber_id,
                url,
                secret,
                payloads[row.payload_id].body,
                payloads[row.payload_id].content_type,
                topic,
                row.attempts,
            )
        )
    return attempts


def retry_at(attempts: int, settings: Settings, now: datetime, rng: random.Random) -> datetime:
    """After ``attempts`` failures: 1, 2, 4 ... minutes, capped, ±20%."""
    wait = min(
        timedelta(minutes=2 ** (attempts - 1)),
        timedelta(minutes=settings.delivery_backoff_max_minutes),
    )
    return now + wait * (1 + JITTER * (2 * rng.random() - 1))


def record_attempts(
    session: Session,
    settings: Settings,
    results: list[AttemptResult],
    now: datetime,
    rng: random.Random,
) -> None:
    """Store a batch of attempts: the delivered with one UPDATE per status code, the failed
    with one executemany; and each webhook endpoint's streak of failures."""
    delivered: dict[int | None, list[int]] = {}  # status -> delivery ids
    failed: list[dict[str, Any]] = []
    for result in results:
        if not result.error:
            delivered.setdefault(result.status, []).append(result.attempt.delivery_id)
            continue
        attempts = result.attempt.attempts + 1
        dead = attempts >= settings.delivery_max_attempts
        failed.append(
            {
                "b_id": result.attempt.delivery_id,
                "attempts": attempts,
                "status": result.status,
                "error": result.error,
                "state": "dead" if dead else "pending",
                "next": now if dead else retry_at(attempts, settings, now, rng),
            }
        )
    for status, ids in delivered.items():  # one UPDATE per status code, not one per row
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(
                attempts=Delivery.attempts + 1,
                last_status=status,
                state="delivered",
                delivered_at=now,
                last_error="",
            )
            .execution_options(synchronize_session=False)
        )
    if failed:
        table: Table = Delivery.__table__  # type: ignore[assignment]  # Core executemany
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                attempts=bindparam("attempts"),
                last_status=bindparam("status"),
                state=bindparam("state"),
                last_error=bindparam("error"),
                next_attempt_at=bindparam("next"),
            ),
            failed,
        )
    webhooks = [r for r in results if r.attempt.endpoint_id is not None]
    delivered_to = {r.attempt.endpoint_id for r in webhooks if not r.error}
    if delivered_to:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(delivered_to), WebhookEndpoint.consecutive_failures != 0)
            .values(consecutive_failures=0)
        )
    failures = Counter(r.attempt.endpoint_id for r in webhooks if r.error)
    for endpoint_id, count in failures.items():
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint_id in delivered_to:
            continue
        endpoint.consecutive_failures += count
        if endpoint.enabled and endpoint.consecutive_failures >= settings.webhook_max_failures:
            endpoint.enabled = False
            endpoint.disabled_reason = f"{endpoint.consecutive_failures} failed deliveries in a row"


def list_deliveries(session: Session, state: str | None, limit: int) -> list[Delivery]:
    """Newest first; ``state`` pending, delivered, dead, or failing (pending after a failed
    attempt)."""
    stmt = (
        select(Delivery)
        .options(
            joinedload(Delivery.endpoint),
            joinedload(Delivery.hub_subscription),
            joinedload(Delivery.email_subscriber),
        )
        .order_by(Delivery.id.desc())
    )
    if state == "failing":
        stmt = stmt.where(Delivery.state == "pending", Delivery.attempts > 0)
    elif state:
        stmt = stmt.where(Delivery.state == state)
    return list(session.scalars(stmt.limit(limit)))


def retry_delivery(session: Session, delivery_id: int, now: datetime) -> Delivery:
    """Send a dead (or pending) delivery again now, with its attempts counted afresh."""
    delivery = session.get(Delivery, delivery_id, options=[joinedload(Delivery.endpoint)])
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    if delivery.state == "delivered":
        raise Conflict(f"delivery {delivery_id} was delivered already")
    delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    return delivery
