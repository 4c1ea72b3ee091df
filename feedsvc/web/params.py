"""Reading request input, one way per kind of value, for every route.

Whatever a client sends, these answer a clear 4xx and never a 500: 404 for an id or a page
that cannot exist, 422 for a bad value, 400 for a body that cannot be read. Numbers are ASCII
digits only (``'²'.isdigit()`` is True, but ``int('²')`` fails), and text holds no NUL
(PostgreSQL refuses it) and no lone surrogate (not encodable as UTF-8, refused by I-JSON).
"""

import json
from typing import Any
from urllib.parse import urlencode

from flask import Flask, redirect, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import IntegerConverter, Map

from feedsvc.errors import N_, InvalidInput, NotFound
from feedsvc.models import MAX_INTEGER
from feedsvc.paging import NUMBERED_PAGES, Position

# No page can lie beyond the number of articles, itself at most the largest id.
MAX_PAGE = MAX_INTEGER
# Larger than any limit in the service; a longer run of digits reads as this (int() refuses
# strings of more than 4,300 digits).
NUMBER_CAP = 10**18


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a positive id that fits the id columns, so an id beyond
    32 or 64 bits never reaches the database.

    Any other run of digits is 404 at once: a plain ValidationError would let the router
    answer 405 where another method's rule has the same path.
    """

    regex = r"[0-9]+"

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_INTEGER)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_INTEGER)) or not 1 <= int(value) <= MAX_INTEGER:
            raise HTTPNotFound(f"Không có mục {value[:20]} (no such id)")
        return int(value)


def whole_number(raw: str) -> int | None:
    """A whole number written in ASCII digits (capped at NUMBER_CAP), or None."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    digits = raw.lstrip("0") or "0"
    return int(digits) if len(digits) <= len(str(NUMBER_CAP)) else NUMBER_CAP


def page_number() -> int:
    """``?page=``: 1 when absent; 422 when not a whole number from 1; 404 beyond any page."""
    raw = request.args.get("page", "1")
    page = whole_number(raw)
    if page is None or page < 1:
        raise InvalidInput(N_("Số trang không hợp lệ"), {"page": N_("phải là số nguyên từ 1")})
    if page > MAX_PAGE:
        raise NotFound(N_("Không có trang %(page)s"), page=raw)
    return page


def flag(name: str) -> bool:
    """A yes/no query parameter: ``true``/``1`` or ``false``/``0`` (absent: no); else 422."""
    raw = request.args.get(name, "false").lower()
    if raw not in ("true", "1", "false", "0"):
        raise InvalidInput(
            N_("%(name)s không hợp lệ"), {name: N_("phải là true hoặc false")}, name=name
        )
    return raw in ("true", "1")


def position(prefix: str = "") -> Position:
    """``?before=`` / ``?after=`` (cursors of keyset paging, see feedsvc.paging); a page of
    several lists names each list's with a prefix (``emails_before``)."""
    return Position(request.args.get(f"{prefix}before", ""), request.args.get(f"{prefix}after", ""))


def numbered_page() -> int | None:
    """``?page=N`` of an old link (before keyset paging), None when absent: 422 when not a
    whole number from 1, 404 beyond the pages still answered (``NUMBERED_PAGES``)."""
    if "page" not in request.args:
        return None
    page = page_number()
    if page > NUMBERED_PAGES:
        raise NotFound(
            N_("Không có trang %(page)s: trang đánh số chỉ còn đến %(last)s, hãy đi từ trang đầu"),
            page=page,
            last=NUMBERED_PAGES,
        )
    return page


def moved_to(position: Position | None, page: int) -> ResponseReturnValue:
    """301 to this URL with ``page`` replaced by the cursor of that page (404 without one)."""
    if position is None:
        raise NotFound(N_("Không có trang %(page)s"), page=page)
    args = {k: v for k, v in request.args.items() if k not in ("page", "before", "after")}
    if position.before:
        args["before"] = position.before
    query = f"?{urlencode(args)}" if args else ""
    return redirect(f"{request.path}{query}", code=301)


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return N_("không được chứa ký tự NUL")
    if value.isascii():  # slugs, formats, most parameters: nothing more to check
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return N_("không được chứa surrogate lẻ")
    return None


def _check_json(body: Any) -> None:
    """Every key and string in a parsed body (iteratively: a body may nest deeply)."""
    pending: list[tuple[str, Any]] = [("", body)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            problem = _text_problem(value) if isinstance(value, str) else None
            if problem:
                raise InvalidInput(
                    N_("Văn bản không hợp lệ"), {_printable(path) or "body": problem}
                )
            continue
        for key, item in items:
            inner = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _text_problem(key):
                raise InvalidInput(
                    N_("Văn bản không hợp lệ"), {_printable(inner): N_("không phải tên hợp lệ")}
                )
            pending.append((inner, item))


def json_body() -> dict[str, Any]:
    """The request's JSON object: 400 if the body is not JSON (or nested too deep to read),
    422 if it is JSON but not an object or holds text that cannot be stored."""
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError) as exc:
        raise BadRequest("the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise InvalidInput(
            N_("Nội dung yêu cầu phải là một đối tượng JSON"),
            {"body": N_("không phải đối tượng JSON")},
        )
    _check_json(body)
    return body


def check_text_parameters() -> None:
    """Before every request: query, form and path values must be storable text (422)."""
    values = list((request.view_args or {}).items())
    if request.query_string:  # most requests (a feed reader's) have none: no parsing then
        values += request.args.items(multi=True)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += request.form.items(multi=True)
    for name, value in values:
        if not isinstance(value, str):
            continue  # a converted id
        problem = _text_problem(name) or _text_problem(value)
        if problem:
            raise InvalidInput(N_("Văn bản không hợp lệ"), {_printable(name): problem})


def _printable(name: str) -> str:
    return name.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()


def init_app(app: Flask) -> None:
    """Register the id converter (before any route is added) and the text check."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(check_text_parameters)
