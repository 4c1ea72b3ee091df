"""The Flask edge: ``create_app`` builds the app from settings and registers the blueprints.

Nothing happens at import time; gunicorn calls ``create_app()`` (settings from the config file
and the environment), tests call ``create_app(settings)``.
"""

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from feedsvc.db import create_database
from feedsvc.feeds.cache import FeedCache
from feedsvc.feeds.service import FeedStates
from feedsvc.log import configure_logging
from feedsvc.notify.email import signing_key
from feedsvc.settings import Settings, load_settings
from feedsvc.web import (
    api,
    api_notify,
    api_sources,
    errors,
    feeds,
    hub,
    public,
    subscribe,
    websub_callback,
)
from feedsvc.web.context import close_session


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["feedsvc.settings"] = settings
    database = create_database(settings.database_url)
    with database.sessions() as session:
        app.config["SECRET_KEY"] = signing_key(session, settings)
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
    csrf = CSRFProtect(app)
    for machine_facing in (  # bearer tokens, protocol callbacks: no cookies, no forms
        api.blueprint,
        api_sources.blueprint,
        api_notify.blueprint,
        hub.blueprint,
        websub_callback.blueprint,
    ):
        csrf.exempt(machine_facing)
    csrf.exempt(subscribe.one_click_unsubscribe)  # RFC 8058: the signed link is the proof
    app.register_blueprint(websub_callback.blueprint)
    errors.init_app(app)
    return app
