"""Turn service errors and HTTP errors into responses: JSON under /api, HTML elsewhere.

Machines get English and the HTTP status is the code to act on: the JSON API
(``{"error": ..., "fields": {...}}``), and the feeds, the hub and WebSub callbacks (plain
text). A service error says its catalog message in English (``str(exc)``), an HTTP error
werkzeug's description. People get HTML pages in their language (Vietnamese unless English
was chosen, see ``admin.i18n``): the service error's own message, or this module's text for
the HTTP status, never werkzeug's English.
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from feedsvc.db import UNAVAILABLE_ERRORS
from feedsvc.errors import (
    N_,
    Conflict,
    DatabaseUnavailable,
    Expired,
    FeedsvcError,
    InvalidInput,
    NotAFeed,
    NotFound,
    RateLimited,
    UpstreamError,
    english,
)

PLAIN_TEXT_PATHS = ("/feeds", "/hub", "/websub/")  # feed readers, hubs, WebSub publishers
STATUS = {
    NotFound: 404,
    Expired: 400,
    Conflict: 409,
    NotAFeed: 422,
    RateLimited: 429,
    UpstreamError: 502,
}
# While the database cannot be reached: clients (and proxies) try again after this many seconds.
RETRY_AFTER_SECONDS = 5
HTTP_TEXTS = {
    400: N_("Yêu cầu không hợp lệ"),
    401: N_("Bạn cần đăng nhập để làm việc này"),
    403: N_("Bạn không có quyền làm việc này"),
    404: N_("Không tìm thấy trang bạn yêu cầu"),
    405: N_("Trang này không nhận yêu cầu theo cách này"),
    413: N_("Dữ liệu gửi lên quá lớn"),
    422: N_("Dữ liệu không hợp lệ"),
    429: N_("Có quá nhiều yêu cầu; xin thử lại sau"),
    500: N_("Hệ thống gặp lỗi; xin thử lại sau"),
    503: N_("Hệ thống tạm thời gián đoạn; xin thử lại sau ít phút"),
}
OTHER_HTTP_TEXT = N_("Không thực hiện được yêu cầu (mã %(status)d)")
CSRF_TEXT = N_("Biểu mẫu đã hết hạn; hãy tải lại trang rồi gửi lại")
# What is wrong with a field, by pydantic's error type (or the start of it); the rest: INVALID.
FIELD_TEXTS = {
    "missing": N_("bắt buộc"),
    "string_too_short": N_("quá ngắn"),
    "string_too_long": N_("quá dài: tối đa %(max_length)s ký tự"),
    "too_long": N_("quá nhiều: tối đa %(max_length)s"),
    "string_pattern_mismatch": N_("không đúng dạng"),
    "int_": N_("phải là một số nguyên"),
    "greater_than": N_("quá nhỏ"),
    "less_than": N_("quá lớn"),
    "url_": N_("không phải một URL hợp lệ"),
    "datetime_": N_("không phải ngày giờ hợp lệ"),
    "body_too_large": N_("quá dài: tối đa %(limit)s byte (UTF-8)"),
}
INVALID = N_("giá trị không hợp lệ")
log = logging.getLogger(__name__)


def human(message: str, params: Mapping[str, object] | None = None) -> str:
    """A catalog message in the reader's language, with its placeholders filled."""
    translated = gettext(message) if message else message  # "" would be the catalog's header
    return translated % params if params else translated


def error_response(
    status: int,
    machine: str,
    person: str,
    fields: dict[str, str] | None = None,
    person_fields: dict[str, str] | None = None,
) -> Response:
    """The answer to an error: ``machine`` (English) and ``fields`` for the API, feeds and
    hub; ``person`` and ``person_fields`` (the reader's language) on an HTML page."""
    if request.path.startswith("/api/"):
        body: dict[str, object] = {"error": machine}
        if fields:
            body["fields"] = fields
        response = jsonify(body)
    elif request.path.startswith(PLAIN_TEXT_PATHS):
        response = Response(machine + "\n", mimetype="text/plain")
    else:
        page = render_template("error.html", status=status, message=person, fields=person_fields)
        response = Response(page)
    response.status_code = status
    return response


def _problem(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    text = FIELD_TEXTS.get(kind) or next(
        (
            t
            for prefix, t in FIELD_TEXTS.items()
            if prefix.endswith("_") and kind.startswith(prefix)
        ),
        INVALID,
    )
    return human(text, error.get("ctx") if "%(" in text else None)


def _by_field(exc: ValidationError, describe: Callable[[Any], str]) -> dict[str, str]:
    return {
        ".".join(str(part) for part in err["loc"]) or "body": describe(err) for err in exc.errors()
    }


def validation_fields(exc: ValidationError) -> dict[str, str]:
    """pydantic's own (English) words per field: for machines."""
    return _by_field(exc, lambda err: str(err["msg"]))


def validation_texts(exc: ValidationError) -> dict[str, str]:
    """What is wrong with each field, in the reader's language: for pages."""
    return _by_field(exc, _problem)


def _http_text(exc: HTTPException) -> str:
    if isinstance(exc, CSRFError):
        return human(CSRF_TEXT)
    status = exc.code or 500
    return human(HTTP_TEXTS.get(status, OTHER_HTTP_TEXT), {"status": status})


def init_app(app: Flask) -> None:
    @app.errorhandler(FeedsvcError)
    def service_error(exc: FeedsvcError) -> Response:
        if isinstance(exc, InvalidInput):
            fields = exc.field_texts(gettext)
            return error_response(422, str(exc), exc.text(gettext), exc.fields, fields)
        return error_response(STATUS.get(type(exc), 400), str(exc), exc.text(gettext))

    def database_unavailable(exc: Exception) -> Response:
        log.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).partition("\n")[0])
        text = HTTP_TEXTS[503]
        response = error_response(503, english(text), human(text))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for unavailable in (DatabaseUnavailable, *UNAVAILABLE_ERRORS):
        app.register_error_handler(unavailable, database_unavailable)

    @app.errorhandler(ValidationError)
    def invalid_body(exc: ValidationError) -> Response:
        text = HTTP_TEXTS[422]
        fields, texts = validation_fields(exc), validation_texts(exc)
        return error_response(422, english(text), human(text), fields, texts)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        response = error_response(status, exc.description or exc.name, _http_text(exc))
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value  # Allow on 405, WWW-Authenticate on 401
        return response
