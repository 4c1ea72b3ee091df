"""Paged lists of the JSON API, every list alike: ``?limit=`` and ``?cursor=`` (the
``next_cursor`` of the page before); keyset pages, see feedsvc.paging."""

from collections.abc import Callable
from typing import Any, TypeVar

from flask import request, url_for

from feedsvc.errors import InvalidInput
from feedsvc.paging import Page, Position
from feedsvc.web import context
from feedsvc.web.params import whole_number

T = TypeVar("T")
MAX_CURSOR_LENGTH = 200


def api_position(cursor: str | None = None) -> Position:
    """The page after ``cursor`` (default: the request's ``?cursor=``)."""
    raw = request.args.get("cursor", "") if cursor is None else cursor
    if len(raw) > MAX_CURSOR_LENGTH:
        raise InvalidInput("invalid cursor", {"cursor": "not a cursor of this list"})
    return Position(before=raw, before_field="cursor")


def api_limit(asked: int | None = None) -> int:
    """``?limit=`` (or ``asked``), at most ``api_page_items``, which is also the default."""
    largest = context.settings().api_page_items
    if asked is None and "limit" in request.args:
        asked = whole_number(request.args["limit"])
        if asked is None or asked < 1:
            raise InvalidInput("invalid limit", {"limit": "must be a whole number from 1"})
    return min(asked or largest, largest)


def page_json(page: Page[T], item_json: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """``items``, ``next_cursor`` (null on the last page) and ``next`` (its URL)."""
    body: dict[str, Any] = {
        "items": [item_json(item) for item in page.items],
        "next_cursor": page.older,
    }
    if page.older and request.endpoint:
        args: dict[str, Any] = {**request.args.to_dict(), "cursor": page.older}
        body["next"] = url_for(request.endpoint, **args)
    return body
