"""WebSub subscriber (W3C WebSub, §5-§7): sources whose feed advertises rel=hub and
rel=self are subscribed at the hub, so new entries are pushed to us at once.

- A subscription is asked for after a successful poll (``want_subscription``) and sent
  outside any transaction (``send_subscription``).
- The hub verifies our intent with a GET on the callback, which we answer
  (``answer_hub_verification``); the callback URL carries a random key, and only the
  pending topic is confirmed.
- Content distributions are stored only with a valid ``X-Hub-Signature`` made with the secret
  we gave (``accept_distribution``); others are ignored, as §7 asks.
- Leases are renewed by the safety-net poll, which is scheduled before the lease ends.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session

from feedsvc.announcement import max_age
from feedsvc.errors import N_, NotFound, UnsafeURL
from feedsvc.ingest.parse import parse_feed
from feedsvc.ingest.store import StoreResult, store_entries
from feedsvc.models import Source
from feedsvc.outbound import ANSWER_LIMIT, check_scheme, read_capped
from feedsvc.settings import Settings

SIGNATURE_ALGORITHMS = {"sha1", "sha256", "sha384", "sha512"}
# A hub may grant any lease; we renew within a year whatever it says (and a longer one would
# not fit a datetime).
MAX_LEASE_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class SubscribeRequest:
    source_id: int
    hub: str
    topic: str
    callback: str
    secret: str
    lease_seconds: int


def callback_url(base_url: str, source_id: int, key: str) -> str:
    return f"{base_url}/websub/{source_id}/{key}"


def renewal_due(state: str, lease_expires_at: datetime | None) -> datetime | None:
    """When the lease must be renewed: an hour before it ends (None: no active lease)."""
    if state != "active" or lease_expires_at is None:
        return None
    return lease_expires_at - timedelta(hours=1)


def want_subscription(
    source: Source, hub: str | None, topic: str | None, settings: Settings, now: datetime
) -> SubscribeRequest | None:
    """A subscription to ask for at ``hub`` for ``topic`` (the feed's rel=hub and rel=self,
    or the stored ones when only the lease needs renewing), if we have none or it ends."""
    if not (hub and topic):
        return None
    same = source.websub_hub == hub and source.websub_topic == topic
    renew_at = renewal_due(source.websub_state, source.websub_lease_expires_at)
    if same and source.websub_state == "pending":
        return None
    if same and source.websub_state == "active" and renew_at is not None and now < renew_at:
        return None
    if same and source.websub_state == "denied":
        return None
    source.websub_hub, source.websub_topic = hub, topic
    source.websub_secret = secrets.token_hex(32)
    source.websub_callback_key = secrets.token_urlsafe(24)
    source.websub_state, source.websub_error = "pending", ""
    return SubscribeRequest(
        source.id,
        hub,
        topic,
        callback_url(settings.base_url, source.id, source.websub_callback_key),
        source.websub_secret,
        settings.websub_lease_seconds,
    )


def send_subscription(client: httpx.Client, settings: Settings, request: SubscribeRequest) -> str:
    """POST the subscription request to the hub; returns what went wrong ("" if accepted)."""
    try:
        check_scheme(request.hub)  # the address is checked by the client
        with client.stream(
            "POST",
            request.hub,
            data={
                "hub.mode": "subscribe",
                "hub.topic": request.topic,
                "hub.callback": request.callback,
                "hub.secret": request.secret,
                "hub.lease_seconds": str(request.lease_seconds),
            },
        ) as response:
            read_capped(response, ANSWER_LIMIT)
    except UnsafeURL as exc:
        return str(exc)
    except httpx.HTTPError as exc:
        return f"hub unreachable: {type(exc).__name__}: {exc}"
    if not response.is_success:
        return f"hub answered HTTP {response.status_code}"
    return ""


def record_subscription_error(session: Session, source_id: int, error: str) -> None:
    source = session.get(Source, source_id)
    if source is not None and source.websub_state == "pending":
        source.websub_state, source.websub_error = "failed", error


def _source(session: Session, source_id: int, key: str) -> Source:
    source = session.get(Source, source_id)
    if (
        source is None
        or not source.websub_callback_key
        or not hmac.compare_digest(source.websub_callback_key, key)
    ):
        raise NotFound(N_("Không có đăng ký này"))
    return source


def answer_hub_verification(
    session: Session,
    source_id: int,
    key: str,
    mode: str,
    topic: str,
    lease_seconds: int | None,
    reason: str,
    settings: Settings,
    now: datetime,
) -> bool:
    """Our side of the hub's verification of intent (the hub's side of our own hub is
    ``notify.hub.verify_subscriber_intent``): True if we confirm (the caller echoes the
    challenge); NotFound for a stranger."""
    source = _source(session, source_id, key)
    if topic != source.websub_topic:
        return False
    if mode == "subscribe" and source.websub_state in ("pending", "active"):
        granted = min(lease_seconds or settings.websub_lease_seconds, MAX_LEASE_SECONDS)
        lease = timedelta(seconds=granted)
        source.websub_state, source.websub_lease_expires_at = "active", now + lease
        source.websub_error = ""
        return True
    if mode == "denied":
        source.websub_state, source.websub_error = "denied", reason or "denied by the hub"
        return True
    return False  # we never ask to unsubscribe: an unsubscribe is not ours


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    algorithm, _, signature = header.partition("=")
    if algorithm not in SIGNATURE_ALGORITHMS or not signature:
        return False
    expected = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    return hmac.compare_digest(expected, signature.lower())


def accept_distribution(
    session: Session,
    source_id: int,
    key: str,
    body: bytes,
    content_type: str,
    signature: str,
    now: datetime,
    settings: Settings,
) -> StoreResult | None:
    """Store the pushed entries (as a fetch's: the same limits, the same announcement rule);
    None when the delivery is ignored (bad or no signature)."""
    source = _source(session, source_id, key)
    if source.websub_state != "active" or not source.websub_secret:
        return None
    if not signature_valid(source.websub_secret, body, signature):
        return None
    parsed = parse_feed(body, source.websub_topic or source.url, content_type)
    result = store_entries(
        session,
        source,
        parsed.entries,
        now,
        settings.max_new_entries_per_fetch,
        max_age(settings.announce_max_age_hours),
    )
    source.item_count += len(result.new_ids)
    return result
