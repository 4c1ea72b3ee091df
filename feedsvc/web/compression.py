"""Gzip for HTML pages, when the client accepts it.

Feeds are not touched here: they carry their own pre-gzipped bytes and ETags (``web.feeds``,
``feeds.cache``), and a response that already has a ``Content-Encoding`` is left as is. Only
whole ``text/html`` bodies of a successful answer are compressed (no streamed or file
responses), above a size where gzip's header would cost more than it saves; ``Vary:
Accept-Encoding`` is set on every HTML page so that a cache keeps the two forms apart.
The standard library's gzip, as the feeds use: no dependency for a dozen lines.

The admin's pages are not compressed: they hold secrets (the CSRF token, a new webhook's
key) beside text a request can put on the page (filters, search words), which is what
BREACH needs to read a secret out of compressed sizes. They are few, small and read by a
few people; the public pages, read by everyone, are the ones worth compressing.
"""

import gzip

from flask import Flask, Response, request

MIN_BYTES = 500
LEVEL = 6
NOT_COMPRESSED = "/admin"  # path prefix (see above)


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def compress_html(response: Response) -> Response:
    if response.mimetype != "text/html" or response.status_code in (204, 206, 304):
        return response
    response.vary.add("Accept-Encoding")
    if (
        response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or request.path.startswith(NOT_COMPRESSED)
        or not _accepts_gzip()
    ):
        return response
    body = response.get_data()
    if len(body) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    return response


def init_app(app: Flask) -> None:
    app.after_request(compress_html)
