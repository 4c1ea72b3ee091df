"""Bearer-token authentication for API writes."""

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from feedsvc.models import ApiToken
from feedsvc.text import utcnow
from feedsvc.tokens import authenticate_token
from feedsvc.web import context

P = ParamSpec("P")
R = TypeVar("R")


def current_token() -> ApiToken | None:
    """The valid token sent with this request, if any (read once per request)."""
    if "api_token" not in g:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        g.api_token = (
            authenticate_token(context.session(), secret.strip(), utcnow())
            if scheme.lower() == "bearer" and secret.strip()
            else None
        )
    token: ApiToken | None = g.api_token
    return token


def require_token(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        if current_token() is None:
            raise Unauthorized(
                "a valid API token is required (Authorization: Bearer <token>)",
                www_authenticate=WWWAuthenticate("bearer", {"realm": "feedsvc"}),
            )
        return view(*args, **kwargs)

    return wrapped
