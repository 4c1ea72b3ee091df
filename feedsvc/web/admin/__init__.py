"""The admin UI at /admin: sign-in, then one blueprint per section.

Every request but the login page needs an open session (``accounts.session_user``); a
signed-out GET is sent to the login page, any other method gets 401. Every POST carries the
CSRF token (Flask-WTF). ``admin`` may use every section, ``editor`` only the articles; the
sections that are not for editors say so with ``admin_only``.
"""

from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError as WTFormsValidationError

from feedsvc.accounts import session_user
from feedsvc.text import utcnow
from feedsvc.web import context
from feedsvc.web.admin import (
    access,
    articles,
    auth,
    categories,
    dashboard,
    forms,
    media,
    sources,
    subscribers,
)
from feedsvc.web.admin.i18n import init_i18n, keep_choice

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


def url_host(url: str) -> str:
    """Where a URL points, for a list: its host (and port), else the URL itself."""
    return urlsplit(url).netloc or url


SIGNED_OUT_ENDPOINTS = {"admin.auth.login_form", "admin.auth.login"}


@blueprint.before_request
def authenticate() -> ResponseReturnValue | None:
    token = request.cookies.get(auth.COOKIE)
    g.admin = session_user(context.session(), token, utcnow()) if token else None
    if g.admin is None and request.endpoint not in SIGNED_OUT_ENDPOINTS:
        if request.method == "GET":
            return redirect(url_for("admin.auth.login_form", next=request.full_path))
        abort(401)
    if request.method == "POST":
        if request.endpoint == media.UPLOAD_ENDPOINT:
            request.max_content_length = media.request_limit()
        try:
            validate_csrf(request.form.get("csrf_token"))
        except WTFormsValidationError as exc:
            raise CSRFError(str(exc)) from exc
    return None


blueprint.after_request(keep_choice)
for section in (auth, dashboard, sources, categories, articles, media, subscribers, access):
    blueprint.register_blueprint(section.blueprint)


def init_app(app: Flask) -> None:
    init_i18n(app)
    app.jinja_env.globals["field_label"] = forms.field_label
    app.jinja_env.filters["url_host"] = url_host
    app.register_blueprint(blueprint)
