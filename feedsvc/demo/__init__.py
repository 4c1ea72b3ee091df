"""Demo data: six categories of a provincial portal and their articles, written for the demo.

Loaded through the same services as real content. Publish times are relative to the load time
so the demo always looks current; one article is scheduled three days ahead.
"""

import json
from datetime import datetime, time, timedelta
from importlib.resources import files
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.articles import ArticleCreate, create_article
from feedsvc.categories import create_category
from feedsvc.models import Category
from feedsvc.text import LOCAL_TZ, to_local

IMAGE_DIR = Path(str(files("feedsvc.demo") / "images"))
MEDIA_PATH = "/media/demo"


def _publish_time(now: datetime, days_ago: int, clock: str) -> datetime:
    day = to_local(now).date() - timedelta(days=days_ago)
    published = datetime.combine(day, time.fromisoformat(clock), tzinfo=LOCAL_TZ)
    if days_ago >= 0 and published > now:  # today, but later than now: keep it visible
        published = now - timedelta(minutes=5)
    return published


def load_demo(session: Session, base_url: str, now: datetime) -> int:
    """Load the demo into an empty store; returns the number of articles made (0: not empty)."""
    if session.scalar(select(Category.id).limit(1)) is not None:
        return 0
    data = json.loads((files("feedsvc.demo") / "articles.json").read_text(encoding="utf-8"))
    for position, category in enumerate(data["categories"], start=1):
        create_category(
            session,
            category["name"],
            now,
            description=category["description"],
            slug=category["slug"],
            position=position,
        )
    for number, article in enumerate(data["articles"], start=1):
        image = article.get("image")
        fields = ArticleCreate(
            category=article["category"],
            title=article["title"],
            summary=article["summary"],
            body_html=article["body_html"],
            author=article["author"],
            published_at=_publish_time(now, article["days_ago"], article["time"]),
            external_id=f"demo-{number}",
            image_url=f"{base_url}{MEDIA_PATH}/{image}" if image else None,
            image_type="image/jpeg" if image else None,
            image_length=(IMAGE_DIR / image).stat().st_size if image else None,
        )
        create_article(session, fields, base_url, now)
    return len(data["articles"])
