"""Languages of the admin UI (Flask-Babel): Vietnamese, the source language of every
string, and English from ``translations/en``. ``?lang=en`` (or ``vi``) on any admin page
chooses one and keeps it in a cookie; dates are shown as dd/mm/yyyy HH:MM in +07:00.
"""

from datetime import datetime

from flask import Flask, Response, request
from flask_babel import Babel

from feedsvc.text import format_local, to_local

LANGUAGES = ("vi", "en")
COOKIE = "feedsvc_lang"


def _locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else "vi"


def keep_choice(response: Response) -> Response:
    """An after_request hook of the admin blueprint (feeds and the API never pay for it)."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(
            COOKIE, chosen, max_age=365 * 86400, path="/admin", samesite="Lax", httponly=True
        )
    return response


def local_time(value: datetime | None) -> str:
    return format_local(value) if value else "–"


def iso_time(value: datetime | None) -> str:
    return to_local(value).isoformat() if value else ""


def init_i18n(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = "vi"
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Ho_Chi_Minh"
    Babel(app, locale_selector=_locale)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["iso_time"] = iso_time
    app.jinja_env.globals["admin_language"] = _locale
