"""Search probe for the scale benchmark: the first (uncached) keyword search of each kind.

``probe_search(url)`` measures, in ms, each case once through the app (Flask's test client:
routing, the service, rendering; no HTTP server, no feed cache hit since every URL is new to
the app) against a store made by ``bench.data.fill_bulk_store``. The bulk texts repeat the
60 demo articles, so almost every word is common: the probe first marks ``RARE_ROWS``
articles with a word of their own (``UPDATE`` of ``search_text``, which the search index
follows in the same transaction) and searches a word that occurs nowhere for the empty case.
"""

import time

from sqlalchemy import select, text, update

from feedsvc.articles import page_all
from feedsvc.db import create_database
from feedsvc.models import Article, Category
from feedsvc.paging import Position
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from feedsvc.web import create_app

COMMON = "du lịch"  # a phrase in about a fifth of the bulk articles
RARE = "zyxwrare"
NONE = "qqxyznowhere"
CATEGORY = "y-te"  # the smallest category of the bulk store
RARE_ROWS = 3
API_LIMIT = 20
WARM_UP = ("/feeds/all.rss", f"/feeds/{CATEGORY}.rss", "/api/v1/articles?limit=1")


def _mark_rare_rows(url: str) -> None:
    database = create_database(url)
    try:
        with database.transaction() as session:
            ids = session.scalars(
                select(Article.id)
                .join(Category)
                .where(Category.slug == CATEGORY, Article.published_at <= utcnow())
                .order_by(Article.id)
                .limit(RARE_ROWS)
            ).all()
            first = session.scalar(select(Article.search_text).where(Article.id == ids[0])) or ""
            if RARE not in first:
                session.execute(
                    update(Article)
                    .where(Article.id.in_(ids))
                    .values(search_text=Article.search_text + f" {RARE}")
                )
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("ANALYZE articles"))
    finally:
        database.dispose()


def _cases() -> dict[str, str]:
    cases = {}
    for name, word in (("common", COMMON), ("rare", RARE), ("none", NONE)):
        cases[f"feed all ?q= {name}"] = f"/feeds/all.rss?q={word}"
        cases[f"feed {CATEGORY} ?q= {name}"] = f"/feeds/{CATEGORY}.rss?q={word}"
        cases[f"API q= {name}"] = f"/api/v1/articles?q={word}&limit={API_LIMIT}"
    return cases


def probe_search(database_url: str) -> dict[str, float]:
    """ms of the first request of each search case (and of the admin article search's
    service, whose page needs a signed-in session)."""
    _mark_rare_rows(database_url)
    app = create_app(Settings(database_url=database_url, base_url="http://127.0.0.1:8000"))
    client = app.test_client()
    figures: dict[str, float] = {}
    try:
        for url in WARM_UP:  # imports, templates, connections: not the search's cost
            client.get(url)
        for name, url in _cases().items():
            started = time.perf_counter()
            response = client.get(url)
            figures[name] = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code}")
        database = create_database(database_url)
        for name, word in (("common", COMMON), ("rare", RARE), ("none", NONE)):
            with database.transaction() as session:
                started = time.perf_counter()
                page_all(session, Position(), 50, query=word)
                figures[f"admin search {name}"] = (time.perf_counter() - started) * 1000
        database.dispose()
    finally:
        app.extensions["feedsvc.db"].dispose()
    return figures


if __name__ == "__main__":
    import sys

    for case, ms in probe_search(sys.argv[1]).items():
        print(f"{case:32} {ms:8.1f} ms")
