"""What a notification channel is: the interface the outbox and the delivery job go through.

A channel is one way subscribers are told about articles (a webhook POST, a WebSub push, a
mail). It owns everything that depends on that way:

- announcing: which of its subscribers want which of a round's articles, and the payload
  they get (``fan_out``);
- claiming: the column of ``Delivery`` naming its subscriber (``column``), the columns of
  the subscriber the claim reads (``claim_columns``, labelled ``<kind>_...`` so that
  channels never clash, through ``claim_join``), whether the subscriber is still there and
  wants deliveries now (``subscriber``, ``verdict``), whom a send occupies (``lane``), and
  what a sender needs (``attempt``, ``subscriber_of``);
- sending and recording: ``sender`` makes the function that sends a unit of attempts (one,
  or ``Lane.per_send`` of them over one connection); ``record`` keeps what the channel's
  own subscribers remember of the results (a webhook endpoint's streak of failures).

The outbox only claims, leases, records and retries, the same way for every channel; it
never asks which channel it holds. A channel whose subscribers may stop answering names the
model holding their circuit breaker (``breaker_model``); the outbox pauses and probes them.
See docs/decisions/0015-notification-channels.md for adding one.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx
from sqlalchemy import ColumnElement, Row
from sqlalchemy.orm import InstrumentedAttribute, Session

from feedsvc.models import Article, HubSubscription, WebhookEndpoint
from feedsvc.notify.rows import Attempt, AttemptResult, Lane
from feedsvc.settings import Settings
from feedsvc.text import Clock

Send = Callable[[list[Attempt]], list[AttemptResult]]
# Whether a due delivery can go now: None when it can, a time to park it until, or the
# reason to end it dead.
Verdict = str | datetime | None
# (channel kind, subscriber id): whose breaker, whom a lane holds
SubscriberKey = tuple[str, int]
# The subscribers with circuit breakers: rows with id, consecutive_timeouts and paused_until.
BreakerRow = WebhookEndpoint | HubSubscription
BreakerModel = type[WebhookEndpoint] | type[HubSubscription]


@dataclass(frozen=True)
class Subscriber:
    """The subscriber of a claimed delivery, as the outbox sees those of every channel."""

    id: int
    address: str  # where its sends go: a URL, an e-mail address
    paused_until: datetime | None = None  # its circuit breaker's pause, if it has one


class Channel(ABC):
    """One way of telling subscribers; one instance of each is registered in
    ``notify.channels.CHANNELS``."""

    kind: ClassVar[str]  # its name in ``Attempt.kind`` and breakers; never changes
    breaker_model: ClassVar[BreakerModel | None] = None
    shared_lane: ClassVar[Lane | None] = None  # the one lane of all its sends, if so

    @abstractmethod
    def column(self) -> InstrumentedAttribute[int | None]:
        """The column of ``Delivery`` naming this channel's subscriber."""

    @abstractmethod
    def fan_out(
        self, session: Session, settings: Settings, articles: Sequence[Article], now: datetime
    ) -> list[dict[str, Any]]:
        """The delivery rows (``rows.delivery_row``) of a round's articles to this channel's
        subscribers, their payloads stored (``rows.new_payload``). A payload that cannot be
        built is logged and left out (``rows.built_or_logged``), never raised."""

    @abstractmethod
    def claim_columns(self) -> tuple[ColumnElement[Any], ...]:
        """The subscriber's columns a claim reads, ``<kind>_id`` (its id) among them."""

    @abstractmethod
    def claim_join(self) -> tuple[type[Any], ColumnElement[bool]]:
        """The subscriber's model and how a delivery joins it (an outer join)."""

    @abstractmethod
    def subscriber(self, row: Row[Any]) -> Subscriber | None:
        """The subscriber of a claimed row; None when the row is another channel's."""

    @abstractmethod
    def verdict(self, row: Row[Any], now: datetime) -> Verdict:
        """Whether the row's subscriber is still there and takes deliveries (its circuit
        breaker aside, which the outbox looks at)."""

    @abstractmethod
    def lane(self, subscriber_id: int, address: str) -> Lane: ...

    @abstractmethod
    def attempt(self, row: Row[Any], payload: str, content_type: str) -> Attempt:
        """What a sender needs of a claimed row (read once its payload is)."""

    @abstractmethod
    def subscriber_of(self, attempt: Attempt) -> int:
        """The id of an attempt's subscriber (the field of ``Attempt`` this channel fills)."""

    @abstractmethod
    def sender(
        self, session: Session, settings: Settings, client: httpx.Client, clock: Clock
    ) -> Send:
        """The function that sends a unit of this channel's attempts and returns a result
        for each; made once per delivery run (``session`` reads what it needs, such as a
        signing key; ``client`` is the shared HTTP client for outbound calls; ``clock`` the
        time of each attempt, from the job's edge), then called from several threads at once."""

    @abstractmethod
    def record(self, session: Session, settings: Settings, results: list[AttemptResult]) -> None:
        """Keep what this channel's subscribers remember of ``results`` (its own, in the
        order they ended), beyond the deliveries and breakers the outbox records."""
