"""Flask's cookie sessions: none for machine-facing paths, one serializer per app.

Feeds, the token API and protocol callbacks never use a session (nor CSRF, which lives in
it); opening one costs ~10 µs per request, a few percent of a cached feed, for nothing. Flask
also makes a new signing serializer on every request (~35 µs); the key never changes.
"""

from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface

# Flask opens the session before it matches the URL, so this goes by path; the routes of the
# machine-facing blueprints (feeds, api*, hub, websub_callback) all live under these, which
# tests/test_route_protection.py checks.
MACHINE_PATHS = ("/feeds/", "/feeds.opml", "/api/", "/hub", "/websub/")


class CookieSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> Any:
        if request.path.startswith(MACHINE_PATHS):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> Any:
        serializer = app.extensions.get("feedsvc.session_serializer")
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            app.extensions["feedsvc.session_serializer"] = serializer
        return serializer
