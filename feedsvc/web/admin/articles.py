"""Articles: list and search (diacritics ignored), create and edit with a preview of the
sanitised body, a publish time (dd/mm/yyyy HH:MM, +07:00; later means scheduled), delete.
Editors and admins."""

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from feedsvc.announcement import max_age
from feedsvc.articles import (
    ArticleCreate,
    ArticleUpdate,
    create_article,
    delete_article,
    get_article,
    page_all,
    update_article,
)
from feedsvc.categories import get_category, list_categories
from feedsvc.media import enclosure_of
from feedsvc.models import Article
from feedsvc.text import format_local, sanitise_html, utcnow
from feedsvc.web import context
from feedsvc.web.admin.forms import (
    FormProblem,
    attempt,
    done,
    form_page,
    local_datetime,
    text,
)
from feedsvc.web.params import position

blueprint = Blueprint("articles", __name__, url_prefix="/articles")


@blueprint.get("/")
def index() -> str:
    session = context.session()
    query, slug = request.args.get("q", ""), request.args.get("category", "")
    category_id = get_category(session, slug).id if slug else None
    page = page_all(session, position(), context.settings().page_items, category_id, query)
    return render_template(
        "admin/articles.html",
        page=page,
        categories=list_categories(session),
        filters={k: v for k, v in (("q", query), ("category", slug)) if v},
        now=utcnow(),
    )


def _fields() -> dict[str, Any]:
    return {
        "title": text("title"),
        "category": text("category"),
        "summary": text("summary"),
        "body_html": request.form.get("body_html", ""),
        "author": text("author"),
        "published_at": local_datetime("published_at"),
    }


def _image_fields(current_url: str | None) -> dict[str, Any]:
    """The article image (empty: none). A new one brings its type and length, known when it
    is a picture uploaded here (then it is the enclosure in feeds), else unknown."""
    url = text("image_url") or None
    if url == current_url:
        return {}
    store, base_url = context.media_store(), context.settings().base_url
    media_type, length = (enclosure_of(store, url, base_url) if url else None) or (None, None)
    return {"image_url": url, "image_type": media_type, "image_length": length}


def _form_page(
    article: Article | None, preview: str | None = None, problem: FormProblem | None = None
) -> tuple[str, int]:
    return form_page(
        "admin/article_form.html", problem, article=article, preview=preview, now=utcnow()
    )


def _preview() -> str:
    return sanitise_html(request.form.get("body_html", ""), f"{context.settings().base_url}/")


@blueprint.get("/new")
def new() -> tuple[str, int]:
    return _form_page(None)


@blueprint.post("/new")
def create() -> ResponseReturnValue:
    session, settings = context.session(), context.settings()
    if request.form.get("action") == "preview":
        return _form_page(None, _preview())
    try:
        values = _fields() | _image_fields(None)
        data = attempt(lambda: ArticleCreate(**values))
        article, _created = attempt(
            lambda: create_article(
                session,
                data,
                settings.base_url,
                utcnow(),
                announce_max_age=max_age(settings.announce_max_age_hours),
            )
        )
    except FormProblem as problem:
        return _form_page(None, problem=problem)
    session.commit()
    done(_message(article))
    return redirect(url_for(".edit", article_id=article.id))


def _message(article: Article) -> str:
    if article.published_at > utcnow():
        when = format_local(article.published_at)
        scheduled: str = _("Đã lưu. Tin bài sẽ được đăng lúc %(when)s.", when=when)
        return scheduled
    published: str = _("Đã lưu và đăng.")
    return published


@blueprint.get("/<int:article_id>")
def edit(article_id: int) -> tuple[str, int]:
    return _form_page(get_article(context.session(), article_id))


@blueprint.post("/<int:article_id>")
def save(article_id: int) -> ResponseReturnValue:
    session, settings = context.session(), context.settings()
    article = get_article(session, article_id)
    if request.form.get("action") == "preview":
        return _form_page(article, _preview())
    try:
        values = {k: v for k, v in _fields().items() if v is not None}
        values |= _image_fields(article.image_url)
        data = attempt(lambda: ArticleUpdate(**values))
        attempt(
            lambda: update_article(
                session,
                article_id,
                data,
                settings.base_url,
                utcnow(),
                announce_max_age=max_age(settings.announce_max_age_hours),
            )
        )
    except FormProblem as problem:
        session.rollback()
        return _form_page(get_article(session, article_id), problem=problem)
    session.commit()
    done(_message(article))
    return redirect(url_for(".edit", article_id=article_id))


@blueprint.get("/<int:article_id>/delete")
def confirm_delete(article_id: int) -> str:
    article = get_article(context.session(), article_id)
    return render_template(
        "admin/confirm.html",
        question=_("Xóa tin bài “%(title)s”?", title=article.title),
        action=url_for(".delete", article_id=article_id),
        back=url_for(".edit", article_id=article_id),
    )


@blueprint.post("/<int:article_id>/delete")
def delete(article_id: int) -> ResponseReturnValue:
    delete_article(context.session(), article_id, utcnow())
    context.session().commit()
    done(_("Đã xóa tin bài."))
    return redirect(url_for(".index"))
