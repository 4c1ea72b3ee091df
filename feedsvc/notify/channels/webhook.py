"""The webhook channel: each enabled endpoint whose filters an article passes gets the
article's JSON event, POSTed and signed per Standard Webhooks (standardwebhooks library).

Each attempt carries ``webhook-id`` (the delivery's message id, the same on every retry),
``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body`` with the endpoint's secret). An endpoint disabled (by an admin, or
after ``webhook_max_failures`` failed deliveries in a row) keeps its deliveries parked until
it is enabled again. The endpoints themselves are managed in ``notify.webhooks``.
"""

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy import ColumnElement, Row, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from standardwebhooks.webhooks import Webhook

from feedsvc.models import Article, Delivery, WebhookEndpoint
from feedsvc.notify.channels.base import Channel, Send, Subscriber, Verdict
from feedsvc.notify.channels.http import post
from feedsvc.notify.rows import (
    Attempt,
    AttemptResult,
    Filters,
    Lane,
    built_or_logged,
    delivery_row,
    new_payload,
)
from feedsvc.settings import Settings
from feedsvc.text import Clock, to_local
from feedsvc.urls import FEED_FORMATS, article_url, category_url, feed_url

PARKED = timedelta(hours=1)  # a disabled webhook's deliveries are looked at again then


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


def signed_headers(attempt: Attempt, now: datetime) -> dict[str, str]:
    """The headers of a webhook delivery, its Standard Webhooks signature included."""
    return {
        "content-type": attempt.content_type,
        "webhook-id": attempt.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(attempt.secret or "").sign(
            attempt.message_id, now, attempt.payload
        ),
    }


def send_attempt(
    client: httpx.Client, settings: Settings, attempt: Attempt, now: datetime
) -> AttemptResult:
    """POST one webhook delivery, signed at ``now``."""
    return post(client, attempt, attempt.payload.encode(), signed_headers(attempt, now))


class WebhookChannel(Channel):
    kind = "webhook"
    breaker_model = WebhookEndpoint

    def column(self) -> InstrumentedAttribute[int | None]:
        return Delivery.endpoint_id

    def fan_out(
        self, session: Session, settings: Settings, articles: Sequence[Article], now: datetime
    ) -> list[dict[str, Any]]:
        """A delivery per enabled endpoint whose filters an article passes; an article's
        event is stored once and shared."""
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

    def claim_columns(self) -> tuple[ColumnElement[Any], ...]:
        return (
            WebhookEndpoint.id.label("webhook_id"),
            WebhookEndpoint.url.label("webhook_url"),
            WebhookEndpoint.secret.label("webhook_secret"),
            WebhookEndpoint.enabled.label("webhook_enabled"),
            WebhookEndpoint.paused_until.label("webhook_paused_until"),
        )

    def claim_join(self) -> tuple[type[Any], ColumnElement[bool]]:
        return WebhookEndpoint, Delivery.endpoint_id == WebhookEndpoint.id

    def subscriber(self, row: Row[Any]) -> Subscriber | None:
        if row.webhook_id is None:
            return None
        return Subscriber(row.webhook_id, row.webhook_url, row.webhook_paused_until)

    def verdict(self, row: Row[Any], now: datetime) -> Verdict:
        """A disabled endpoint may be enabled again: its deliveries are parked."""
        return None if row.webhook_enabled else now + PARKED

    def lane(self, subscriber_id: int, address: str) -> Lane:
        return Lane(f"webhook:{subscriber_id}")

    def attempt(self, row: Row[Any], payload: str, content_type: str) -> Attempt:
        return Attempt(
            row.id,
            row.message_id,
            self.kind,
            row.webhook_id,
            None,
            row.webhook_url,
            row.webhook_secret,
            payload,
            content_type,
            None,
            row.attempts,
        )

    def subscriber_of(self, attempt: Attempt) -> int:
        assert attempt.endpoint_id is not None  # filled by ``attempt``
        return attempt.endpoint_id

    def sender(
        self, session: Session, settings: Settings, client: httpx.Client, clock: Clock
    ) -> Send:
        def send(unit: list[Attempt]) -> list[AttemptResult]:
            return [send_attempt(client, settings, attempt, clock()) for attempt in unit]

        return send

    def record(self, session: Session, settings: Settings, results: list[AttemptResult]) -> None:
        """Each endpoint's streak of failed deliveries: any delivered ends it; one of
        ``webhook_max_failures`` disables the endpoint."""
        delivered_to = {r.attempt.endpoint_id for r in results if not r.error}
        if delivered_to:
            session.execute(
                update(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id.in_(delivered_to), WebhookEndpoint.consecutive_failures != 0
                )
                .values(consecutive_failures=0)
            )
        failures = Counter(r.attempt.endpoint_id for r in results if r.error)
        for endpoint_id, count in failures.items():
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or endpoint_id in delivered_to:
                continue
            endpoint.consecutive_failures += count
            if endpoint.enabled and endpoint.consecutive_failures >= settings.webhook_max_failures:
                endpoint.enabled = False
                endpoint.disabled_reason = (
                    f"{endpoint.consecutive_failures} failed deliveries in a row"
                )
