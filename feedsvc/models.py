"""SQLAlchemy 2.x models of the store.

Every datetime is stored in UTC and comes back timezone-aware (``UTCDateTime``), on SQLite as
on PostgreSQL. Schema changes go through Alembic migrations in ``feedsvc/migrations``.
"""

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Tables whose ids appear in URLs, payloads or the API: on SQLite, AUTOINCREMENT, so that the
# id of a deleted row is never handed out again (PostgreSQL's sequences never do).
IDS_NEVER_REUSED = {"sqlite_autoincrement": True}
# The largest value an Integer column (every id among them) holds: 32 bits on PostgreSQL.
MAX_INTEGER = 2**31 - 1
# Times are kept a day inside datetime's range, so that any time zone can show them.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
MAX_BIG_INTEGER = 2**63 - 1  # a BigInteger column (byte sizes of enclosures)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# The search index (migrations 0021, 0022, 0025, feedsvc.search) is no model: an FTS5 table
# with triggers on SQLite; on PostgreSQL a generated tsvector column with a GIN index (with
# the category), and a GIN index on an expression (the pairs of words).
SEARCH_INDEX_NAMES = frozenset({"search_vector", "ix_articles_search", "ix_articles_search_pairs"})


def in_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: whether a reflected object is one the models describe."""
    if type_ == "table" and name is not None and name.startswith("article_search"):
        return False
    return name not in SEARCH_INDEX_NAMES


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ContentState(Base):
    """One row: a counter bumped by every change that can alter any served feed.

    With ``Category.content_version`` it makes the cheap cache key of the built feeds:
    ``feedsvc.content.touch_categories`` bumps both, ``feedsvc.feeds.service.feed_state``
    reads them.
    """

    __tablename__ = "content_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Category(Base):
    __tablename__ = "categories"
    __table_args__ = (IDS_NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    content_version: Mapped[int] = mapped_column(Integer, default=0)
    content_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    articles: Mapped[list["Article"]] = relationship(back_populates="category")


class Source(Base):
    """An upstream feed we poll, with its HTTP validators, schedule and health."""

    __tablename__ = "sources"
    __table_args__ = (
        Index("ix_sources_due", "enabled", "next_fetch_at"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    category_map: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    # Days its articles are kept after their publication (housekeeping); None: for ever.
    keep_days: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # HTTP validators of the last 200 response, sent back for a 304.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # Schedule: claimed by moving next_fetch_at forward (see ingest.claims).
    next_fetch_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Lease of the fetch running now (NULL: none), so a manual fetch never runs beside it.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Held back after a failure until then (NULL: not held): by the upstream's Retry-After
    # (hold_reason "retry_after") or by backoff ("backoff"). Manual fetches respect it unless
    # forced; next_fetch_at is then the same time, so the worker's due query needs no more.
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hold_reason: Mapped[str] = mapped_column(String(20), default="", server_default="")
    # Health of the last fetch.
    last_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    last_bytes: Mapped[int | None] = mapped_column(Integer)
    last_new: Mapped[int] = mapped_column(Integer, default=0)
    last_updated: Mapped[int] = mapped_column(Integer, default=0)
    # New entries the last fetch did not store, over ``max_new_entries_per_fetch`` (the oldest).
    last_skipped: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_warning: Mapped[str] = mapped_column(Text, default="")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # New entries stored without being announced (see feedsvc.announcement): when the
    # baseline was taken (NULL: the next successful fetch is one; sources older than
    # migration 0016 that had fetched count from their creation), how many of the last
    # fetch, and totals by reason since the source was added.
    baseline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_unannounced: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unannounced_baseline: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unannounced_old: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # WebSub subscription at the hub the feed advertises (see ingest.websub). The secret
    # must be kept as is: it is the HMAC key that authenticates the hub's deliveries.
    websub_state: Mapped[str] = mapped_column(String(20), default="")
    websub_hub: Mapped[str | None] = mapped_column(String(2000))
    websub_topic: Mapped[str | None] = mapped_column(String(2000))
    websub_secret: Mapped[str | None] = mapped_column(String(100))
    websub_callback_key: Mapped[str | None] = mapped_column(String(100))
    websub_lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    websub_error: Mapped[str] = mapped_column(Text, default="")
    # Totals since the source was added, exported as Prometheus counters.
    fetch_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    # The site the feed says it belongs to (its <link>), as of its last 200.
    site_url: Mapped[str | None] = mapped_column(String(2000))

    category: Mapped[Category] = relationship()


class SourceFetch(Base):
    """One fetch of a source, kept among its last few (``feedsvc.ingest.history``).

    ``outcome``: "ok" (a 200 read), "not_modified" (a 304) or "error"."""

    __tablename__ = "source_fetches"
    __table_args__ = (Index("ix_source_fetches_source_id", "source_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    updated_items: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_category_published", "category_id", "published_at", "id"),
        Index("ix_articles_published", "published_at", "id"),
        UniqueConstraint("source_id", "entry_key"),
        Index("ix_articles_source_link", "source_id", "link"),
        Index("ix_articles_source_created", "source_id", "created_at"),
        Index("ix_articles_source_published", "source_id", "published_at"),  # housekeeping
        Index(
            "ix_articles_unannounced",
            "published_at",
            postgresql_where=text("announced_at IS NULL"),
            sqlite_where=text("announced_at IS NULL"),
        ),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guid: Mapped[str] = mapped_column(String(100), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    title: Mapped[str] = mapped_column(String(500))
    slug: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text, default="")
    # True: the summary was derived from the body (none was given), and is derived again
    # whenever the body changes; False: it was set explicitly and stays until set again.
    summary_derived: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    body_html: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    image_url: Mapped[str | None] = mapped_column(String(2000))
    image_type: Mapped[str | None] = mapped_column(String(100))
    # Bytes of the enclosure, as upstream says: 64-bit (SQLite's INTEGER already is).
    image_length: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    link: Mapped[str | None] = mapped_column(String(2000))
    origin: Mapped[str] = mapped_column(String(20), default="local")
    # Ingested articles: the source, a SHA-256 of the entry's identity there (guid, else link,
    # else title and content; see ingest.entries) and of its content, to notice edits.
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    entry_key: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # True when the upstream entry had no date and published_at is the time we fetched it.
    published_at_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When subscribers were told about the article; NULL: new, still to be announced once it
    # is visible (the notifications outbox claims these). Edits never reset it.
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    search_text: Mapped[str] = mapped_column(Text, default="")

    category: Mapped[Category] = relationship(back_populates="articles")


class ApiToken(Base):
    """A bearer token for the API; only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (IDS_NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookEndpoint(Base):
    """An integration told about new articles by signed POSTs (Standard Webhooks).

    ``secret`` ("whsec_" + base64) is the HMAC key deliveries are signed with; it must be
    kept as is to sign, so it is shown to the admin and stored, like a password it is not.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (IDS_NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(100))
    # Filters: category slugs and keywords as typed (matched folded, see notify.rows.Filters);
    # empty means every article.
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Its circuit breaker (see notify/outbox.py): attempts in a row without an answer, and
    # until when its deliveries are parked (None: not paused).
    consecutive_timeouts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HubSubscription(Base):
    """A WebSub subscriber of one of our feeds (the built-in hub at /hub).

    A request is recorded as an *intent* (``intent``: subscribe, unsubscribe or denied) and
    verified by the worker, which GETs the callback; only then does it take effect.
    ``secret`` is the HMAC key of the subscriber's deliveries (kept as is: it signs).
    """

    __tablename__ = "hub_subscriptions"
    __table_args__ = (
        UniqueConstraint("topic", "callback"),
        Index("ix_hub_subscriptions_intent", "intent", "intent_at"),
        Index("ix_hub_subscriptions_ended", "intent", "expires_at"),  # housekeeping
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(2000))
    callback: Mapped[str] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    secret: Mapped[str | None] = mapped_column(String(200))
    lease_seconds: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    intent: Mapped[str] = mapped_column(String(20), default="")  # "" when none is pending
    intent_secret: Mapped[str | None] = mapped_column(String(200))
    intent_lease_seconds: Mapped[int | None] = mapped_column(Integer)
    intent_reason: Mapped[str] = mapped_column(Text, default="")
    intent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Its circuit breaker, as a webhook endpoint's.
    consecutive_timeouts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InstanceKey(Base):
    """Random keys made once per installation (migration 0007), shared by every process:
    ``signing`` signs CSRF tokens and e-mail links unless settings give ``secret_key``."""

    __tablename__ = "instance_keys"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class EmailSubscriber(Base):
    """A citizen told about new articles by e-mail, once they confirmed their address."""

    __tablename__ = "email_subscribers"
    __table_args__ = (
        # housekeeping: addresses never confirmed, and addresses that left
        Index(
            "ix_email_subscribers_unconfirmed",
            "confirmation_sent_at",
            postgresql_where=text("confirmed_at IS NULL"),
            sqlite_where=text("confirmed_at IS NULL"),
        ),
        Index(
            "ix_email_subscribers_unsubscribed",
            "unsubscribed_at",
            postgresql_where=text("unsubscribed_at IS NOT NULL"),
            sqlite_where=text("unsubscribed_at IS NOT NULL"),
        ),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Filters, as a webhook endpoint's: category slugs, keywords as typed.
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    frequency: Mapped[str] = mapped_column(String(20), default="immediate")  # or "daily"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Daily digests cover articles published up to this instant (the last digest time).
    digest_through: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateEvent(Base):
    """One counted action (a subscription request from an address, a login attempt), for
    rate limits shared by every process (feedsvc.ratelimit)."""

    __tablename__ = "rate_events"
    __table_args__ = (
        Index("ix_rate_events_key_at", "key", "at"),
        Index("ix_rate_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


RATE_KEY_LENGTH = 200  # longer keys are shortened with a digest (feedsvc.ratelimit)


class RateKey(Base):
    """One row per rate-limited key: counting an event for the key locks this row first, so
    that checking and counting are one step across every process (feedsvc.ratelimit)."""

    __tablename__ = "rate_keys"
    __table_args__ = (Index("ix_rate_keys_touched_at", "touched_at"),)

    key: Mapped[str] = mapped_column(String(RATE_KEY_LENGTH), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryPayload(Base):
    """What deliveries send, stored once per fan-out and shared: the webhook event of an
    article, a topic's feed document, an article's mail (a template that the sender fills
    in per subscriber: recipient, Message-ID, unsubscribe link)."""

    __tablename__ = "delivery_payloads"
    # housekeeping walks the old payloads in this order, looking for unreferenced ones
    __table_args__ = (Index("ix_delivery_payloads_created_at", "created_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# A delivery's subscriber is in exactly one of these columns (its channel), which its CHECK
# constraint says in SQL both databases read alike.
SUBSCRIBER_COLUMNS = ("endpoint_id", "hub_subscription_id", "email_subscriber_id")
ONE_SUBSCRIBER = (
    "("
    + " + ".join(f"CASE WHEN {column} IS NULL THEN 0 ELSE 1 END" for column in SUBSCRIBER_COLUMNS)
    + ") = 1"
)


class Delivery(Base):
    """One notification to one subscriber: the outbox row, retried until delivered or dead.

    The subscriber is a webhook endpoint, a WebSub subscription or an e-mail subscriber
    (exactly one is set); an e-mail without an article is an address confirmation.
    ``message_id`` is sent with every attempt (``webhook-id``, a mail's Message-ID), so a
    receiver can tell a retry from a new message. The payload is fixed when the delivery is
    made, and shared with the other deliveries of its fan-out.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "article_id"),
        UniqueConstraint("hub_subscription_id", "article_id"),
        UniqueConstraint("email_subscriber_id", "article_id"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_state_id", "state", "id"),
        # whether a payload is still referenced (housekeeping; the foreign key's checks), and
        # the deliveries of a deleted article (its foreign key's SET NULL)
        Index("ix_deliveries_payload_id", "payload_id"),
        Index("ix_deliveries_article_id", "article_id"),
        CheckConstraint(ONE_SUBSCRIBER, name="one_subscriber"),  # migration 0023
        # the admin's lists: one subscriber's deliveries, one channel's (migration 0024)
        *(Index(f"ix_deliveries_{column}", column, "id") for column in SUBSCRIBER_COLUMNS),
        *(
            Index(
                f"ix_deliveries_channel_{column}",
                "id",
                postgresql_where=text(f"{column} IS NOT NULL"),
                sqlite_where=text(f"{column} IS NOT NULL"),
            )
            for column in SUBSCRIBER_COLUMNS
        ),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    hub_subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("hub_subscriptions.id", ondelete="CASCADE")
    )
    email_subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_subscribers.id", ondelete="CASCADE")
    )
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    payload_id: Mapped[int] = mapped_column(ForeignKey("delivery_payloads.id"))
    state: Mapped[str] = mapped_column(String(20), default="pending")  # delivered, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    endpoint: Mapped[WebhookEndpoint | None] = relationship()
    hub_subscription: Mapped[HubSubscription | None] = relationship()
    email_subscriber: Mapped[EmailSubscriber | None] = relationship()
    article: Mapped[Article | None] = relationship()
    payload: Mapped[DeliveryPayload] = relationship()


class AdminUser(Base):
    """An account of the admin UI: ``admin`` may do everything, ``editor`` only articles."""

    __tablename__ = "admin_users"
    __table_args__ = (IDS_NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, PHC string
    role: Mapped[str] = mapped_column(String(20), default="editor")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AdminSession(Base):
    """A signed-in browser: the cookie holds a random token, the store only its SHA-256."""

    __tablename__ = "admin_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[AdminUser] = relationship()


class HousekeepingState(Base):
    """One row (made on first need): when the next scheduled sweep is due, which every worker
    claims by moving it forward, and what the sweeps removed (feedsvc.housekeeping)."""

    __tablename__ = "housekeeping_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_sweep_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_swept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    # Rows removed per kind: by the last sweep, and by every sweep so far.
    last_removed: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    removed_total: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
