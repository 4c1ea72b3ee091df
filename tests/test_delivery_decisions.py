"""The pure decisions of the notifications outbox, as tables: when a failed delivery is
tried again, and whether a due delivery may go to its subscriber now.

No clock, no database, no network: ``now`` and the random draws are given, and the
answers are exact.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from feedsvc.notify.channels.webhook import PARKED
from feedsvc.notify.outbox import _Due, retry_at
from feedsvc.settings import Settings
from tests.fixed import MIDDLE, FixedRandom

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SETTINGS = Settings(delivery_backoff_max_minutes=360)


@pytest.mark.parametrize(
    ("attempts", "draw", "wait"),
    [
        (1, MIDDLE, MINUTE),  # the jitter is ±20%: the middle draw is none
        (1, 0.0, timedelta(seconds=48)),
        (1, 1.0, timedelta(seconds=72)),
        (2, MIDDLE, 2 * MINUTE),
        (4, MIDDLE, 8 * MINUTE),  # 1, 2, 4, 8 ... minutes
        (9, MIDDLE, 256 * MINUTE),
        (10, MIDDLE, 360 * MINUTE),  # capped at delivery_backoff_max_minutes
        (40, 1.0, 432 * MINUTE),
    ],
)
def test_retry_at_doubles_with_jitter_up_to_the_cap(attempts, draw, wait):
    assert retry_at(attempts, SETTINGS, NOW, FixedRandom(draw)) == NOW + wait


@dataclass(frozen=True)
class DueRow:
    """What the outbox's claim reads of a due delivery and its subscriber (the columns each
    channel's ``claim_columns`` adds)."""

    id: int = 1
    article_id: int | None = 1
    webhook_id: int | None = None
    webhook_url: str = "http://hooks.vn/in"
    webhook_enabled: bool = True
    webhook_paused_until: datetime | None = None
    websub_id: int | None = None
    websub_callback: str = "http://reader.vn/cb"
    websub_active: bool = True
    websub_expires_at: datetime | None = None
    websub_paused_until: datetime | None = None
    email_id: int | None = None
    email_address: str = "ban.doc@example.vn"
    email_unsubscribed_at: datetime | None = None
    email_confirmed_at: datetime | None = None


LATER, EARLIER = NOW + 5 * MINUTE, NOW - 5 * MINUTE
HOOK = {"webhook_id": 3}
HUB = {"websub_id": 4, "websub_expires_at": LATER}
MAIL = {"email_id": 5, "email_confirmed_at": EARLIER}


@pytest.mark.parametrize(
    ("row", "verdict"),
    [
        (DueRow(**HOOK), None),  # goes now
        (DueRow(**HOOK, webhook_enabled=False), NOW + PARKED),  # disabled: parked an hour
        (DueRow(**HOOK, webhook_paused_until=LATER), LATER),  # its breaker is open
        (DueRow(**HOOK, webhook_paused_until=EARLIER), None),  # the pause is over: a probe
        (DueRow(**HUB), None),
        (DueRow(**{**HUB, "websub_expires_at": EARLIER}), "the WebSub subscription has ended"),
        (DueRow(**{**HUB, "websub_expires_at": NOW}), "the WebSub subscription has ended"),
        (DueRow(**HUB, websub_active=False), "the WebSub subscription has ended"),
        (DueRow(**{**HUB, "websub_expires_at": None}), "the WebSub subscription has ended"),
        (DueRow(**HUB, websub_paused_until=LATER), LATER),
        (DueRow(**MAIL), None),
        (DueRow(**MAIL, email_unsubscribed_at=EARLIER), "unsubscribed"),
        (
            DueRow(email_id=5),
            "the address is not confirmed",
        ),  # an article to an unconfirmed address
        (DueRow(email_id=5, article_id=None), None),  # the confirmation mail itself
    ],
)
def test_verdict_on_a_due_delivery(row, verdict):
    assert _Due.of(row, NOW).verdict == verdict
