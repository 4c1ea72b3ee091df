"""Paging probe for the scale benchmark: the first (uncached) request of each list, in ms.

``probe_paging(database_url)`` takes a store (at the schema head, e.g. from
``bench.data.fill_bulk_store``; it adds one admin account, ``bench-paging``) and times, through
the app in this process (Flask's test client: routing, queries, rendering; no HTTP), each
request on a new app, after a request of the same route that answers something else (so
templates are compiled and connections made, but nothing of the timed answer is cached):
category page 1 and deep (page 500, or the last page of a smaller store, by cursor), the
redirect of an old ``?page=100`` link, a feed archive page 1 and deep (page 500 of 50 items,
or the last), the API's cursor at that depth, the admin articles list first and deep, and the
dashboard. Each case is the median of ``RUNS`` first requests.

    python -m bench.paging_probe sqlite:///bench/results/cold-100000.sqlite
"""

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from bench import BenchError
from bench.data import FEED_CATEGORY
from feedsvc.accounts import create_user
from feedsvc.articles import position_of_page
from feedsvc.db import create_database
from feedsvc.models import AdminUser, Article, Category
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from feedsvc.web import create_app

RUNS = 3
OTHER_CATEGORY = "kinh-te"  # a demo category: warms the same routes
DEEP_PAGE = 500
USER, PASSWORD = "bench-paging", "bench-paging-password"
BASE_URL = "http://127.0.0.1:8000"


def _deep_cursors(settings: Settings) -> dict[str, str]:
    """Cursors of page DEEP_PAGE (or the last, in a smaller store) of the category's HTML
    list and feed (not timed)."""
    database = create_database(settings.database_url)
    try:
        with database.transaction() as session:
            category_id = session.scalar(select(Category.id).where(Category.slug == FEED_CATEGORY))
            if session.scalar(select(AdminUser.id).where(AdminUser.username == USER)) is None:
                create_user(session, USER, PASSWORD, "admin", utcnow())
            visible = session.scalar(
                select(func.count(Article.id)).where(
                    Article.category_id == category_id, Article.published_at <= utcnow()
                )
            )
            cursors = {}
            for name, size in (("page", settings.page_items), ("feed", settings.feed_items)):
                page = min(DEEP_PAGE, -(-(visible or 0) // size))
                position = position_of_page(session, utcnow(), page, size, category_id, "")
                if position is None or page < 2:
                    raise BenchError(f"the store has too few articles in {FEED_CATEGORY}")
                cursors[name] = position.before
            return cursors
    finally:
        database.dispose()


def _first_request(settings: Settings, warm: str, path: str, admin: bool, status: int) -> float:
    """``path`` on a new app, after ``warm`` (the same route with another answer: templates
    compiled, connections made, nothing of ``path`` cached)."""
    app = create_app(settings)
    try:
        client = app.test_client()
        if admin:
            page = client.get("/admin/login").data.decode()
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            login = {"csrf_token": token, "username": USER, "password": PASSWORD}
            client.post("/admin/login", data=login)
        client.get(warm)
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != status:
            raise BenchError(f"{path}: HTTP {response.status_code}, expected {status}")
        return elapsed
    finally:
        app.extensions["feedsvc.db"].dispose()


def probe_paging(database_url: str) -> dict[str, float]:
    """Milliseconds of the first request of each case (median of RUNS)."""
    settings = Settings(database_url=database_url, base_url=BASE_URL)
    deep = _deep_cursors(settings)
    slug, other = FEED_CATEGORY, OTHER_CATEGORY
    # name: (warm-up path, timed path, admin, status)
    cases: dict[str, tuple[str, str, bool, int]] = {
        "category page 1": (f"/c/{other}", f"/c/{slug}", False, 200),
        "category page deep": (f"/c/{slug}", f"/c/{slug}?before={deep['page']}", False, 200),
        "category old ?page=100 (redirect)": (
            f"/c/{other}?page=2",
            f"/c/{slug}?page=100",
            False,
            301,
        ),
        "feed archive page 1": (f"/feeds/{other}.rss", f"/feeds/{slug}.rss", False, 200),
        "feed archive deep": (
            f"/feeds/{slug}.rss",
            f"/feeds/{slug}.rss?before={deep['feed']}",
            False,
            200,
        ),
        "API articles deep": (
            f"/api/v1/articles?category={other}",
            f"/api/v1/articles?category={slug}&cursor={deep['feed']}",
            False,
            200,
        ),
        "admin articles page 1": (
            f"/admin/articles/?category={other}",
            "/admin/articles/",
            True,
            200,
        ),
        "admin articles deep": (
            "/admin/articles/",
            f"/admin/articles/?before={deep['feed']}",
            True,
            200,
        ),
        "admin dashboard": ("/admin/", "/admin/", True, 200),  # nothing of it is cached
    }
    timings: dict[str, float] = {}
    for name, (warm, path, admin, status) in cases.items():
        samples = [_first_request(settings, warm, path, admin, status) for _ in range(RUNS)]
        timings[name] = round(statistics.median(samples), 1)
    return timings


def main(argv: list[str]) -> int:
    report: Callable[[Any], None] = print
    for url in argv:
        report(url)
        for name, ms in probe_paging(url).items():
            report(f"  {name:40} {ms:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
