"""E-mail subscription pages: /subscribe (form), /subscribe/confirm/<token>, /unsubscribe/<token>.

The form is CSRF-protected and rate-limited; ``POST /unsubscribe/<token>`` is the RFC 8058
one-click target that mail clients call without a form, so it is exempt from CSRF (the
signed token is its proof).
"""

from flask import Blueprint, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, validate_csrf
from pydantic import ValidationError
from wtforms import ValidationError as WTFormsValidationError

from feedsvc.categories import list_categories
from feedsvc.errors import InvalidInput
from feedsvc.notify.email import SubscribeForm, confirm, subscribe, unsubscribe
from feedsvc.text import utcnow
from feedsvc.web import context
from feedsvc.web.errors import validation_texts
from feedsvc.web.public import feed_links

blueprint = Blueprint("subscribe", __name__)


@blueprint.before_request
def check_csrf() -> None:
    """Every form post carries the CSRF token, except the RFC 8058 one-click unsubscribe,
    which mail clients send without a form: its signed link is the proof."""
    if request.method == "POST" and request.endpoint != "subscribe.one_click_unsubscribe":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except WTFormsValidationError as exc:
            raise CSRFError(str(exc)) from exc


def _form_page(errors: dict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "subscribe.html",
        categories=list_categories(context.session()),
        errors=errors or {},
        values=request.form,
        feeds=feed_links(None),
    ), status


def _message(title: str, text: str, status: int = 200) -> tuple[str, int]:
    return render_template("message.html", title=title, text=text, feeds=feed_links(None)), status


@blueprint.get("/subscribe")
def form() -> tuple[str, int]:
    return _form_page()


@blueprint.post("/subscribe")
def submit() -> tuple[str, int]:
    try:
        data = SubscribeForm(
            email=request.form.get("email", ""),
            categories=request.form.getlist("categories"),
            keywords=request.form.get("keywords", ""),
            frequency=request.form.get("frequency", "immediate"),
        )
    except ValidationError as exc:
        return _form_page(validation_texts(exc), 422)
    session = context.session()
    try:
        subscribe(session, context.settings(), data, request.remote_addr or "unknown", utcnow())
    except InvalidInput as exc:
        return _form_page(exc.field_texts(gettext), 422)
    session.commit()
    return _message(
        "Kiểm tra hộp thư của bạn",
        "Chúng tôi đã gửi thư xác nhận tới địa chỉ của bạn (nếu địa chỉ chưa được xác nhận). "
        "Hãy bấm vào liên kết trong thư để bắt đầu nhận tin.",
    )


@blueprint.get("/subscribe/confirm/<token>")
def confirmed(token: str) -> tuple[str, int]:
    session = context.session()
    confirm(session, context.settings(), token, utcnow())
    session.commit()
    return _message("Đăng ký thành công", "Bạn sẽ nhận được tin mới qua thư điện tử.")


@blueprint.get("/unsubscribe/<token>")
def ask_unsubscribe(token: str) -> str:
    return render_template("unsubscribe.html", token=token, feeds=feed_links(None))


@blueprint.post("/unsubscribe/<token>")
def one_click_unsubscribe(token: str) -> tuple[str, int]:
    session = context.session()
    unsubscribe(session, context.settings(), token, utcnow())
    session.commit()
    return _message("Đã hủy nhận tin", "Bạn sẽ không nhận thư từ chúng tôi nữa.")
