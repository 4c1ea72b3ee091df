"""Public HTML pages: index, category lists, articles, demo media and /healthz."""

from typing import Any
from urllib.parse import urlencode, urljoin

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    send_from_directory,
)
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from feedsvc.articles import get_visible_article, list_visible, page_visible, position_of_page
from feedsvc.categories import get_category, list_categories
from feedsvc.demo import IMAGE_DIR, MEDIA_PATH
from feedsvc.errors import N_, NotFound
from feedsvc.metrics import StoreCollector
from feedsvc.models import Article, Category
from feedsvc.text import format_local, html_to_text, utcnow
from feedsvc.urls import ALL_FEED, article_url, category_url, feed_url, opml_url
from feedsvc.web import context
from feedsvc.web.params import moved_to, numbered_page, position

blueprint = Blueprint("public", __name__)

INDEX_ITEMS_PER_CATEGORY = 5
FEED_TITLES = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
FEED_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


def feed_links(category: Category | None) -> list[dict[str, str]]:
    """The feeds a page advertises (autodiscovery) and links to."""
    settings = context.settings()
    slug = category.slug if category else ALL_FEED
    name = category.name if category else settings.site_title
    return [
        {
            "href": feed_url(settings.base_url, slug, fmt),
            "type": FEED_TYPES[fmt],
            "title": f"{name} – {FEED_TITLES[fmt]}",
            "format": FEED_TITLES[fmt],
        }
        for fmt in FEED_TITLES
    ]


DESCRIPTION_CHARS = 200  # what search results and link previews show of a description


def describe(text: str) -> str:
    """A page's meta description: its text on one line, cut at a word near
    DESCRIPTION_CHARS with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= DESCRIPTION_CHARS:
        return line
    cut = line[: DESCRIPTION_CHARS - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def sharing(article: Article) -> dict[str, str]:
    """What an article's page tells search engines and link previews (Zalo, Facebook,
    X): its canonical address, a description (the summary, else the body's text) and its
    picture as an absolute URL (Open Graph wants one)."""
    base = context.settings().base_url
    image = urljoin(base + "/", article.image_url) if article.image_url else ""
    return {
        "canonical": article_url(base, article.id, article.slug),
        "description": describe(article.summary or html_to_text(article.body_html)),
        "image": image if image.startswith(("http://", "https://")) else "",
    }


def init_app(app: Flask) -> None:
    app.add_template_filter(format_local, "local_datetime")
    app.add_template_filter(lambda value: format_local(value, with_time=False), "local_date")
    app.add_template_global(lambda a: article_url("", a.id, a.slug), "article_path")

    @app.context_processor
    def site() -> dict[str, Any]:
        settings = context.settings()
        return {
            "site_title": settings.site_title,
            "site_description": settings.site_description,
            "opml_url": opml_url(settings.base_url),
        }


@blueprint.get("/")
def index() -> str:
    session = context.session()
    now = utcnow()
    categories = list_categories(session)
    latest = {
        c.id: list_visible(session, now, INDEX_ITEMS_PER_CATEGORY, category_id=c.id)
        for c in categories
    }
    return render_template(
        "index.html",
        categories=categories,
        latest=latest,
        feeds=feed_links(None),
        category_feeds=feed_links,
        canonical=category_url(context.settings().base_url, None),
        description=describe(context.settings().site_description),
    )


@blueprint.get("/c/<slug>")
def category(slug: str) -> ResponseReturnValue:
    """Newest first, a page at a time by cursor (``?before=``/``?after=``, see
    feedsvc.paging); an old ``?page=N`` link is redirected to the same page by cursor."""
    settings = context.settings()
    session = context.session()
    now = utcnow()
    found = get_category(session, slug)
    numbered = numbered_page()
    if numbered is not None:
        where = position_of_page(session, now, numbered, settings.page_items, found.id, "")
        return moved_to(where, numbered)
    where = position()
    page = page_visible(session, now, where, settings.page_items, found.id, brief=True)
    if not page.items and not where.first:
        raise NotFound(N_("Không có trang này"))
    canonical = category_url(settings.base_url, found.slug)
    if not where.first:  # a page further back is its own document
        cursor = {"before": where.before} if where.before else {"after": where.after}
        canonical += "?" + urlencode(cursor)
    return render_template(
        "category.html",
        category=found,
        page=page,
        feeds=feed_links(found),
        canonical=canonical,
        description=describe(
            found.description or f"{found.name}: tin mới nhất của {settings.site_title}"
        ),
    )


@blueprint.get("/articles/<int:article_id>/<slug>")
@blueprint.get("/articles/<int:article_id>")
def article(article_id: int, slug: str = "") -> ResponseReturnValue:
    found = get_visible_article(context.session(), article_id, utcnow())
    if slug != found.slug:
        return redirect(article_url("", found.id, found.slug), code=301)
    return render_template(
        "article.html",
        article=found,
        category=found.category,
        feeds=feed_links(found.category),
        **sharing(found),
    )


@blueprint.get("/favicon.ico")
def favicon() -> Response:
    """Where browsers and feed readers look for an icon without reading a page."""
    return current_app.send_static_file("favicon.ico")


@blueprint.get(f"{MEDIA_PATH}/<path:name>")
def demo_media(name: str) -> Response:
    return send_from_directory(IMAGE_DIR, name, max_age=86400)


@blueprint.get("/metrics")
def metrics() -> Response:
    registry = CollectorRegistry()
    registry.register(StoreCollector(context.database()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        context.session().execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return jsonify({"status": "error", "database": str(exc.__class__.__name__)}), 503
    return jsonify({"status": "ok"}), 200
