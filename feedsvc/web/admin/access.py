"""API tokens (the value shown once, then only its hash is kept; revocable) and admin users."""

from collections.abc import Callable

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from feedsvc.accounts import (
    ROLES,
    create_user,
    delete_user,
    list_users,
    set_password,
    set_role,
)
from feedsvc.text import utcnow
from feedsvc.tokens import create_token, list_tokens, revoke_token
from feedsvc.web import context
from feedsvc.web.admin.forms import FormProblem, attempt, done, text
from feedsvc.web.admin.guard import admin_only

blueprint = Blueprint("access", __name__)
blueprint.before_request(admin_only)


def _tokens_page(secret: str | None = None) -> str:
    return render_template(
        "admin/tokens.html", tokens=list_tokens(context.session()), secret=secret
    )


@blueprint.get("/tokens")
def tokens() -> str:
    return _tokens_page()


@blueprint.post("/tokens")
def make_token() -> ResponseReturnValue:
    """Shown on this page once; not kept anywhere but as a hash."""
    session = context.session()
    try:
        _token, secret = attempt(lambda: create_token(session, text("name"), utcnow()))
    except FormProblem as problem:
        flash(_("Không tạo được mã: %(reason)s", reason=str(problem)), "error")
        return redirect(url_for(".tokens"))
    session.commit()
    return _tokens_page(secret)


@blueprint.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int) -> ResponseReturnValue:
    revoke_token(context.session(), token_id, utcnow())
    context.session().commit()
    done(_("Đã thu hồi mã."))
    return redirect(url_for(".tokens"))


@blueprint.get("/users")
def users() -> str:
    return render_template("admin/users.html", users=list_users(context.session()), roles=ROLES)


def _users_after(action: Callable[[], object]) -> ResponseReturnValue:
    """Run a change to the users; on to the users page with what came of it."""
    session = context.session()
    try:
        attempt(action)
    except FormProblem as problem:
        session.rollback()
        flash(_("Không thực hiện được: %(reason)s", reason=str(problem)), "error")
        return redirect(url_for(".users"))
    session.commit()
    done(_("Đã lưu."))
    return redirect(url_for(".users"))


@blueprint.post("/users")
def add_user() -> ResponseReturnValue:
    return _users_after(
        lambda: create_user(
            context.session(),
            text("username"),
            request.form.get("password", ""),
            text("role"),
            utcnow(),
        )
    )


@blueprint.post("/users/<int:user_id>/role")
def change_role(user_id: int) -> ResponseReturnValue:
    return _users_after(lambda: set_role(context.session(), user_id, text("role")))


@blueprint.post("/users/<int:user_id>/password")
def change_password(user_id: int) -> ResponseReturnValue:
    return _users_after(
        lambda: set_password(context.session(), user_id, request.form.get("password", ""))
    )


@blueprint.post("/users/<int:user_id>/delete")
def remove_user(user_id: int) -> ResponseReturnValue:
    if user_id == g.admin.id:
        flash(_("Bạn không thể tự xóa tài khoản của mình."), "error")
        return redirect(url_for(".users"))
    return _users_after(lambda: delete_user(context.session(), user_id))
