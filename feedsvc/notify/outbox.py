"""The outbox: deliveries made from newly visible articles, claimed, retried, dead-lettered.

The same for every channel (``notify.channels``): what depends on the channel (who wants an
article, its payload, whether a subscriber is still there, whom a send occupies, the
sending) is asked of the channel, never tested here.

- ``announce_due`` claims a round of visible articles not yet announced (FOR UPDATE SKIP
  LOCKED), makes the deliveries each channel fans them out to (INSERT ... ON CONFLICT DO
  NOTHING, so a rerun after a crash adds nothing twice) and marks the articles announced,
  all in one transaction. Scheduled articles are announced by the first round after their
  time.
- ``claim_deliveries`` hands due deliveries to one sender (row locks and a lease, as sources
  are claimed), skipping the subscribers it already holds enough of; ``record_attempts``
  stores what happened: delivered, or the next attempt after an exponential backoff with
  jitter, or dead after ``delivery_max_attempts``.
- Circuit breaker: a subscriber of a channel with breakers (webhook endpoints, WebSub
  subscriptions) that does not answer ``breaker_timeouts`` times in a row is paused
  (``paused_until`` on its row, shared by every worker); its deliveries are parked at claim
  time until the pause ends, then one probe goes: an answer closes the breaker, another
  failure doubles the pause (capped).
"""

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Select, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session, joinedload

from feedsvc.errors import N_, Conflict, NotFound
from feedsvc.models import MAX_INTEGER, Article, Delivery, DeliveryPayload
from feedsvc.notify.channels import CHANNELS, breaker_of, channel_named
from feedsvc.notify.channels.base import (
    BreakerModel,
    BreakerRow,
    Channel,
    Subscriber,
    SubscriberKey,
    Verdict,
)
from feedsvc.notify.rows import (
    BATCH_ROUNDS,
    Attempt,
    AttemptResult,
    Lane,
    insert_deliveries,
)
from feedsvc.paging import Page, Position, keyset_page
from feedsvc.settings import Settings

JITTER = 0.2


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
    rows = [
        row for channel in CHANNELS for row in channel.fan_out(session, settings, articles, now)
    ]
    for article in articles:
        article.announced_at = now
    for start in range(0, len(rows), 5000):
        insert_deliveries(session, rows[start : start + 5000])
    return len(articles)


def lease_seconds(settings: Settings) -> float:
    """How long a claimed delivery stays with its sender.

    It outlasts the sending, so that a sender that dies leaves its deliveries due again: a
    claimed delivery waits for at most about one send of its subscriber and one of every
    slot (see deliver.py), and a send carries at most BATCH_ROUNDS attempts (an SMTP
    connection's mails, plus its connection and greeting). A sender gives back what it
    could not start in time.
    """
    return settings.delivery_timeout * 2 * (BATCH_ROUNDS + 2) + 10


def lane_rows(lane: Lane, settings: Settings) -> int:
    """Deliveries of one lane a sender holds at once (sending and waiting): two rounds of
    its sends at once, each carrying ``per_send`` attempts."""
    return 2 * settings.delivery_per_subscriber * lane.per_send


def probe_window(settings: Settings) -> timedelta:
    """How long a paused subscriber's probe delivery has before another may go."""
    return timedelta(seconds=settings.delivery_timeout * 3 + 10)


@dataclass(frozen=True)
class _Due:
    """A due delivery as the claim reads it, with what its channel says of it."""

    row: Row[Any]
    channel: Channel
    subscriber: Subscriber
    verdict: Verdict  # see base.Verdict; a paused subscriber's pause included
    lane: Lane
    breaker: SubscriberKey | None
    half_open: bool  # its subscriber was paused and the pause is over: it may be the probe

    @classmethod
    def of(cls, row: Row[Any], now: datetime) -> "_Due":
        for channel in CHANNELS:
            subscriber = channel.subscriber(row)
            if subscriber is not None:
                break
        else:  # the foreign keys cascade: a delivery's subscriber is there while it is
            raise LookupError(f"delivery {row.id} has no subscriber")
        verdict = channel.verdict(row, now)
        paused_until = subscriber.paused_until
        if verdict is None and paused_until is not None and paused_until > now:
            verdict = paused_until  # paused by its breaker
        return cls(
            row,
            channel,
            subscriber,
            verdict,
            channel.lane(subscriber.id, subscriber.address),
            (channel.kind, subscriber.id) if channel.breaker_model else None,
            paused_until is not None,
        )

    @property
    def held_as(self) -> SubscriberKey | None:
        """How ``Held`` counts its subscriber: by id, unless its channel has one lane."""
        return None if self.channel.shared_lane else (self.channel.kind, self.subscriber.id)


# The models of the circuit breakers, in the order they are locked (as ``_take_probes`` does).
BREAKER_MODELS: list[tuple[str, BreakerModel]] = sorted(
    ((channel.kind, channel.breaker_model) for channel in CHANNELS if channel.breaker_model),
    key=lambda pair: pair[0],
)


def _take_probes(
    session: Session, settings: Settings, now: datetime, subscribers: set[SubscriberKey]
) -> set[SubscriberKey]:
    """The half-open subscribers whose one probe this sender takes: their pause is moved to
    the end of the probe's window in the same statement that checks it is over, so two
    senders never both probe. In a fixed order, as ``_update_breakers`` locks them."""
    taken = set()
    for kind, subscriber_id in sorted(subscribers):
        model = channel_named(kind).breaker_model
        assert model is not None  # only channels with breakers make Breakers
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
    lane (a WebSub callback host may serve several subscriptions; a channel with one lane,
    such as mails, is skipped whole)."""

    per_lane: Counter[Lane] = field(default_factory=Counter)
    subscribers: defaultdict[Lane, set[SubscriberKey]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def full(self, lane: Lane, settings: Settings) -> bool:
        return self.per_lane[lane] >= lane_rows(lane, settings)

    def add(self, lane: Lane, subscriber: SubscriberKey | None, count: int = 1) -> None:
        self.per_lane[lane] += count
        if subscriber is not None:
            self.subscribers[lane].add(subscriber)

    def remove(self, lane: Lane, count: int = 1) -> None:
        self.per_lane[lane] -= count
        if not self.per_lane[lane]:
            del self.per_lane[lane]
            self.subscribers.pop(lane, None)

    def skip(self, query: Select[Any], settings: Settings) -> Select[Any]:
        """``query`` of due deliveries without those of the subscribers in full lanes."""
        skipped: defaultdict[str, set[int]] = defaultdict(set)
        for lane, subscribers in self.subscribers.items():
            if self.full(lane, settings):
                for kind, subscriber_id in subscribers:
                    skipped[kind].add(subscriber_id)
        for channel in CHANNELS:
            if channel.shared_lane is not None:
                if self.full(channel.shared_lane, settings):
                    query = query.where(channel.column().is_(None))
            elif ids := skipped.get(channel.kind):
                column = channel.column()
                query = query.where(or_(column.is_(None), column.not_in(ids)))
        return query


def _claim_query(due: Iterable[int]) -> Select[Any]:
    """The due deliveries with the columns of their subscribers that their channels read."""
    query = select(
        Delivery.id,
        Delivery.message_id,
        Delivery.payload_id,
        Delivery.attempts,
        Delivery.article_id,
        *(column for channel in CHANNELS for column in channel.claim_columns()),
    )
    for channel in CHANNELS:
        query = query.outerjoin(*channel.claim_join())
    return query.where(Delivery.id.in_(due)).order_by(Delivery.next_attempt_at)


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
    a disabled webhook's for an hour, a paused subscriber's until its pause ends (then all
    but one probe for the probe's window). Columns, not ORM objects, one UPDATE per parking
    time, each payload read once.
    """
    held = held if held is not None else Held()
    while True:
        query = select(Delivery.id).where(
            Delivery.state == "pending", Delivery.next_attempt_at <= now
        )
        due = session.scalars(
            held.skip(query, settings)
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not due:
            return []
        claimed = [_Due.of(row, now) for row in session.execute(_claim_query(due))]
        probes = _take_probes(
            session,
            settings,
            now,
            {d.breaker for d in claimed if d.verdict is None and d.half_open and d.breaker},
        )
        probing_until = now + probe_window(settings)
        sendable: list[_Due] = []
        parked: defaultdict[datetime, list[int]] = defaultdict(list)
        dead: list[tuple[int, str]] = []
        for d in claimed:
            if isinstance(d.verdict, str):
                dead.append((d.row.id, d.verdict))
            elif d.verdict is not None:
                parked[d.verdict].append(d.row.id)
            elif d.half_open and d.breaker not in probes:
                parked[probing_until].append(d.row.id)  # another delivery probes
            elif held.full(d.lane, settings):
                held.add(d.lane, d.held_as, 0)  # skipped, and its subscriber from now on
            else:
                if d.breaker is not None:
                    probes.discard(d.breaker)  # one probe only
                held.add(d.lane, d.held_as)
                sendable.append(d)
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


def _lease(
    session: Session, settings: Settings, now: datetime, claimed: list[_Due]
) -> list[Attempt]:
    lease = now + timedelta(seconds=lease_seconds(settings))
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_([d.row.id for d in claimed]))
        .values(next_attempt_at=lease)
        .execution_options(synchronize_session=False)
    )
    payloads = {
        payload.id: payload
        for payload in session.execute(
            select(DeliveryPayload.id, DeliveryPayload.body, DeliveryPayload.content_type).where(
                DeliveryPayload.id.in_({d.row.payload_id for d in claimed})
            )
        )
    }
    attempts = []
    for d in claimed:
        payload = payloads[d.row.payload_id]
        attempts.append(d.channel.attempt(d.row, payload.body, payload.content_type))
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
) -> dict[SubscriberKey, datetime]:
    """Store attempts (in the order they ended): the delivered with one UPDATE per status
    code, the failed with one executemany; each subscriber's circuit breaker, and what each
    channel keeps of its own results (``Channel.record``). Returns the subscribers paused
    now, with their end."""
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
    for channel in CHANNELS:
        own = [result for result in results if result.attempt.kind == channel.kind]
        if own:
            channel.record(session, settings, own)
    return paused


def breaker_pause(timeouts: int, settings: Settings) -> timedelta:
    """How long a subscriber is paused after ``timeouts`` attempts in a row without an
    answer (at least ``breaker_timeouts``): doubled by each further one, capped."""
    doublings = min(timeouts - settings.breaker_timeouts, 30)
    seconds = min(settings.breaker_pause_seconds * 2**doublings, settings.breaker_max_pause_seconds)
    return timedelta(seconds=seconds)


def _update_breakers(
    session: Session, settings: Settings, results: list[AttemptResult], now: datetime
) -> dict[SubscriberKey, datetime]:
    """An answer (any HTTP status: the subscriber is there) closes a subscriber's breaker;
    ``breaker_timeouts`` attempts in a row without one pause it (see ``breaker_pause``)."""
    answered: set[SubscriberKey] = set()  # answered at least once in these results
    streaks: Counter[SubscriberKey] = Counter()  # attempts without an answer since
    for result in results:
        if (breaker := breaker_of(result.attempt)) is None:
            continue
        if result.status is None:
            streaks[breaker] += 1
        else:
            answered.add(breaker)
            streaks.pop(breaker, None)
    paused = {}
    for kind, model in BREAKER_MODELS:
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
        for subscriber in cast(Iterable[BreakerRow], subscribers):
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
def page_deliveries(
    session: Session,
    state: str | None,
    position: Position,
    limit: int,
    channel: str | None = None,
    subscriber_id: int | None = None,
) -> Page[Delivery]:
    """Newest first; ``state`` pending, delivered, dead, or failing (pending after a failed
    attempt); ``channel`` a channel's kind (webhook, websub, email), and with it
    ``subscriber_id``, the deliveries of one subscriber. Each filter has its index
    (``(state, id)``, a partial index per channel, ``(<subscriber column>, id)``), so a page
    reads about the rows it shows. Subscribers and the articles' titles come in the same query."""
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
        column = channel_named(channel).column()
        if subscriber_id is not None:
            stmt = stmt.where(column == subscriber_id)
        else:
            stmt = stmt.where(column.is_not(None))
    return keyset_page(session, stmt, (Delivery.id,), position, limit)


def get_subscriber(session: Session, channel: str, subscriber_id: int) -> Any:
    """The subscriber (its model's row) of a channel's kind by its id; NotFound if none."""
    subscriber = None
    if 0 < subscriber_id <= MAX_INTEGER:  # an id column's range (PostgreSQL refuses more)
        model, _join = channel_named(channel).claim_join()
        subscriber = session.get(model, subscriber_id)
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
