"""The stores the benchmarks run against.

- ``serving_store``: the demo plus 60 longer articles in one category, all through the services.
- ``bulk_store``: the demo categories (and articles) through the services, then thousands of
  rows inserted with Core executemany, carrying the same columns ``create_article`` writes,
  then one ``touch_categories``. SQLite stores are kept under bench/results/ keyed by size.
"""

import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.databases import RESULTS_DIR, remove_sqlite, sqlite_url
from feedsvc.articles import ArticleCreate, create_article
from feedsvc.content import touch_categories
from feedsvc.db import create_database, schema_head, upgrade_database
from feedsvc.demo import IMAGE_DIR, MEDIA_PATH, load_demo
from feedsvc.models import Base, Category
from feedsvc.settings import load_settings
from feedsvc.text import (
    clean_line,
    clean_text,
    html_to_text,
    normalise_search,
    sanitise_html,
    slugify,
    utcnow,
)

DATA_VERSION = 1  # bump when the generated rows change, to rebuild cached stores
FEED_CATEGORY = "chinh-tri-xa-hoi"  # the category whose feed both benchmarks read
SERVING_EXTRA = 60
BULK_BATCH = 5_000
# Share of articles per demo category, in the demo's order (politics first, as on the portal).
CATEGORY_WEIGHTS = (30, 20, 18, 12, 10, 10)


@cache
def demo_articles() -> list[dict[str, Any]]:
    raw = (files("feedsvc.demo") / "articles.json").read_text(encoding="utf-8")
    return json.loads(raw)["articles"]  # type: ignore[no-any-return]


def _pair(n: int) -> tuple[int, int]:
    """Two different demo articles for article ``n``: their bodies make one 2.4-3.9 KB body."""
    count = len(demo_articles())
    first = n % count
    second = (first + 1 + (n // count) % (count - 1)) % count
    return first, second


def long_article(n: int) -> dict[str, Any]:
    """Fields of generated article ``n``: two demo bodies, the first's title and byline."""
    first, second = _pair(n)
    a, b = demo_articles()[first], demo_articles()[second]
    image = a.get("image") if n % 3 == 0 else None
    return {
        "title": f"{a['title']} (kỳ {n + 1})",
        "summary": a["summary"],
        "body_html": a["body_html"] + b["body_html"],
        "author": a["author"],
        "image": image,
    }


def _image_fields(image: str | None, base_url: str) -> dict[str, Any]:
    if not image:
        return {"image_url": None, "image_type": None, "image_length": None}
    return {
        "image_url": f"{base_url}{MEDIA_PATH}/{image}",
        "image_type": "image/jpeg",
        "image_length": (IMAGE_DIR / image).stat().st_size,
    }


def serving_store(database_url: str, base_url: str) -> int:
    """Demo + SERVING_EXTRA long articles in FEED_CATEGORY, one transaction per article."""
    database = create_database(database_url)
    try:
        with database.transaction() as session:
            made = load_demo(session, base_url, utcnow())
        start = utcnow()
        for n in range(SERVING_EXTRA):
            fields = long_article(n)
            data = ArticleCreate(
                category=FEED_CATEGORY,
                title=fields["title"],
                summary=fields["summary"],
                body_html=fields["body_html"],
                author=fields["author"],
                published_at=start - timedelta(minutes=30 * (n + 1)),
                external_id=f"bench-serving-{n}",
                **_image_fields(fields["image"], base_url),
            )
            with database.transaction() as session:
                create_article(session, data, base_url, utcnow())
        return made + SERVING_EXTRA
    finally:
        database.dispose()


@cache
def _clean_body(n: int, base_url: str) -> tuple[str, str, str]:
    """(sanitised body, summary, folded search text of summary + body text), per body pair."""
    fields = long_article(n)
    body = sanitise_html(fields["body_html"], base_url)
    summary = clean_text(fields["summary"]).strip()
    return body, summary, normalise_search(f"{summary} {html_to_text(body)}")


def bulk_rows(
    count: int, category_ids: list[int], base_url: str, now: datetime
) -> Iterator[list[dict[str, Any]]]:
    """Rows as ``create_article`` (``new_article``, ``apply_fields``) writes them, newest
    first, 10 minutes apart.

    One in a thousand is scheduled (published in the future), like embargoed articles.
    """
    rng = random.Random(20240601)
    pairs = len(demo_articles()) * (len(demo_articles()) - 1)
    batch: list[dict[str, Any]] = []
    for n in range(count):
        fields = long_article(n)
        body, summary, body_search = _clean_body(n % pairs, base_url)
        title = clean_line(fields["title"])
        author = clean_line(fields["author"])
        if n % 1000 == 999:
            published = now + timedelta(hours=rng.randint(1, 72))
        else:
            published = now - timedelta(minutes=10 * n + rng.randint(0, 9))
        batch.append(
            {
                "guid": f"urn:uuid:{uuid.uuid4()}",
                "external_id": f"bench-{n}",
                "category_id": rng.choices(category_ids, weights=CATEGORY_WEIGHTS)[0],
                "title": title,
                "slug": slugify(title) or "bai-viet",
                "summary": summary,
                "body_html": body,
                "author": author,
                "link": None,
                "origin": "local",
                "published_at": published,
                "created_at": now,
                "updated_at": now,
                # normalise_search of the joined parts, as apply_fields computes it, done per part
                # (folding is per character) so the long body text is folded once per pair.
                "search_text": " ".join(
                    (normalise_search(title), body_search, normalise_search(author))
                ),
                **_image_fields(fields["image"], base_url),
            }
        )
        if len(batch) == BULK_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fill_bulk_store(database_url: str, count: int, base_url: str) -> None:
    """Demo through the services, then ``count - 64`` bulk rows and one touch_categories."""
    database = create_database(database_url)
    try:
        now = utcnow()
        with database.transaction() as session:
            made = load_demo(session, base_url, now)
            category_ids = list(session.scalars(select(Category.id).order_by(Category.position)))
        assert len(category_ids) == len(CATEGORY_WEIGHTS)
        with database.engine.begin() as connection:
            for rows in bulk_rows(count - made, category_ids, base_url, now):
                connection.execute(insert(Base.metadata.tables["articles"]), rows)
        with database.transaction() as session:
            touch_categories(session, category_ids, now)
    finally:
        database.dispose()


def cached_sqlite_store(count: int, base_url: str) -> tuple[str, bool]:
    """A SQLite store of ``count`` articles under bench/results/; (url, reused)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"cold-{count}.sqlite"
    marker = Path(f"{path}.json")
    key = {"articles": count, "data_version": DATA_VERSION, "schema": schema_head()}
    if path.exists() and marker.exists() and json.loads(marker.read_text()) == key:
        return sqlite_url(path), True
    marker.unlink(missing_ok=True)
    remove_sqlite(path)
    url = sqlite_url(path)
    upgrade_database(load_settings(database_url=url))
    fill_bulk_store(url, count, base_url)
    marker.write_text(json.dumps(key))
    return url, False
