"""Sign-in and sign-out. The session cookie is HttpOnly, SameSite=Lax, limited to /admin, and
Secure when the site is served over HTTPS."""

from urllib.parse import urlsplit

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from feedsvc.accounts import log_in, log_out
from feedsvc.errors import InvalidInput, RateLimited
from feedsvc.text import utcnow
from feedsvc.web import context

blueprint = Blueprint("auth", __name__)
COOKIE = "feedsvc_admin"


def _next_page() -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    target = request.values.get("next", "")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/admin"):
        return url_for("admin.dashboard.home")
    return target


@blueprint.get("/login")
def login_form() -> str:
    return render_template("admin/login.html", next=_next_page(), error=None)


@blueprint.post("/login")
def login() -> Response | tuple[str, int]:
    session = context.session()
    settings = context.settings()
    try:
        token = log_in(
            session,
            settings,
            request.form.get("username", ""),
            request.form.get("password", ""),
            request.remote_addr or "unknown",
            utcnow(),
        )
    except RateLimited:
        session.commit()
        error = _("Quá nhiều lần đăng nhập sai. Hãy thử lại sau 15 phút.")
        return render_template("admin/login.html", next=_next_page(), error=error), 429
    except InvalidInput:
        session.commit()  # the failure is counted
        error = _("Sai tên đăng nhập hoặc mật khẩu.")
        return render_template("admin/login.html", next=_next_page(), error=error), 401
    session.commit()
    response = redirect(_next_page())
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings.admin_session_hours * 3600,
        path="/admin",
        httponly=True,
        samesite="Lax",
        secure=request.is_secure or settings.base_url.startswith("https://"),
    )
    return response  # type: ignore[return-value]


@blueprint.post("/logout")
def logout() -> Response:
    log_out(context.session(), request.cookies.get(COOKIE, ""))
    context.session().commit()
    g.admin = None
    response = redirect(url_for("admin.auth.login_form"))
    response.delete_cookie(COOKIE, path="/admin")
    return response  # type: ignore[return-value]
