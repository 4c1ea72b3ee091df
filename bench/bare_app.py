"""The serving baseline: a bare Flask app that returns fixed, pre-built bytes.

Run by ``bench.serving`` under the same gunicorn config and worker count as feedsvc. Its one
route (the feed's path) answers with the bytes feedsvc served, with the same Content-Type and
ETag, and honours If-None-Match through werkzeug's conditional handling (``make_conditional``
answers 304). No database, no settings, no cache lookup: the floor of serving a feed in Flask.

Configured by environment variables: BENCH_BARE_PATH, BENCH_BARE_BODY (a file holding the
bytes), BENCH_BARE_CONTENT_TYPE and BENCH_BARE_ETAG (unquoted).
"""

import os
from pathlib import Path

from flask import Flask, Response, request


def create_app() -> Flask:
    path = os.environ["BENCH_BARE_PATH"]
    body = Path(os.environ["BENCH_BARE_BODY"]).read_bytes()
    content_type = os.environ["BENCH_BARE_CONTENT_TYPE"]
    etag = os.environ["BENCH_BARE_ETAG"]
    app = Flask(__name__)

    def feed() -> Response:
        response = Response(body, content_type=content_type)
        response.set_etag(etag)
        response.make_conditional(request)  # in place: a 304 without the body if it matches
        return response

    app.add_url_rule(path, "feed", feed)
    return app
