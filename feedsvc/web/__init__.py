"""The Flask edge: ``create_app`` builds the app from settings and registers the blueprints.

Nothing happens at import time; gunicorn calls ``create_app()`` (settings from the config file
and the environment), tests call ``create_app(settings)``.
"""

from flask import Flask
from flask_wtf.csrf import generate_csrf
from sqlalchemy.exc import SQLAlchemyError

from feedsvc.db import create_database
from feedsvc.errors import ConfigurationError, NotFound
from feedsvc.feeds.cache import FeedCache
from feedsvc.feeds.service import FeedStates
from feedsvc.log import configure_logging
from feedsvc.notify.email import signing_key
from feedsvc.settings import Settings, load_settings
from feedsvc.web import (
    admin,
    api,
    api_notify,
    api_sources,
    errors,
    feeds,
    hub,
    params,
    public,
    subscribe,
    websub_callback,
)
from feedsvc.web.context import close_session
from feedsvc.web.sessions import CookieSessions


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    params.init_app(app)  # before any route: it sets how ids in URLs are read
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["feedsvc.settings"] = settings
    database = create_database(settings.database_url)
    try:
        with database.sessions() as session:
            app.config["SECRET_KEY"] = signing_key(session, settings)
    except (SQLAlchemyError, NotFound) as exc:
        raise ConfigurationError(
            f"the database is not ready ({exc.__class__.__name__}); run `feedsvc db upgrade`"
        ) from exc
    app.session_interface = CookieSessions()
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.base_url.startswith("https://")
    app.extensions["feedsvc.db"] = database
    app.extensions["feedsvc.feed_cache"] = FeedCache(settings.feed_cache_bytes)
    app.extensions["feedsvc.feed_states"] = FeedStates(database)
    app.teardown_appcontext(close_session)
    public.init_app(app)
    app.register_blueprint(public.blueprint)
    app.register_blueprint(feeds.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(api_sources.blueprint)
    app.register_blueprint(api_notify.blueprint)
    app.register_blueprint(hub.blueprint)
    app.register_blueprint(subscribe.blueprint)
    # CSRF tokens (Flask-WTF) are checked by the blueprints that take forms (see subscribe's
    # before_request), not by a hook on every request: feeds and the API have no forms.
    app.jinja_env.globals["csrf_token"] = generate_csrf
    app.register_blueprint(websub_callback.blueprint)
    admin.init_app(app)
    errors.init_app(app)
    return app
