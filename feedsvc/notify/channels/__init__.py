"""The notification channels the outbox serves, in the order a round fans out to them.

Adding a channel is adding its module (a ``base.Channel``) and an instance of it here; see
docs/decisions/0015-notification-channels.md.
"""

from feedsvc.notify.channels.base import Channel, SubscriberKey
from feedsvc.notify.channels.email import EmailChannel
from feedsvc.notify.channels.webhook import WebhookChannel
from feedsvc.notify.channels.websub import WebSubChannel
from feedsvc.notify.rows import Attempt, Lane

CHANNELS: tuple[Channel, ...] = (WebSubChannel(), WebhookChannel(), EmailChannel())
_BY_KIND = {channel.kind: channel for channel in CHANNELS}
KINDS = tuple(_BY_KIND)


def channel_named(kind: str) -> Channel:
    return _BY_KIND[kind]


def lane_of(attempt: Attempt) -> Lane:
    """Whom sending ``attempt`` occupies."""
    channel = _BY_KIND[attempt.kind]
    return channel.lane(channel.subscriber_of(attempt), attempt.url)


def breaker_of(attempt: Attempt) -> SubscriberKey | None:
    """The circuit breaker ``attempt``'s results count for, if its channel has them."""
    channel = _BY_KIND[attempt.kind]
    return (channel.kind, channel.subscriber_of(attempt)) if channel.breaker_model else None
