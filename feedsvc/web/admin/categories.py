"""Categories: create, rename, reorder, delete (refused while in use, with the reason)."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from feedsvc.categories import (
    CategoryInUse,
    create_category,
    delete_category,
    list_categories,
    move_category,
    rename_category,
)
from feedsvc.text import utcnow
from feedsvc.web import context
from feedsvc.web.admin.forms import FormProblem, attempt, done, text
from feedsvc.web.admin.guard import admin_only

blueprint = Blueprint("categories", __name__, url_prefix="/categories")
blueprint.before_request(admin_only)


def _back() -> ResponseReturnValue:
    return redirect(url_for(".index"))


@blueprint.get("/")
def index() -> str:
    return render_template("admin/categories.html", categories=list_categories(context.session()))


@blueprint.post("/")
def create() -> ResponseReturnValue:
    session = context.session()
    try:
        attempt(lambda: create_category(session, text("name"), utcnow(), text("description")))
    except FormProblem as problem:
        flash(_("Không tạo được chuyên mục: %(reason)s", reason=str(problem)), "error")
        return _back()
    session.commit()
    done(_("Đã tạo chuyên mục."))
    return _back()


@blueprint.post("/<slug>/rename")
def rename(slug: str) -> ResponseReturnValue:
    session = context.session()
    try:
        attempt(lambda: rename_category(session, slug, text("name"), utcnow()))
    except FormProblem as problem:
        flash(_("Không đổi tên được: %(reason)s", reason=str(problem)), "error")
        return _back()
    session.commit()
    done(_("Đã đổi tên."))
    return _back()


@blueprint.post("/<slug>/move")
def move(slug: str) -> ResponseReturnValue:
    move_category(context.session(), slug, -1 if text("direction") == "up" else 1)
    context.session().commit()
    return _back()


@blueprint.post("/<slug>/delete")
def delete(slug: str) -> ResponseReturnValue:
    session = context.session()
    try:
        delete_category(session, slug)
    except CategoryInUse as exc:
        flash(
            _(
                "Không xóa được chuyên mục “%(name)s”: đang có %(articles)d tin bài và "
                "%(sources)d nguồn tin dùng nó. Hãy chuyển chúng sang chuyên mục khác trước.",
                name=exc.name,
                articles=exc.articles,
                sources=exc.sources,
            ),
            "error",
        )
        return _back()
    session.commit()
    done(_("Đã xóa chuyên mục."))
    return _back()
