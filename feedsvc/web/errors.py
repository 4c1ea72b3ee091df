"""Turn service errors and HTTP errors into responses: JSON under /api, HTML elsewhere."""

import logging

from flask import Flask, Response, jsonify, render_template, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from feedsvc.db import UNAVAILABLE_ERRORS
from feedsvc.errors import (
    Conflict,
    DatabaseUnavailable,
    Expired,
    FeedsvcError,
    InvalidInput,
    NotAFeed,
    NotFound,
    RateLimited,
    UpstreamError,
)

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
UNAVAILABLE_MESSAGE = "Hệ thống tạm thời gián đoạn, xin thử lại sau ít phút (service unavailable)"
log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str, fields: dict[str, str] | None = None) -> Response:
    if _wants_json():
        body: dict[str, object] = {"error": message}
        if fields:
            body["fields"] = fields
        response = jsonify(body)
    elif request.path.startswith(("/feeds", "/hub", "/websub/")):  # machines: plain text
        response = Response(message + "\n", mimetype="text/plain")
    else:
        response = Response(render_template("error.html", status=status, message=message))
    response.status_code = status
    return response


def validation_fields(exc: ValidationError) -> dict[str, str]:
    return {
        ".".join(str(part) for part in err["loc"]) or "body": err["msg"] for err in exc.errors()
    }


def init_app(app: Flask) -> None:
    @app.errorhandler(FeedsvcError)
    def service_error(exc: FeedsvcError) -> Response:
        fields = exc.fields if isinstance(exc, InvalidInput) else None
        status = 422 if isinstance(exc, InvalidInput) else STATUS.get(type(exc), 400)
        return error_response(status, str(exc), fields)

    def database_unavailable(exc: Exception) -> Response:
        log.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).partition("\n")[0])
        response = error_response(503, UNAVAILABLE_MESSAGE)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for unavailable in (DatabaseUnavailable, *UNAVAILABLE_ERRORS):
        app.register_error_handler(unavailable, database_unavailable)

    @app.errorhandler(ValidationError)
    def invalid_body(exc: ValidationError) -> Response:
        return error_response(422, "invalid input", validation_fields(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        response = error_response(exc.code or 500, exc.description or exc.name)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value  # Allow on 405, WWW-Authenticate on 401
        return response
