"""The pieces every notification channel shares: delivery rows, attempts, filters."""

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from feedsvc.models import Article, Delivery, DeliveryPayload
from feedsvc.text import clean_line, normalise_search

T = TypeVar("T")
log = logging.getLogger(__name__)


def clean_keywords(keywords: Iterable[str]) -> list[str]:
    """Keyword filters as they are stored and shown: as typed ("thi đua"), each a clean line,
    in their order, without blanks or a second keyword that folds like an earlier one."""
    kept: dict[str, str] = {}  # folded -> as typed
    for keyword in keywords:
        typed = clean_line(keyword)
        kept.setdefault(normalise_search(typed), typed)
    kept.pop("", None)
    return list(kept.values())


@dataclass(frozen=True)
class Filters:
    """A subscriber's filters, ready to match many articles: category slugs, and keywords
    folded like the search text (stored as typed; rows made before migration 0017 hold them
    folded already, which folds to itself). Empty: no filter."""

    categories: frozenset[str]
    keywords: tuple[str, ...]

    @classmethod
    def of(cls, categories: Iterable[str], keywords: Iterable[str]) -> "Filters":
        folded = (normalise_search(keyword) for keyword in keywords)
        return cls(frozenset(categories), tuple(k for k in folded if k))

    def passes(self, article: Article) -> bool:
        if self.categories and article.category.slug not in self.categories:
            return False
        return not self.keywords or any(k in article.search_text for k in self.keywords)


def insert_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: what a rerun of a fan-out makes again is dropped."""
    if not rows:  # an executemany of nothing would insert one row of defaults
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(Delivery).on_conflict_do_nothing(), rows)


def new_payload(session: Session, body: str, content_type: str, now: datetime) -> int:
    """Store what a fan-out sends; its deliveries refer to it by the id returned."""
    payload = DeliveryPayload(body=body, content_type=content_type, created_at=now)
    session.add(payload)
    session.flush()
    return payload.id


def delivery_row(
    now: datetime,
    article_id: int | None,
    payload_id: int,
    endpoint_id: int | None = None,
    hub_subscription_id: int | None = None,
    email_subscriber_id: int | None = None,
) -> dict[str, Any]:
    return {
        "message_id": f"msg_{secrets.token_hex(12)}",
        "endpoint_id": endpoint_id,
        "hub_subscription_id": hub_subscription_id,
        "email_subscriber_id": email_subscriber_id,
        "article_id": article_id,
        "payload_id": payload_id,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
    }


BATCH_ROUNDS = 8  # a claimed batch holds delivery_concurrency × this many deliveries


@dataclass(frozen=True)
class Lane:
    """Whom a send occupies, for the limit of sends at once per subscriber (a webhook
    endpoint, a WebSub callback's host, the SMTP server): its name, and how many attempts
    one send carries (an SMTP connection sends several mails)."""

    name: str
    per_send: int = 1


@dataclass(frozen=True)
class Attempt:
    """A claimed delivery: all its sender needs, read in the claiming transaction by its
    channel (``kind``), which fills the id of its own subscriber."""

    delivery_id: int
    message_id: str
    kind: str  # the channel's: "webhook", "websub" or "email"
    endpoint_id: int | None  # the webhook endpoint
    subscriber_id: int | None  # the e-mail subscriber, for the unsubscribe link
    url: str  # where it goes: a URL, or an e-mail address
    secret: str | None
    payload: str
    content_type: str
    topic: str | None
    attempts: int
    hub_subscription_id: int | None = None  # the WebSub subscription


@dataclass(frozen=True)
class AttemptResult:
    attempt: Attempt
    status: int | None  # None: no answer (timeout, connection refused or cut, address refused)
    error: str  # "" when delivered


def built_or_logged(what: str, article_ids: list[int], build: Callable[[], T]) -> T | None:
    """``build()``, or None when it raises: the failure is logged with the articles' ids.

    Payloads are built from stored text that a format may not hold (U+FFFF in XML, a line
    break in a mail header); one such article must cost only its own notification, never
    the announcement of the others. Any exception counts: the caller cannot know what a
    renderer raises.
    """
    try:
        return build()
    except Exception:
        ids = ", ".join(map(str, article_ids))
        log.exception("%s of article(s) %s could not be built; left out", what, ids)
        return None
