"""Subscribers (e-mail, webhooks, WebSub) with their state, and deliveries with retry."""

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from feedsvc.categories import list_categories
from feedsvc.errors import Conflict
from feedsvc.notify.channels import KINDS
from feedsvc.notify.hub import page_subscriptions
from feedsvc.notify.mail.subscriptions import page_subscribers
from feedsvc.notify.outbox import get_subscriber, page_deliveries, retry_delivery
from feedsvc.notify.webhooks import (
    EndpointCreate,
    EndpointUpdate,
    add_endpoint,
    delete_endpoint,
    page_endpoints,
    update_endpoint,
)
from feedsvc.text import utcnow
from feedsvc.web import context, params
from feedsvc.web.admin.forms import FormProblem, attempt, done, text
from feedsvc.web.admin.guard import admin_only
from feedsvc.web.params import position

blueprint = Blueprint("subscribers", __name__)
blueprint.before_request(admin_only)
DELIVERY_STATES = ("failing", "dead", "pending", "delivered")


def _page(created_secret: str | None = None, problem: FormProblem | None = None) -> tuple[str, int]:
    session, size = context.session(), context.settings().admin_page_items
    return render_template(
        "admin/subscribers.html",
        emails=page_subscribers(session, position("emails_"), size),
        endpoints=page_endpoints(session, position("webhooks_"), size),
        subscriptions=page_subscriptions(session, position("websub_"), size),
        categories=list_categories(session),
        created_secret=created_secret,
        problem=problem,
        values=request.form,
        now=utcnow(),
    ), 422 if problem else 200


@blueprint.get("/subscribers")
def index() -> tuple[str, int]:
    return _page()


@blueprint.post("/subscribers/webhooks")
def add_webhook() -> tuple[str, int]:
    """The new endpoint's secret is shown on this page once (never put in a cookie)."""
    session = context.session()
    try:
        data = attempt(
            lambda: EndpointCreate(
                url=text("url"),
                description=text("description"),
                categories=request.form.getlist("categories"),
                keywords=[k for k in text("keywords").split(",") if k.strip()],
            )
        )
        endpoint = attempt(lambda: add_endpoint(session, data, context.settings(), utcnow()))
    except FormProblem as problem:
        return _page(problem=problem)
    session.commit()
    return _page(created_secret=endpoint.secret)


@blueprint.post("/subscribers/webhooks/<int:endpoint_id>/<any(enable, disable):action>")
def switch_webhook(endpoint_id: int, action: str) -> ResponseReturnValue:
    update_endpoint(context.session(), endpoint_id, EndpointUpdate(enabled=action == "enable"))
    context.session().commit()
    done(_("Đã bật webhook.") if action == "enable" else _("Đã tắt webhook."))
    return redirect(url_for(".index"))


@blueprint.post("/subscribers/webhooks/<int:endpoint_id>/delete")
def delete_webhook(endpoint_id: int) -> ResponseReturnValue:
    delete_endpoint(context.session(), endpoint_id)
    context.session().commit()
    done(_("Đã xóa webhook."))
    return redirect(url_for(".index"))


@blueprint.get("/deliveries")
def deliveries() -> str:
    """Deliveries newest first, filtered by state, channel, and one subscriber of a channel
    (``?channel=webhook&subscriber=3``: that subscriber's page of deliveries). Values that
    are not one of the choices are ignored, as the links never send them."""
    session = context.session()
    state, channel = request.args.get("state", ""), request.args.get("channel", "")
    state = state if state in DELIVERY_STATES else ""
    channel = channel if channel in KINDS else ""
    subscriber_id = params.whole_number(request.args.get("subscriber", "")) if channel else None
    subscriber = (
        get_subscriber(session, channel, subscriber_id) if subscriber_id is not None else None
    )
    filters = {"state": state, "channel": channel, "subscriber": subscriber_id}
    return render_template(
        "admin/deliveries.html",
        deliveries=page_deliveries(
            session,
            state or None,
            position(),
            context.settings().admin_page_items,
            channel or None,
            subscriber_id,
        ),
        states=DELIVERY_STATES,
        channels=KINDS,
        subscriber=subscriber,
        filters={k: v for k, v in filters.items() if v},
        without_state={k: v for k, v in filters.items() if v and k != "state"},
        now=utcnow(),
    )


@blueprint.post("/deliveries/<int:delivery_id>/retry")
def retry(delivery_id: int) -> ResponseReturnValue:
    try:
        retry_delivery(context.session(), delivery_id, utcnow())
    except Conflict:
        flash(_("Lần gửi này đã thành công, không cần gửi lại."), "error")
        return redirect(url_for(".deliveries"))
    context.session().commit()
    done(_("Sẽ gửi lại ngay trong lượt gửi tới."))
    kept: dict[str, Any] = {k: text(k) for k in ("state", "channel", "subscriber") if text(k)}
    return redirect(url_for(".deliveries", **kept))
