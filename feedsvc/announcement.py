"""Whether a newly stored article is announced to subscribers, or stored without a word.

Pure decisions (issue 11): no database, no clock; ``now`` is passed in. An article held back
is stored with ``announced_at`` already set, so the outbox never sees it; the reason is
counted on its source (``sources.unannounced_baseline`` / ``unannounced_old``).

- ``baseline``: the entries of a source's first successful fetch (and the first after its
  URL changed) are its back catalogue, not news.
- ``old``: an entry new to us whose date is older than ``announce_max_age_hours`` before the
  fetch (an upstream republishing its archive, or changing an old entry's guid), and an
  article created through the API or the admin with such a date (a CMS importing its
  archive). An entry without a date counts as new; a scheduled article is never old.
"""

from datetime import datetime, timedelta
from typing import Literal

HoldReason = Literal["baseline", "old"]
BASELINE: HoldReason = "baseline"
OLD: HoldReason = "old"


def max_age(hours: int) -> timedelta | None:
    """The ``announce_max_age_hours`` setting as a span; None when 0 (no limit)."""
    return timedelta(hours=hours) if hours else None


def hold_reason(
    *, baseline: bool, dated: datetime | None, now: datetime, limit: timedelta | None
) -> HoldReason | None:
    """Why a new article is not announced, or None when it is.

    ``dated``: its publish date as its origin gave it (None: undated, which counts as new);
    ``limit``: the age beyond which it is old (None: no limit).
    """
    if baseline:
        return BASELINE
    if dated is not None and limit is not None and dated < now - limit:
        return OLD
    return None
