"""JSON API /api/v1: categories and articles for the portal's CMS and aggregating portals.

Reads are public (and CORS-enabled); writes need a bearer token (``feedsvc token create``).
"""

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import BaseModel, Field

from feedsvc.announcement import max_age
from feedsvc.articles import (
    ArticleCreate,
    ArticleUpdate,
    Timestamp,
    create_article,
    delete_article,
    get_article,
    get_visible_article,
    page_visible,
    update_article,
)
from feedsvc.categories import CategoryCreate, create_category, get_category, list_categories
from feedsvc.feeds.service import MAX_QUERY_LENGTH
from feedsvc.models import Article, Category
from feedsvc.text import clean_line, to_local, utcnow
from feedsvc.urls import FEED_FORMATS, article_url, category_url, feed_url
from feedsvc.web import context
from feedsvc.web.api_pages import api_limit, api_position, page_json
from feedsvc.web.auth import current_token, require_token
from feedsvc.web.openapi import openapi_document
from feedsvc.web.params import json_body

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


class ArticleListQuery(BaseModel):
    category: str | None = Field(None, max_length=100)
    since: Timestamp | None = Field(None, description="Only articles changed at or after this.")
    q: str = Field("", max_length=MAX_QUERY_LENGTH)
    cursor: str | None = Field(None, max_length=200)
    limit: int | None = Field(None, ge=1)


def category_json(category: Category) -> dict[str, Any]:
    base = context.settings().base_url
    return {
        "slug": category.slug,
        "name": category.name,
        "description": category.description,
        "position": category.position,
        "url": category_url(base, category.slug),
        "feeds": {fmt: feed_url(base, category.slug, fmt) for fmt in FEED_FORMATS},
    }


def article_json(article: Article) -> dict[str, Any]:
    base = context.settings().base_url
    return {
        "id": article.id,
        "guid": article.guid,
        "external_id": article.external_id,
        "category": article.category.slug,
        "title": article.title,
        "summary": article.summary,
        "summary_derived": article.summary_derived,
        "body_html": article.body_html,
        "author": article.author,
        "image_url": article.image_url,
        "image_type": article.image_type,
        "image_length": article.image_length,
        "url": article.link or article_url(base, article.id, article.slug),
        "origin": article.origin,
        "published_at": to_local(article.published_at).isoformat(),
        "updated_at": to_local(article.updated_at).isoformat(),
    }


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(context.settings().base_url))


@blueprint.get("/categories")
def categories() -> Response:
    return jsonify({"items": [category_json(c) for c in list_categories(context.session())]})


@blueprint.post("/categories")
@require_token
def add_category() -> tuple[Response, int]:
    data = CategoryCreate.model_validate(json_body())
    session = context.session()
    category = create_category(
        session, data.name, utcnow(), description=data.description, slug=data.slug
    )
    session.commit()
    return jsonify(category_json(category)), 201


@blueprint.get("/articles")
def articles() -> Response:
    query = ArticleListQuery.model_validate(request.args.to_dict())
    session = context.session()
    page = page_visible(
        session,
        utcnow(),
        api_position(query.cursor or ""),
        api_limit(query.limit),
        category_id=get_category(session, query.category).id if query.category else None,
        query=clean_line(query.q),
        since=query.since,
    )
    return jsonify(page_json(page, article_json))


@blueprint.post("/articles")
@require_token
def add_article() -> tuple[Response, int]:
    data = ArticleCreate.model_validate(json_body())
    session = context.session()
    settings = context.settings()
    article, created = create_article(
        session,
        data,
        settings.base_url,
        utcnow(),
        announce_max_age=max_age(settings.announce_max_age_hours),
    )
    session.commit()
    response = jsonify(article_json(article))
    response.headers["Location"] = url_for("api.article", article_id=article.id)
    return response, 201 if created else 200


@blueprint.get("/articles/<int:article_id>")
def article(article_id: int) -> Response:
    """Scheduled articles are visible only to a caller with a token (the CMS that wrote them)."""
    session = context.session()
    if current_token() is not None:
        found = get_article(session, article_id)
        session.commit()  # the token's last-used time
    else:
        found = get_visible_article(session, article_id, utcnow())
    return jsonify(article_json(found))


@blueprint.patch("/articles/<int:article_id>")
@require_token
def edit_article(article_id: int) -> Response:
    data = ArticleUpdate.model_validate(json_body())
    session = context.session()
    settings = context.settings()
    updated = update_article(
        session,
        article_id,
        data,
        settings.base_url,
        utcnow(),
        announce_max_age=max_age(settings.announce_max_age_hours),
    )
    session.commit()
    return jsonify(article_json(updated))


@blueprint.delete("/articles/<int:article_id>")
@require_token
def remove_article(article_id: int) -> tuple[str, int]:
    session = context.session()
    delete_article(session, article_id, utcnow())
    session.commit()
    return "", 204


@blueprint.after_request
def allow_cross_origin_reads(response: Response) -> Response:
    if request.method in ("GET", "HEAD"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response
