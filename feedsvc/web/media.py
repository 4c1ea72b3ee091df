"""Stored pictures at /media/<name>, cached for a year: a name never changes its bytes."""

from flask import Blueprint, Response, abort, request

from feedsvc.media import NAME, media_type_of
from feedsvc.web import context

blueprint = Blueprint("media", __name__, url_prefix="/media")
IMMUTABLE = "public, max-age=31536000, immutable"


@blueprint.get("/<name>")
def picture(name: str) -> Response:
    data = context.media_store().load(name) if NAME.fullmatch(name) else None
    if data is None:
        abort(404)
    response = Response(data, mimetype=media_type_of(name))
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["Access-Control-Allow-Origin"] = "*"  # feed readers show it anywhere
    response.set_etag(name)
    return response.make_conditional(request)  # type: ignore[return-value]
