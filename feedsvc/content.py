"""The content versions that key the feed cache.

Every service that changes what a feed would show calls ``touch_categories`` in the same
transaction. Feeds are then cached under (version, newest visible publish time): the counter
catches every write, the publish time catches a scheduled article becoming visible without any
write. Both are read in one indexed query per request (``feedsvc.feeds.service``).
"""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from feedsvc.models import Category, ContentState


def touch_categories(session: Session, category_ids: Iterable[int], now: datetime) -> None:
    ids = sorted(set(category_ids))
    if ids:
        session.execute(
            update(Category)
            .where(Category.id.in_(ids))
            .values(content_version=Category.content_version + 1, content_changed_at=now)
        )
    session.execute(
        update(ContentState)
        .where(ContentState.id == 1)
        .values(version=ContentState.version + 1, changed_at=now)
    )
