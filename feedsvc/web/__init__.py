"""The Flask edge: ``create_app`` builds the app from settings and registers the blueprints.

Nothing happens at import time; gunicorn calls ``create_app()`` (settings from the config file
and the environment), tests call ``create_app(settings)``.

Behind ``trusted_proxies`` reverse proxies, werkzeug's ProxyFix takes the client's address and
scheme from the last that many ``X-Forwarded-For``/``X-Forwarded-Proto`` entries (the ones the
proxies appended); with the default 0 those headers are ignored, so a client cannot forge the
address that rate limits count by. ``X-Forwarded-Host`` is never trusted: links use
``base_url``.

Every response carries the security headers of ``_security_headers``; HTML pages are
gzipped for clients that accept it (``web.compression``).
"""

from flask import Flask, Response, request
from flask_wtf.csrf import generate_csrf
from werkzeug.middleware.proxy_fix import ProxyFix

from feedsvc.db import check_schema, create_database
from feedsvc.feeds.cache import FeedCache
from feedsvc.feeds.service import FeedStates
from feedsvc.instance_key import signing_key
from feedsvc.log import configure_logging
from feedsvc.media import media_store
from feedsvc.settings import Settings, load_settings
from feedsvc.web import (
    admin,
    api,
    api_notify,
    api_sources,
    compression,
    errors,
    feeds,
    hub,
    media,
    params,
    public,
    subscribe,
    websub_callback,
)
from feedsvc.web.context import close_session
from feedsvc.web.sessions import CookieSessions

# No inline script or style anywhere (the feed page's CSS is web/static/feed.css too); pictures
# in article bodies come from their publishers, over http(s) or as data: URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
HSTS = "max-age=31536000"


def _security_headers(response: Response) -> Response:
    """nosniff on every response (feeds too: a cheap constant); on HTML pages the policy
    against injected script and framing; HSTS when the request came over HTTPS (after
    ProxyFix: the scheme the client used with the proxy)."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    # A 304 carries no page (werkzeug still gives it the default text/html type), and the
    # type is compared unparsed: this runs on every feed request.
    html = (headers.get("Content-Type") or "").startswith("text/html")
    if html and response.status_code != 304:
        headers.update(HTML_HEADERS)
    if request.is_secure:
        headers["Strict-Transport-Security"] = HSTS
    return response


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    configure_logging(settings)
    app = Flask(__name__)
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        # Flask types wsgi_app as a method; its documentation wraps it so for middleware.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)  # type: ignore[method-assign]
    params.init_app(app)  # before any route: it sets how ids in URLs are read
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["JSON_SORT_KEYS"] = False
    # Flask types app.json as the JSONProvider base; it is the DefaultJSONProvider.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["feedsvc.settings"] = settings
    database = create_database(
        settings.database_url,
        sqlite_busy_timeout=settings.sqlite_busy_timeout,
        connect_timeout=settings.database_connect_timeout,
    )
    check_schema(database)
    with database.sessions() as session:
        app.config["SECRET_KEY"] = signing_key(session, settings)
    app.session_interface = CookieSessions()
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.base_url.startswith("https://")
    app.extensions["feedsvc.db"] = database
    app.extensions["feedsvc.feed_cache"] = FeedCache(settings.feed_cache_bytes)
    app.extensions["feedsvc.feed_states"] = FeedStates(database)
    app.extensions["feedsvc.media_store"] = media_store(settings)
    app.teardown_appcontext(close_session)
    public.init_app(app)
    app.register_blueprint(public.blueprint)
    app.register_blueprint(feeds.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(api_sources.blueprint)
    app.register_blueprint(api_notify.blueprint)
    app.register_blueprint(hub.blueprint)
    app.register_blueprint(media.blueprint)
    app.register_blueprint(subscribe.blueprint)
    # CSRF tokens (Flask-WTF) are checked by the blueprints that take forms (see subscribe's
    # before_request), not by a hook on every request: feeds and the API have no forms.
    app.jinja_env.globals["csrf_token"] = generate_csrf
    app.register_blueprint(websub_callback.blueprint)
    admin.init_app(app)
    errors.init_app(app)
    app.after_request(_security_headers)
    compression.init_app(app)
    return app
