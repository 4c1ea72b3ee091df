"""Reading admin forms: problems come back as one message and a message per field."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import flash, render_template, request
from pydantic import ValidationError

from feedsvc.articles import representable
from feedsvc.categories import list_categories
from feedsvc.errors import FeedsvcError, InvalidInput
from feedsvc.text import LOCAL_TZ
from feedsvc.web import context, params

T = TypeVar("T")
LOCAL_FORMAT = "%d/%m/%Y %H:%M"


class FormProblem(Exception):
    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.fields = fields


def attempt(action: Callable[[], T]) -> T:
    """Run a service call; what it refuses becomes a FormProblem for the page."""
    try:
        return action()
    except ValidationError as exc:
        fields = {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}
        raise FormProblem("invalid input", fields) from exc
    except InvalidInput as exc:
        raise FormProblem(str(exc), exc.fields) from exc
    except FeedsvcError as exc:
        raise FormProblem(str(exc), {}) from exc


def text(name: str) -> str:
    return request.form.get(name, "").strip()


def whole_number(name: str) -> int | None:
    """A positive whole number, or None when the field is empty."""
    value = text(name)
    if not value:
        return None
    number = params.whole_number(value)
    if number is None:
        raise FormProblem("invalid number", {name: "a whole number"})
    return number


def lines_map(value: str) -> dict[str, str]:
    """'term = slug' per line -> {term: slug}."""
    mapping = {}
    for line in value.splitlines():
        term, sep, slug = line.partition("=")
        if not sep or not term.strip() or not slug.strip():
            if line.strip():
                raise FormProblem("invalid mapping", {"category_map": line.strip()})
            continue
        mapping[term.strip()] = slug.strip()
    return mapping


def local_datetime(value: str) -> datetime | None:
    """dd/mm/yyyy HH:MM in Vietnam's time (+07:00); empty: None."""
    if not value:
        return None
    try:
        return representable(datetime.strptime(value, LOCAL_FORMAT).replace(tzinfo=LOCAL_TZ))
    except ValueError as exc:
        raise FormProblem("invalid date", {"published_at": "dd/mm/yyyy HH:MM"}) from exc


def form_page(template: str, problem: FormProblem | None, **page: Any) -> tuple[str, int]:
    """A form again, with what was typed, the categories to choose from and what is wrong
    (422 then)."""
    return render_template(
        template,
        categories=list_categories(context.session()),
        values=request.form,
        problem=problem,
        **page,
    ), 422 if problem else 200


def done(message: str) -> None:
    flash(message, "ok")
