"""Sign-in and sign-out. The session cookie is HttpOnly, SameSite=Lax, limited to /admin, and
Secure when the site is served over HTTPS."""

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from feedsvc.accounts import log_in, log_out
from feedsvc.errors import InvalidInput, RateLimited
from feedsvc.text import iri_to_uri, utcnow
from feedsvc.web import context

blueprint = Blueprint("auth", __name__)
COOKIE = "feedsvc_admin"


def _next_page() -> str:
    """Where to go after signing in: a path under /admin of this site, else the dashboard.

    Control characters (CR, LF: header injection), backslashes (read as ``/`` by browsers)
    and any scheme or host (open redirect) are refused; other characters are percent-encoded.
    """
    target = request.values.get("next", "")
    under_admin = target == "/admin" or target.startswith(("/admin/", "/admin?"))
    if not under_admin or any(char < " " or char in "\x7f\\" for char in target):
        return url_for("admin.dashboard.home")
    return iri_to_uri(target)


@blueprint.get("/login")
def login_form() -> str:
    return render_template("admin/login.html", next=_next_page(), error=None)


@blueprint.post("/login")
def login() -> ResponseReturnValue:
    session = context.session()
    settings = context.settings()
    try:
        token = log_in(
            session,
            settings,
            request.form.get("username", ""),  # any length: ratelimit fits its keys
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
    return response


@blueprint.post("/logout")
def logout() -> ResponseReturnValue:
    log_out(context.session(), request.cookies.get(COOKIE, ""))
    context.session().commit()
    g.admin = None
    response = redirect(url_for("admin.auth.login_form"))
    response.delete_cookie(COOKIE, path="/admin")
    return response
