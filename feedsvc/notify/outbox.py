"""The outbox: deliveries made from newly visible articles, claimed, retried, dead-lettered.

- ``announce_due`` claims a round of visible articles not yet announced (FOR UPDATE SKIP
  LOCKED), makes a delivery per matching endpoint (INSERT ... ON CONFLICT DO NOTHING, so a
  rerun after a crash adds nothing twice) and marks the articles announced, all in one
  transaction. Scheduled articles are announced by the first round after their time. A
  WebSub topic gets one push per round (see ``hub.hub_rows``); an immediate e-mail
  subscriber a bounded number of mails (see ``email.email_rows``).
- ``claim_deliveries`` hands due deliveries to one sender (row locks and a lease, as sources
  are claimed), skipping the subscribers it already holds enough of; ``record_attempts``
  stores what happened: delivered, or the next attempt after an exponential backoff with
  jitter, or dead after ``delivery_max_attempts``.
- Circuit breaker: a webhook endpoint or WebSub subscription that does not answer
  ``breaker_timeouts`` times in a row is paused (``paused_until`` on its row, shared by every
  worker); its deliveries are parked at claim time, like a disabled webhook's, until the
  pause ends, then one probe goes: an answer closes the breaker, another failure doubles
  the pause (capped).
"""

import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session, joinedload

from feedsvc.errors import N_, Conflict, NotFound
from feedsvc.models import (
    MAX_INTEGER,
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
    SMTP_LANE,
    Attempt,
    AttemptResult,
    Filters,
    built_or_logged,
    delivery_row,
    insert_deliveries,
    lane_of,
    new_payload,
)
from feedsvc.paging import Page, Position, keyset_page
from feedsvc.settings import Settings
from feedsvc.text import to_local
from feedsvc.urls import FEED_FORMATS, article_url, category_url, feed_url

JITTER = 0.2
BATCH_ROUNDS = 8  # a claimed batch holds delivery_concurrency × this many deliveries


def article_event(article: Article, base_url: str, now: datetime) -> dict[str, Any]:
    """The JSON payload announcing an article (fixed when the delivery is made): all an
    integration needs to show it without another request, the sanitised body included
    (at most 512 KiB, stored once per fan-out)."""
    slug = article.category.slug
    image = None
    if article.image_url:
        image = {
            "url": article.image_url,
            "type": article.image_type,
            "length": article.image_length,
        }
    return {
        "type": "article.published",
        "timestamp": to_local(now).isoformat(),
        "data": {
            "id": article.id,
            "guid": article.guid,
            "title": article.title,
            "summary": article.summary,
            "content_html": article.body_html,
            "author": article.author,
            "url": article.link or article_url(base_url, article.id, article.slug),
            "image": image,
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
    filters = [(e.id, Filters.of(e.categories, e.keywords)) for e in endpoints]
    rows = []
    for article in articles:
        wanting = [endpoint_id for endpoint_id, f in filters if f.passes(article)]
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


def lease_seconds(settings: Settings) -> float:
    """How long a claimed delivery stays with its sender.

    It outlasts the sending, so that a sender that dies leaves its deliveries due again: a
    claimed delivery waits for at most about one send of its subscriber and one of every
    slot (see deliver.py), and an SMTP connection carries BATCH_ROUNDS mails (plus its
    connection and greeting). A sender gives back what it could not start in time.
    """
    return settings.delivery_timeout * 2 * (BATCH_ROUNDS + 2) + 10


def lane_rows(lane: str, settings: Settings) -> int:
    """Deliveries of one lane a sender holds at once (sending and waiting): two rounds of
    its sends at once; an SMTP connection sends up to BATCH_ROUNDS mails."""
    per_send = BATCH_ROUNDS if lane == SMTP_LANE else 1
    return 2 * settings.delivery_per_subscriber * per_send


def probe_window(settings: Settings) -> timedelta:
    """How long a paused subscriber's probe delivery has before another may go."""
    return timedelta(seconds=settings.delivery_timeout * 3 + 10)


def _verdict(row: Any, now: datetime) -> str | datetime | None:
    """Whether a due delivery can go to its subscriber now: None when it can, a time to park
    it until (a paused webhook may be enabled again; a subscriber that does not answer is
    paused by its breaker), or the reason to end it dead."""
    if row.endpoint_id is not None:
        if not row.endpoint_enabled:
            return now + PARKED
        paused_until = row.endpoint_paused_until
    elif row.callback is not None:
        alive = row.hub_active and row.hub_expires_at is not None and row.hub_expires_at > now
        if not alive:
            return "the WebSub subscription has ended"
        paused_until = row.hub_paused_until
    elif row.unsubscribed_at is not None:
        return "unsubscribed"
    elif row.confirmed_at is None and row.article_id is not None:
        return "the address is not confirmed"
    else:
        return None
    return paused_until if paused_until is not None and paused_until > now else None


def _breaker(row: Any) -> tuple[str, int] | None:
    if row.endpoint_id is not None:
        return ("webhook", row.endpoint_id)
    return ("hub", row.hub_subscription_id) if row.callback is not None else None


def _half_open(row: Any) -> bool:
    """Of a delivery that may go: its subscriber was paused and the pause is over, so this
    may be the one probe."""
    if row.endpoint_id is not None:
        return row.endpoint_paused_until is not None
    return row.callback is not None and row.hub_paused_until is not None


BREAKER_TABLES: dict[str, type[WebhookEndpoint] | type[HubSubscription]] = {
    "hub": HubSubscription,
    "webhook": WebhookEndpoint,
}


def _take_probes(
    session: Session, settings: Settings, now: datetime, subscribers: set[tuple[str, int]]
) -> set[tuple[str, int]]:
    """The half-open subscribers whose one probe this sender takes: their pause is moved to
    the end of the probe's window in the same statement that checks it is over, so two
    senders never both probe. In a fixed order, as ``_update_breakers`` locks them."""
    taken = set()
    for kind, subscriber_id in sorted(subscribers):
        model = BREAKER_TABLES[kind]
        moved = session.execute(
            update(model)
            .where(model.id == subscriber_id, model.paused_until <= now)
            .values(paused_until=now + probe_window(settings))
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount:  # type: ignore[attr-defined]  # a CursorResult
            taken.add((kind, subscriber_id))
    return taken


@dataclass
class Held:
    """What one sender holds (sending, or claimed and waiting to be sent), so that its claims
    skip what it could not start soon: deliveries per lane, and the subscribers met in each
    lane (WebSub: a callback host may serve several subscriptions; mails: none)."""

    per_lane: Counter[str] = field(default_factory=Counter)
    subscribers: defaultdict[str, set[tuple[str, int]]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def full(self, lane: str, settings: Settings) -> bool:
        return self.per_lane[lane] >= lane_rows(lane, settings)

    def add(self, lane: str, subscriber: tuple[str, int] | None, count: int = 1) -> None:
        self.per_lane[lane] += count
        if subscriber is not None:
            self.subscribers[lane].add(subscriber)

    def remove(self, lane: str, count: int = 1) -> None:
        self.per_lane[lane] -= count
        if not self.per_lane[lane]:
            del self.per_lane[lane]
            self.subscribers.pop(lane, None)

    def skipped(self, settings: Settings) -> tuple[set[int], set[int], bool]:
        """The webhook endpoints, WebSub subscriptions, and whether mails, a claim skips."""
        endpoints, hubs = set(), set()
        for lane, subscribers in self.subscribers.items():
            if self.full(lane, settings):
                endpoints |= {i for kind, i in subscribers if kind == "webhook"}
                hubs |= {i for kind, i in subscribers if kind == "hub"}
        return endpoints, hubs, self.full(SMTP_LANE, settings)


def claim_deliveries(
    session: Session, settings: Settings, now: datetime, limit: int, held: Held | None = None
) -> list[Attempt]:
    """Lock up to ``limit`` due deliveries and lease them to this sender (``held`` counts
    them; the sender takes them off as they are recorded or given back).

    The due rows are taken from the ``(state, next_attempt_at)`` index alone, then their
    subscribers looked up: filtering on the subscribers in the same query made PostgreSQL
    join every due row before the LIMIT (15 ms a claim with 10,000 due). The subscribers of
    lanes that hold their ``lane_rows`` of this sender's deliveries (``held``) are skipped,
    their deliveries left due for whoever has room. Deliveries whose subscriber is gone end
    dead with the reason; the others that cannot go now are parked, not counted as attempts:
    a paused webhook's for an hour, a paused subscriber's until its pause ends (then all but
    one probe for the probe's window). Columns, not ORM objects, one UPDATE per parking
    time, each payload read once.
    """
    held = held if held is not None else Held()
    while True:
        endpoints, hubs, no_mails = held.skipped(settings)
        query = select(Delivery.id).where(
            Delivery.state == "pending", Delivery.next_attempt_at <= now
        )
        if endpoints:
            query = query.where(
                or_(Delivery.endpoint_id.is_(None), Delivery.endpoint_id.not_in(endpoints))
            )
        if hubs:
            query = query.where(
                or_(
                    Delivery.hub_subscription_id.is_(None),
                    Delivery.hub_subscription_id.not_in(hubs),
                )
            )
        if no_mails:
            query = query.where(Delivery.email_subscriber_id.is_(None))
        due = session.scalars(
            query.order_by(Delivery.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
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
                Delivery.hub_subscription_id,
                WebhookEndpoint.id.label("endpoint_id"),
                WebhookEndpoint.url.label("endpoint_url"),
                WebhookEndpoint.secret.label("endpoint_secret"),
                WebhookEndpoint.enabled.label("endpoint_enabled"),
                WebhookEndpoint.paused_until.label("endpoint_paused_until"),
                HubSubscription.callback,
                HubSubscription.secret.label("hub_secret"),
                HubSubscription.topic,
                HubSubscription.active.label("hub_active"),
                HubSubscription.expires_at.label("hub_expires_at"),
                HubSubscription.paused_until.label("hub_paused_until"),
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
        verdicts = [(row, _verdict(row, now)) for row in rows]
        probes = _take_probes(
            session,
            settings,
            now,
            {b for row, v in verdicts if v is None and _half_open(row) and (b := _breaker(row))},
        )
        probing_until = now + probe_window(settings)
        sendable: list[Any] = []
        parked: defaultdict[datetime, list[int]] = defaultdict(list)
        dead: list[tuple[int, str]] = []
        for row, verdict in verdicts:
            breaker = _breaker(row)
            if isinstance(verdict, str):
                dead.append((row.id, verdict))
            elif verdict is not None:
                parked[verdict].append(row.id)
            elif _half_open(row) and breaker not in probes:
                parked[probing_until].append(row.id)  # another delivery probes
            elif held.full(lane := _lane(row), settings):
                held.add(lane, breaker, 0)  # skipped, and its subscriber from now on
            else:
                if breaker is not None:
                    probes.discard(breaker)  # one probe only
                held.add(lane, breaker)
                sendable.append(row)
        for until, ids in parked.items():
            reschedule(session, ids, until)
        for delivery_id, reason in dead:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(state="dead", last_error=reason)
            )
        if sendable:
            return _lease(session, settings, now, sendable)


def _lane(row: Any) -> str:
    if row.endpoint_id is not None:
        return lane_of("webhook", row.endpoint_id, row.endpoint_url)
    if row.callback is not None:
        return lane_of("websub", None, row.callback)
    return lane_of("email", None, row.email)


def reschedule(session: Session, delivery_ids: list[int], at: datetime) -> None:
    """Make pending deliveries due at ``at``: parked, or given back by their sender (``at``
    now), not counted as attempts."""
    if delivery_ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids), Delivery.state == "pending")
            .values(next_attempt_at=at)
            .execution_options(synchronize_session=False)
        )


def _lease(session: Session, settings: Settings, now: datetime, rows: list[Any]) -> list[Attempt]:
    lease = now + timedelta(seconds=lease_seconds(settings))
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
                row.hub_subscription_id,
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
) -> dict[tuple[str, int], datetime]:
    """Store attempts (in the order they ended): the delivered with one UPDATE per status
    code, the failed with one executemany; each webhook endpoint's streak of failures, and
    each subscriber's circuit breaker. Returns the subscribers paused now, with their end."""
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
    paused = _update_breakers(session, settings, results, now)
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
    return paused


def breaker_pause(timeouts: int, settings: Settings) -> timedelta:
    """How long a subscriber is paused after ``timeouts`` attempts in a row without an
    answer (at least ``breaker_timeouts``): doubled by each further one, capped."""
    doublings = min(timeouts - settings.breaker_timeouts, 30)
    seconds = min(settings.breaker_pause_seconds * 2**doublings, settings.breaker_max_pause_seconds)
    return timedelta(seconds=seconds)


def _update_breakers(
    session: Session, settings: Settings, results: list[AttemptResult], now: datetime
) -> dict[tuple[str, int], datetime]:
    """An answer (any HTTP status: the subscriber is there) closes a subscriber's breaker;
    ``breaker_timeouts`` attempts in a row without one pause it (see ``breaker_pause``)."""
    answered: set[tuple[str, int]] = set()  # answered at least once in these results
    streaks: Counter[tuple[str, int]] = Counter()  # attempts without an answer since
    for result in results:
        if (breaker := result.attempt.breaker) is None:
            continue
        if result.status is None:
            streaks[breaker] += 1
        else:
            answered.add(breaker)
            streaks.pop(breaker, None)
    paused = {}
    for kind, model in BREAKER_TABLES.items():
        closed = [i for k, i in answered if k == kind and (k, i) not in streaks]
        if closed:
            session.execute(
                update(model)
                .where(
                    model.id.in_(closed),
                    or_(model.consecutive_timeouts != 0, model.paused_until.is_not(None)),
                )
                .values(consecutive_timeouts=0, paused_until=None)
                .execution_options(synchronize_session=False)
            )
        failing = sorted(i for k, i in streaks if k == kind)
        if not failing:
            continue
        subscribers = session.scalars(  # locked in a fixed order, as _take_probes does
            select(model).where(model.id.in_(failing)).order_by(model.id).with_for_update()
        )
        for subscriber in cast(Iterable[WebhookEndpoint | HubSubscription], subscribers):
            key = (kind, subscriber.id)
            streak = streaks[key]
            if key in answered:
                subscriber.consecutive_timeouts, subscriber.paused_until = streak, None
            else:
                subscriber.consecutive_timeouts += streak
            if subscriber.consecutive_timeouts >= settings.breaker_timeouts:
                subscriber.paused_until = now + breaker_pause(
                    subscriber.consecutive_timeouts, settings
                )
                paused[key] = subscriber.paused_until
    return paused


# A delivery's channel, by the column that names its subscriber.
CHANNELS = {
    "webhook": Delivery.endpoint_id,
    "websub": Delivery.hub_subscription_id,
    "email": Delivery.email_subscriber_id,
}


def page_deliveries(
    session: Session,
    state: str | None,
    position: Position,
    limit: int,
    channel: str | None = None,
    subscriber_id: int | None = None,
) -> Page[Delivery]:
    """Newest first; ``state`` pending, delivered, dead, or failing (pending after a failed
    attempt); ``channel`` webhook, websub or email, and with it ``subscriber_id``, the
    deliveries of one subscriber. Each filter has its index (``(state, id)``, a partial
    index per channel, ``(<subscriber column>, id)``), so a page reads about the rows it
    shows. Subscribers and the articles' titles come in the same query."""
    stmt = select(Delivery).options(
        joinedload(Delivery.endpoint),
        joinedload(Delivery.hub_subscription),
        joinedload(Delivery.email_subscriber),
        joinedload(Delivery.article).load_only(Article.id, Article.title, Article.slug),
    )
    if state == "failing":
        stmt = stmt.where(Delivery.state == "pending", Delivery.attempts > 0)
    elif state:
        stmt = stmt.where(Delivery.state == state)
    if channel:
        column = CHANNELS[channel]
        if subscriber_id is not None:
            stmt = stmt.where(column == subscriber_id)
        else:
            stmt = stmt.where(column.is_not(None))
    return keyset_page(session, stmt, (Delivery.id,), position, limit)


Subscriber = WebhookEndpoint | HubSubscription | EmailSubscriber
SUBSCRIBER_MODELS: dict[str, type[Subscriber]] = {
    "webhook": WebhookEndpoint,
    "websub": HubSubscription,
    "email": EmailSubscriber,
}


def get_subscriber(session: Session, channel: str, subscriber_id: int) -> Subscriber:
    """The subscriber of a channel (webhook, websub, email) by its id; NotFound if none."""
    subscriber: Subscriber | None = None
    if 0 < subscriber_id <= MAX_INTEGER:  # an id column's range (PostgreSQL refuses more)
        subscriber = session.get(SUBSCRIBER_MODELS[channel], subscriber_id)  # type: ignore[assignment]
    if subscriber is None:
        raise NotFound(N_("Không có người nhận %(id)s"), id=subscriber_id)
    return subscriber


def retry_delivery(session: Session, delivery_id: int, now: datetime) -> Delivery:
    """Send a dead (or pending) delivery again now, with its attempts counted afresh."""
    delivery = session.get(Delivery, delivery_id, options=[joinedload(Delivery.endpoint)])
    if delivery is None:
        raise NotFound(N_("Không có lần gửi %(id)s"), id=delivery_id)
    if delivery.state == "delivered":
        raise Conflict(N_("Lần gửi %(id)s đã thành công rồi"), id=delivery_id)
    delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    return delivery
