"""The WebSub hub endpoint: POST /hub with hub.mode, hub.topic, hub.callback, ...

A request is answered 202 Accepted and verified later by the worker (see notify.hub); a
malformed one gets 422 with what is wrong, one beyond the hub's limits 429 with which.
"""

from flask import Blueprint, request

from feedsvc.notify.hub import record_intent
from feedsvc.text import utcnow
from feedsvc.web import context

blueprint = Blueprint("hub", __name__)


@blueprint.post("/hub")
def subscribe() -> tuple[str, int]:
    form = request.form
    session = context.session()
    record_intent(
        session,
        context.settings(),
        mode=form.get("hub.mode", ""),
        topic=form.get("hub.topic", ""),
        callback=form.get("hub.callback", ""),
        lease_seconds=form.get("hub.lease_seconds", ""),
        secret=form.get("hub.secret", ""),
        client_ip=request.remote_addr or "unknown",
        now=utcnow(),
    )
    session.commit()
    return "", 202
