"""The WebSub channel: content distribution (W3C WebSub §7) to the live subscriptions of our
hub (``notify.hub`` verifies and keeps them).

Once per announce round, each topic with new entries gets one POST of a "fat ping": a
document of the topic's format with its Content-Type, ``Link`` rel=hub and rel=self, and
``X-Hub-Signature: sha256=...`` when the subscriber gave a secret. RSS and Atom pushes hold
just that round's new entries (§7 lets a hub leave out the delivered ones); a JSON Feed push
holds the whole topic document, as §7 asks of every other format. The document is built once
per topic and shared by its subscribers; an article the format cannot hold is left out (and
logged), not the whole push. Expired or ended subscriptions get nothing: their deliveries end
dead.
"""

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from feedsvc.feeds.render import MEDIA_TYPES
from feedsvc.feeds.service import FeedRequest, FeedState, build_feed, feed_state, render_entries
from feedsvc.models import Article, Delivery, HubSubscription
from feedsvc.notify.channels.base import Channel, Send, Subscriber, Verdict
from feedsvc.notify.channels.http import post
from feedsvc.notify.hub import TopicFeed, category_slugs, topic_feed
from feedsvc.notify.rows import (
    Attempt,
    AttemptResult,
    Lane,
    built_or_logged,
    delivery_row,
    new_payload,
)
from feedsvc.settings import Settings
from feedsvc.text import Clock
from feedsvc.urls import ALL_FEED


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def push_headers(attempt: Attempt, body: bytes, settings: Settings) -> dict[str, str]:
    """The headers of a content distribution (§7), its signature included."""
    headers = {
        "content-type": attempt.content_type,
        "link": f'<{settings.websub_hub_url}>; rel="hub", <{attempt.topic}>; rel="self"',
    }
    if attempt.secret:
        headers["x-hub-signature"] = hub_signature(attempt.secret, body)
    return headers


def push(client: httpx.Client, settings: Settings, attempt: Attempt) -> AttemptResult:
    """POST one content distribution."""
    body = attempt.payload.encode()
    return post(client, attempt, body, push_headers(attempt, body, settings))


def _fat_ping(
    session: Session, settings: Settings, feed: TopicFeed, entries: list[Article], now: datetime
) -> tuple[str, int] | None:
    """The topic's push (see ``_push_document``) and the id of the newest of ``entries``,
    which names its deliveries."""
    state = feed_state(session, feed.slug, now)
    render = partial(_push_document, session, settings, state, feed, entries, now)
    body = built_or_logged(f"the {feed.fmt} push of {feed.slug}", [a.id for a in entries], render)
    return (body.decode(), entries[0].id) if body is not None else None


def _push_document(
    session: Session,
    settings: Settings,
    state: FeedState,
    feed: TopicFeed,
    entries: list[Article],
    now: datetime,
) -> bytes:
    """RSS and Atom: the topic's document holding just ``entries`` (§7 lets a hub leave
    out the entries it delivered before). JSON Feed, which §7 gives no such exception: the
    whole topic document, as a GET of the topic answers it. Articles the format cannot hold
    are left out by the renderer."""
    if feed.fmt == "json":
        return build_feed(session, settings, state, FeedRequest(feed.slug, feed.fmt), now).body
    return render_entries(settings, state, feed.fmt, entries)


class WebSubChannel(Channel):
    kind = "websub"
    breaker_model = HubSubscription

    def column(self) -> InstrumentedAttribute[int | None]:
        return Delivery.hub_subscription_id

    def fan_out(
        self, session: Session, settings: Settings, articles: Sequence[Article], now: datetime
    ) -> list[dict[str, Any]]:
        """One delivery per live subscription whose topic has new entries among
        ``articles``: the topic's fat ping, built once and shared by its subscribers. The
        delivery names the newest entry of its push as its article."""
        subscriptions = session.execute(
            select(HubSubscription.id, HubSubscription.topic).where(
                HubSubscription.active.is_(True), HubSubscription.expires_at > now
            )
        ).all()
        if not subscriptions:
            return []
        slugs = category_slugs(session)
        subscribers: dict[TopicFeed, list[int]] = {}
        for subscription_id, topic in subscriptions:
            feed = topic_feed(settings, slugs, topic)
            if feed is not None:
                subscribers.setdefault(feed, []).append(subscription_id)
        newest_first = sorted(articles, key=lambda a: (a.published_at, a.id), reverse=True)
        rows = []
        for feed, subscription_ids in subscribers.items():
            entries = [a for a in newest_first if feed.slug in (ALL_FEED, a.category.slug)]
            pushed = _fat_ping(session, settings, feed, entries, now) if entries else None
            if pushed is None:
                continue
            body, newest_id = pushed
            payload_id = new_payload(session, body, MEDIA_TYPES[feed.fmt], now)
            rows += [
                delivery_row(now, newest_id, payload_id, hub_subscription_id=subscription_id)
                for subscription_id in subscription_ids
            ]
        return rows

    def claim_columns(self) -> tuple[ColumnElement[Any], ...]:
        return (
            HubSubscription.id.label("websub_id"),
            HubSubscription.callback.label("websub_callback"),
            HubSubscription.secret.label("websub_secret"),
            HubSubscription.topic.label("websub_topic"),
            HubSubscription.active.label("websub_active"),
            HubSubscription.expires_at.label("websub_expires_at"),
            HubSubscription.paused_until.label("websub_paused_until"),
        )

    def claim_join(self) -> tuple[type[Any], ColumnElement[bool]]:
        return HubSubscription, Delivery.hub_subscription_id == HubSubscription.id

    def subscriber(self, row: Row[Any]) -> Subscriber | None:
        if row.websub_id is None:
            return None
        return Subscriber(row.websub_id, row.websub_callback, row.websub_paused_until)

    def verdict(self, row: Row[Any], now: datetime) -> Verdict:
        expires_at = row.websub_expires_at
        alive = row.websub_active and expires_at is not None and expires_at > now
        return None if alive else "the WebSub subscription has ended"

    def lane(self, subscriber_id: int, address: str) -> Lane:
        """The callback's host: one host may hold many subscriptions."""
        return Lane(f"host:{(urlsplit(address).hostname or '').lower()}")

    def attempt(self, row: Row[Any], payload: str, content_type: str) -> Attempt:
        return Attempt(
            row.id,
            row.message_id,
            self.kind,
            None,
            None,
            row.websub_callback,
            row.websub_secret,
            payload,
            content_type,
            row.websub_topic,
            row.attempts,
            row.websub_id,
        )

    def subscriber_of(self, attempt: Attempt) -> int:
        assert attempt.hub_subscription_id is not None  # filled by ``attempt``
        return attempt.hub_subscription_id

    def sender(
        self, session: Session, settings: Settings, client: httpx.Client, clock: Clock
    ) -> Send:
        def send(unit: list[Attempt]) -> list[AttemptResult]:
            return [push(client, settings, attempt) for attempt in unit]

        return send

    def record(self, session: Session, settings: Settings, results: list[AttemptResult]) -> None:
        """Nothing beyond the outbox's records."""
