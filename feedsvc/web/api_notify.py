"""JSON API: webhook endpoints (/api/v1/webhooks) and deliveries (/api/v1/deliveries).

Every endpoint needs a bearer token. A webhook's signing secret is returned when it is made.
"""

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from feedsvc.errors import N_, InvalidInput
from feedsvc.models import Delivery, WebhookEndpoint
from feedsvc.notify.outbox import page_deliveries, retry_delivery
from feedsvc.notify.webhooks import (
    EndpointCreate,
    EndpointUpdate,
    add_endpoint,
    delete_endpoint,
    get_endpoint,
    page_endpoints,
    update_endpoint,
)
from feedsvc.text import to_local, utcnow
from feedsvc.web import context
from feedsvc.web.api_pages import api_limit, api_position, page_json
from feedsvc.web.auth import require_token
from feedsvc.web.params import json_body

blueprint = Blueprint("api_notify", __name__, url_prefix="/api/v1")
DELIVERY_STATES = ("pending", "failing", "delivered", "dead")


def _time(value: datetime | None) -> str | None:
    return to_local(value).isoformat() if value else None


def endpoint_json(endpoint: WebhookEndpoint, with_secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "categories": endpoint.categories,
        "keywords": endpoint.keywords,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "consecutive_failures": endpoint.consecutive_failures,
        # its circuit breaker: attempts in a row without an answer, and the pause they caused
        "consecutive_timeouts": endpoint.consecutive_timeouts,
        "paused_until": _time(endpoint.paused_until),
        "created_at": _time(endpoint.created_at),
    }
    if with_secret:
        body["secret"] = endpoint.secret
    return body


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "message_id": delivery.message_id,
        "endpoint": (
            {"id": delivery.endpoint.id, "url": delivery.endpoint.url}
            if delivery.endpoint
            else None
        ),
        "websub_subscription": (
            {
                "id": delivery.hub_subscription.id,
                "topic": delivery.hub_subscription.topic,
                "callback": delivery.hub_subscription.callback,
            }
            if delivery.hub_subscription
            else None
        ),
        "article_id": delivery.article_id,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": _time(delivery.next_attempt_at) if delivery.state == "pending" else None,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": _time(delivery.created_at),
        "delivered_at": _time(delivery.delivered_at),
    }


@blueprint.get("/webhooks")
@require_token
def webhooks() -> Response:
    page = page_endpoints(context.session(), api_position(), api_limit())
    return jsonify(page_json(page, endpoint_json))


@blueprint.post("/webhooks")
@require_token
def add_webhook() -> tuple[Response, int]:
    data = EndpointCreate.model_validate(json_body())
    session = context.session()
    endpoint = add_endpoint(session, data, context.settings(), utcnow())
    session.commit()
    return jsonify(endpoint_json(endpoint, with_secret=True)), 201


@blueprint.get("/webhooks/<int:endpoint_id>")
@require_token
def webhook(endpoint_id: int) -> Response:
    return jsonify(endpoint_json(get_endpoint(context.session(), endpoint_id)))


@blueprint.patch("/webhooks/<int:endpoint_id>")
@require_token
def edit_webhook(endpoint_id: int) -> Response:
    data = EndpointUpdate.model_validate(json_body())
    session = context.session()
    endpoint = update_endpoint(session, endpoint_id, data)
    session.commit()
    return jsonify(endpoint_json(endpoint))


@blueprint.delete("/webhooks/<int:endpoint_id>")
@require_token
def remove_webhook(endpoint_id: int) -> tuple[str, int]:
    session = context.session()
    delete_endpoint(session, endpoint_id)
    session.commit()
    return "", 204


@blueprint.get("/deliveries")
@require_token
def deliveries() -> Response:
    state = request.args.get("state") or None
    if state is not None and state not in DELIVERY_STATES:
        raise InvalidInput(
            N_("Trạng thái không có"),
            {"state": N_("một trong: %(roles)s")},
            roles=", ".join(DELIVERY_STATES),
        )
    page = page_deliveries(context.session(), state, api_position(), api_limit())
    return jsonify(page_json(page, delivery_json))


@blueprint.post("/deliveries/<int:delivery_id>/retry")
@require_token
def retry(delivery_id: int) -> Response:
    """Send a dead-lettered (or still pending) delivery again, now."""
    session = context.session()
    delivery = retry_delivery(session, delivery_id, utcnow())
    session.commit()
    return jsonify(delivery_json(delivery))
