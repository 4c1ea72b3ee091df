"""Reading admin forms: problems come back as one message and a message per field."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import flash, render_template, request
from flask_babel import gettext as _
from pydantic import ValidationError

from feedsvc.articles import representable
from feedsvc.categories import list_categories
from feedsvc.errors import N_, FeedsvcError, InvalidInput
from feedsvc.text import LOCAL_TZ
from feedsvc.web import context, params
from feedsvc.web.errors import validation_texts

T = TypeVar("T")
LOCAL_FORMAT = "%d/%m/%Y %H:%M"
# A form's problems are listed per field: by these names, not the fields' own.
FIELD_LABELS = {
    "title": N_("Tiêu đề"),
    "category": N_("Chuyên mục"),
    "summary": N_("Tóm tắt"),
    "body_html": N_("Nội dung (HTML)"),
    "author": N_("Tác giả"),
    "image_url": N_("Ảnh đại diện (URL)"),
    "published_at": N_("Thời điểm đăng"),
    "url": N_("Địa chỉ"),
    "interval_minutes": N_("Chu kỳ lấy tin (phút)"),
    "category_map": N_("Ánh xạ chuyên mục của nguồn"),
    "categories": N_("Chuyên mục"),
    "keywords": N_("Từ khóa"),
    "description": N_("Mô tả"),
    "name": N_("Tên"),
    "username": N_("Tên đăng nhập"),
    "password": N_("Mật khẩu"),
    "role": N_("Vai trò"),
    "file": N_("Tệp"),
}


class FormProblem(Exception):
    """What is wrong with a form, in the reader's language: as a whole and per field."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.fields = fields


def attempt(action: Callable[[], T]) -> T:
    """Run a service call; what it refuses becomes a FormProblem for the page."""
    try:
        return action()
    except ValidationError as exc:
        raise FormProblem(_("Dữ liệu không hợp lệ"), validation_texts(exc)) from exc
    except InvalidInput as exc:
        raise FormProblem(exc.text(_), exc.field_texts(_)) from exc
    except FeedsvcError as exc:
        raise FormProblem(exc.text(_), {}) from exc


def text(name: str) -> str:
    return request.form.get(name, "").strip()


def whole_number(name: str) -> int | None:
    """A positive whole number, or None when the field is empty."""
    value = text(name)
    if not value:
        return None
    number = params.whole_number(value)
    if number is None:
        raise FormProblem(_("Số không hợp lệ"), {name: _("phải là một số nguyên dương")})
    return number


def lines_map(value: str) -> dict[str, str]:
    """'term = slug' per line -> {term: slug}."""
    mapping = {}
    for line in value.splitlines():
        term, sep, slug = line.partition("=")
        if not sep or not term.strip() or not slug.strip():
            if line.strip():
                problem = _("“%(line)s” không theo dạng “từ = slug”", line=line.strip())
                raise FormProblem(_("Ánh xạ chuyên mục không hợp lệ"), {"category_map": problem})
            continue
        mapping[term.strip()] = slug.strip()
    return mapping


def _parse_datetime(value: str) -> datetime:
    try:
        return datetime.strptime(value, LOCAL_FORMAT)
    except ValueError:
        return datetime.fromisoformat(value)


def local_datetime(name: str) -> datetime | None:
    """The field ``name`` as dd/mm/yyyy HH:MM or ISO 8601 (2026-11-27T08:30, an offset
    allowed), in Vietnam's time (+07:00) unless an offset says otherwise; empty: None."""
    value = text(name)
    if not value:
        return None
    try:
        parsed = _parse_datetime(value)
        return representable(parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ))
    except ValueError as exc:
        hint = _("dd/mm/yyyy HH:MM hoặc ISO 8601, ví dụ 27/11/2026 08:30")
        raise FormProblem(
            _("Ngày giờ không hợp lệ: “%(value)s”", value=value), {name: hint}
        ) from exc


def field_label(name: str) -> str:
    """A field's name as its form says it (a template global)."""
    label = FIELD_LABELS.get(name.partition(".")[0])
    return _(label) if label else name


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
