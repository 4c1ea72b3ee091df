"""E-mail subscription pages: /subscribe (form), /subscribe/confirm/<token>, /unsubscribe/<token>.

The form is CSRF-protected and rate-limited. The links of the mails change nothing when
opened, since mail security scanners open every link: ``GET`` shows a page with a button,
and the button's ``POST`` to the same URL confirms or unsubscribes. ``POST
/unsubscribe/<token>`` is also the RFC 8058 one-click target that mail clients call without
a page. Those two POSTs are exempt from CSRF: the signed token in the URL is their proof,
and no session or cookie is involved (docs/decisions/0011-mail-links-open-a-page.md).
"""

from flask import Blueprint, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, validate_csrf
from pydantic import ValidationError
from wtforms import ValidationError as WTFormsValidationError

from feedsvc.categories import list_categories
from feedsvc.errors import InvalidInput
from feedsvc.notify.mail.subscriptions import (
    SubscribeForm,
    confirm,
    confirmation_subscriber,
    subscribe,
    unsubscribe,
    unsubscription_subscriber,
)
from feedsvc.text import utcnow
from feedsvc.web import context
from feedsvc.web.errors import validation_texts
from feedsvc.web.public import feed_links

blueprint = Blueprint("subscribe", __name__)


TOKEN_PROOF = {"subscribe.confirm_subscription", "subscribe.unsubscribe_address"}
# An old confirmation link of an address confirmed, then unsubscribed: the form makes it anew.
LEFT_ALREADY = ("Đã hủy nhận tin", "Muốn nhận tin lại, xin đăng ký tại trang nhận tin.")


@blueprint.before_request
def check_csrf() -> None:
    """Every form post carries the CSRF token, except the POSTs of the mails' links, whose
    signed token is the proof (RFC 8058's one-click POST comes without any form)."""
    if request.method == "POST" and request.endpoint not in TOKEN_PROOF:
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
        canonical=context.settings().base_url + "/subscribe",
        description=f"Nhận tin mới của {context.settings().site_title} qua thư điện tử: "
        "theo chuyên mục hoặc từ khóa, ngay khi có tin hoặc mỗi ngày một bản tin.",
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
def confirm_page(token: str) -> tuple[str, int]:
    """A page with the button that confirms; opening the link confirms nothing."""
    subscriber = confirmation_subscriber(context.session(), context.settings(), token)
    if subscriber.unsubscribed_at is not None:
        return _message(*LEFT_ALREADY)
    if subscriber.confirmed_at is not None:
        return _message("Địa chỉ đã được xác nhận", "Bạn đang nhận tin qua thư điện tử.")
    page = render_template(
        "confirm.html", token=token, email=subscriber.email, feeds=feed_links(None)
    )
    return page, 200


@blueprint.post("/subscribe/confirm/<token>")
def confirm_subscription(token: str) -> tuple[str, int]:
    session = context.session()
    subscriber = confirm(session, context.settings(), token, utcnow())
    session.commit()
    if subscriber.unsubscribed_at is not None:
        return _message(*LEFT_ALREADY)
    return _message("Đăng ký thành công", "Bạn sẽ nhận được tin mới qua thư điện tử.")


@blueprint.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> tuple[str, int]:
    """A page with the button that unsubscribes; opening the link changes nothing."""
    subscriber = unsubscription_subscriber(context.session(), context.settings(), token)
    if subscriber is None or subscriber.unsubscribed_at is not None:
        return _message("Đã hủy nhận tin", "Địa chỉ này không còn nhận thư từ chúng tôi.")
    page = render_template(
        "unsubscribe.html", token=token, email=subscriber.email, feeds=feed_links(None)
    )
    return page, 200


@blueprint.post("/unsubscribe/<token>")
def unsubscribe_address(token: str) -> tuple[str, int]:
    """The page's button, and RFC 8058's one-click POST (``List-Unsubscribe=One-Click``)."""
    session = context.session()
    unsubscribe(session, context.settings(), token, utcnow())
    session.commit()
    return _message("Đã hủy nhận tin", "Bạn sẽ không nhận thư từ chúng tôi nữa.")
