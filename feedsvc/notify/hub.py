"""The built-in WebSub hub (W3C WebSub §5-§7) for our own feeds, at /hub.

Every MUST of the Recommendation that binds a hub, and the test that checks it, is listed in
docs/decisions/0010-websub-hub.md.

- A subscription request is checked and recorded as an *intent* (202 Accepted); the worker
  then verifies it with a GET on the callback carrying ``hub.challenge``, and only an echo
  of the challenge with a 2xx activates it (or ends it, for an unsubscription). A request
  for a topic that is not one of our feeds is denied: the callback gets ``hub.mode=denied``.
  Both GETs keep the callback's own query string and append the ``hub.*`` parameters
  (§5.1.1); a request changes the subscription only once it is verified, and a failed
  verification leaves it as it was (§5.1).
- Topics and callbacks are stored with percent-encoded unreserved characters decoded
  (§5.1.1), so ``%2D`` and ``-`` name the same subscription.
- Topics are our feed URLs, in every format: ``BASE_URL/feeds/<slug>.<rss|atom|json>``.
- Leases have a default and bounds (settings); expired subscriptions get nothing.
- Limits: subscriptions (live or awaiting verification) per callback host, and requests
  per hour per client address; beyond them a request is refused (429) with the reason.
- Content distribution (§7) is the WebSub channel of the outbox: ``channels.websub``.
"""

import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from feedsvc.errors import N_, InvalidInput, RateLimited, UnsafeURL
from feedsvc.models import Category, HubSubscription
from feedsvc.outbound import ANSWER_LIMIT, check_scheme, check_url, read_capped
from feedsvc.paging import Page, Position, keyset_page
from feedsvc.ratelimit import take
from feedsvc.settings import Settings
from feedsvc.urls import ALL_FEED, FEED_FORMATS

MAX_SECRET_BYTES = 199  # WebSub §5.1: hub.secret must be less than 200 bytes
MAX_URL = 1000
_PERCENT_ENCODED = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def decode_unreserved(url: str) -> str:
    """``url`` with its percent-encoded unreserved characters decoded (RFC 3986 §2.3: the
    same URL), as WebSub §5.1.1 asks of hubs for the topic and the callback."""

    def decoded(match: re.Match[str]) -> str:
        char = chr(int(match[1], 16))
        return char if char in _UNRESERVED else match[0]

    return _PERCENT_ENCODED.sub(decoded, url)


def callback_with(callback: str, params: dict[str, str]) -> str:
    """The callback with ``params`` appended to its own query string with ``&`` (§5.1.1):
    its parameters stay as they are, even those named like ours. A fragment is never sent."""
    base = callback.partition("#")[0]
    joint = "" if base.endswith(("?", "&")) else "&" if "?" in base else "?"
    return base + joint + urlencode(params)


@dataclass(frozen=True)
class TopicFeed:
    slug: str
    fmt: str


def category_slugs(session: Session) -> set[str]:
    return set(session.scalars(select(Category.slug)))


def topic_feed(settings: Settings, slugs: Collection[str], topic: str) -> TopicFeed | None:
    """The feed a topic URL names (``slugs``: our categories), or None if it is not ours."""
    prefix = f"{settings.base_url}/feeds/"
    if not topic.startswith(prefix) or urlsplit(topic).query:
        return None
    slug, _, fmt = topic.removeprefix(prefix).rpartition(".")
    if fmt not in FEED_FORMATS or not slug:
        return None
    if slug != ALL_FEED and slug not in slugs:
        return None
    return TopicFeed(slug, fmt)


def _count_request(session: Session, settings: Settings, client_ip: str, now: datetime) -> None:
    """Every request makes a verification GET: refuse one beyond the address's hourly quota."""
    rate_key = f"hub:{client_ip}"
    refusal = N_("Có quá nhiều yêu cầu tới hub từ địa chỉ này; xin thử lại sau")
    take(session, [rate_key], settings.hub_requests_per_hour, timedelta(hours=1), now, refusal)


def _check_host_share(session: Session, settings: Settings, callback: str, now: datetime) -> None:
    """Refuse a new subscription whose callback host has its share already."""
    host = urlsplit(callback).hostname or ""
    pattern = "%" + host.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    candidates = session.scalars(  # a coarse match in SQL, the exact host below
        select(HubSubscription.callback).where(
            func.lower(HubSubscription.callback).like(pattern, escape="\\"),
            or_(HubSubscription.active.is_(True), HubSubscription.intent == "subscribe"),
            or_(HubSubscription.expires_at.is_(None), HubSubscription.expires_at > now),
        )
    )
    taken = sum(1 for url in candidates if urlsplit(url).hostname == host)
    if taken >= settings.hub_subscriptions_per_host:
        raise RateLimited(
            N_(
                "Các callback trên %(host)s đã giữ %(taken)d đăng ký, mức tối đa hub này cho"
                " mỗi máy chủ (%(most)d)"
            ),
            host=host,
            taken=taken,
            most=settings.hub_subscriptions_per_host,
        )


def record_intent(
    session: Session,
    settings: Settings,
    mode: str,
    topic: str,
    callback: str,
    lease_seconds: int | None,
    secret: str,
    client_ip: str,
    now: datetime,
) -> None:
    """Check a subscription request and keep it for verification (or for its denial).
    ``lease_seconds`` is ignored for an unsubscription (§5.1)."""
    _count_request(session, settings, client_ip, now)
    topic, callback = decode_unreserved(topic), decode_unreserved(callback)
    if mode not in ("subscribe", "unsubscribe"):
        raise InvalidInput(
            N_("hub.mode phải là subscribe hoặc unsubscribe"), {"hub.mode": "%(mode)s"}, mode=mode
        )
    if not topic or len(topic) > MAX_URL:
        raise InvalidInput(N_("hub.topic thiếu hoặc quá dài"), {"hub.topic": N_("bắt buộc")})
    if not callback or len(callback) > MAX_URL:
        raise InvalidInput(N_("hub.callback thiếu hoặc quá dài"), {"hub.callback": N_("bắt buộc")})
    try:
        check_url(callback, settings.allow_private_urls)
    except UnsafeURL as exc:
        raise InvalidInput(
            exc.message, {"hub.callback": exc.problems.get("url", N_("bị từ chối"))}, **exc.params
        ) from exc
    if len(secret.encode()) > MAX_SECRET_BYTES:
        raise InvalidInput(N_("hub.secret phải ngắn hơn 200 byte"), {"hub.secret": N_("quá dài")})
    lease = (lease_seconds if mode == "subscribe" else None) or settings.hub_lease_seconds
    lease = min(max(lease, settings.hub_lease_min_seconds), settings.hub_lease_max_seconds)
    subscription = session.scalar(
        select(HubSubscription).where(
            HubSubscription.topic == topic, HubSubscription.callback == callback
        )
    )
    if subscription is None and mode == "subscribe":  # renewals always pass
        _check_host_share(session, settings, callback, now)
    if subscription is None:
        subscription = HubSubscription(
            topic=topic, callback=callback, active=False, lease_seconds=lease, created_at=now
        )
        session.add(subscription)
    known = topic_feed(settings, category_slugs(session), topic) is not None
    subscription.intent = mode if known else "denied"
    subscription.intent_secret = secret or None
    subscription.intent_lease_seconds = lease
    subscription.intent_reason = "" if known else "unknown topic: not one of our feeds"
    subscription.intent_at = now


@dataclass(frozen=True)
class Intent:
    subscription_id: int
    mode: str
    topic: str
    callback: str
    lease_seconds: int
    reason: str
    secret: str | None


def claim_intents(session: Session, settings: Settings, now: datetime, limit: int) -> list[Intent]:
    rows = session.scalars(
        select(HubSubscription)
        .where(HubSubscription.intent != "", HubSubscription.intent_at <= now)
        .order_by(HubSubscription.intent_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    intents = []
    for row in rows:
        row.intent_at = now + timedelta(seconds=settings.delivery_timeout * 2 + 10)  # a lease
        intents.append(
            Intent(
                row.id,
                row.intent,
                row.topic,
                row.callback,
                row.intent_lease_seconds or 0,
                row.intent_reason,
                row.intent_secret,
            )
        )
    return intents


def verify_subscriber_intent(client: httpx.Client, settings: Settings, intent: Intent) -> bool:
    """GET the callback: a denial is only told; a (un)subscription must echo the challenge,
    a fresh random one, exactly, with a 2xx (a redirect is not followed: it fails, §5.3.1)."""
    params = {"hub.mode": intent.mode, "hub.topic": intent.topic}
    if intent.mode == "denied":
        params["hub.reason"] = intent.reason
    else:
        params["hub.challenge"] = secrets.token_urlsafe(24)
        if intent.mode == "subscribe":
            params["hub.lease_seconds"] = str(intent.lease_seconds)
    try:
        check_scheme(intent.callback)  # the address is checked by the client
        url = callback_with(intent.callback, params)
        with client.stream("GET", url) as response:
            answer = read_capped(response, ANSWER_LIMIT)
    except (UnsafeURL, httpx.HTTPError):
        return False
    if intent.mode == "denied":
        return True
    return response.is_success and answer == params["hub.challenge"].encode()


def _pending(subscription: HubSubscription) -> tuple[str, str | None, int]:
    """What the latest request asked, as its Intent holds it."""
    return (
        subscription.intent,
        subscription.intent_secret,
        subscription.intent_lease_seconds or 0,
    )


def record_verification(
    session: Session, intent: Intent, confirmed: bool, asked_at: datetime
) -> None:
    """Apply a verified intent (a lease runs from ``asked_at``, when the verification GET
    was made, §5.3); a failed one leaves the subscription as it was (§5.1)."""
    subscription = session.get(HubSubscription, intent.subscription_id)
    if subscription is None or _pending(subscription) != (
        intent.mode,
        intent.secret,
        intent.lease_seconds,
    ):
        return  # a newer request came meanwhile: it is verified on its own
    if intent.mode == "subscribe" and confirmed:
        subscription.active = True
        subscription.secret = subscription.intent_secret
        subscription.lease_seconds = intent.lease_seconds
        subscription.expires_at = asked_at + timedelta(seconds=intent.lease_seconds)
    elif (intent.mode == "unsubscribe" and confirmed) or intent.mode == "denied":
        subscription.active = False
    subscription.intent, subscription.intent_secret = "", None
    if not subscription.active and subscription.expires_at is None:
        session.delete(subscription)  # never active: nothing to keep


def page_subscriptions(session: Session, position: Position, limit: int) -> Page[HubSubscription]:
    """Newest first."""
    return keyset_page(session, select(HubSubscription), (HubSubscription.id,), position, limit)
