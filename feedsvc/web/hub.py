"""The WebSub hub endpoint: POST /hub with hub.mode, hub.topic, hub.callback, ...

A request is answered 202 Accepted and verified later by the worker (see notify.hub); a
malformed one gets 400 with what is wrong, in plain text (415 if it is not a form); one
beyond the hub's limits 429 with which. The answer never depends on the verification.
"""

from flask import Blueprint, Response, request

from feedsvc.errors import N_, InvalidInput
from feedsvc.notify.hub import record_intent
from feedsvc.text import utcnow
from feedsvc.web import context
from feedsvc.web.params import whole_number

blueprint = Blueprint("hub", __name__)
FORM = "application/x-www-form-urlencoded"  # WebSub §5.1: the request's only type


@blueprint.errorhandler(InvalidInput)
def bad_request(exc: InvalidInput) -> Response:
    """WebSub's answer to a request it will not take: 400 and the reason."""
    return Response(f"{exc}\n", status=400, mimetype="text/plain")


@blueprint.post("/hub")
def subscribe() -> Response | tuple[str, int]:
    """Parameters the hub does not know are ignored (§5.1); ``hub.lease_seconds`` too, on
    an unsubscription."""
    if request.mimetype != FORM:
        reason = f"a subscription request is a form: Content-Type {FORM}\n"
        return Response(reason, status=415, mimetype="text/plain")
    form = request.form
    mode = form.get("hub.mode", "")
    lease = form.get("hub.lease_seconds", "") if mode == "subscribe" else ""
    lease_seconds = whole_number(lease)
    if lease and lease_seconds is None:
        raise InvalidInput(
            N_("hub.lease_seconds phải là một số"), {"hub.lease_seconds": N_("một số")}
        )
    session = context.session()
    record_intent(
        session,
        context.settings(),
        mode=mode,
        topic=form.get("hub.topic", ""),
        callback=form.get("hub.callback", ""),
        lease_seconds=lease_seconds,
        secret=form.get("hub.secret", ""),
        client_ip=request.remote_addr or "unknown",
        now=utcnow(),
    )
    session.commit()
    return "", 202
