"""The WebSub subscriber callback: /websub/<source>/<key>, called by upstream hubs.

GET answers a verification of intent (echoes hub.challenge when we asked for it); POST takes
a content distribution, stored only with a valid signature. Unsigned or wrongly signed
deliveries are acknowledged and ignored (WebSub §7), so a forger learns nothing.
"""

import logging

from flask import Blueprint, Response, abort, request

from feedsvc.errors import NotFound
from feedsvc.ingest.websub import accept_distribution, answer_hub_verification
from feedsvc.text import utcnow
from feedsvc.web import context
from feedsvc.web.params import whole_number

blueprint = Blueprint("websub_callback", __name__)
log = logging.getLogger(__name__)


@blueprint.get("/websub/<int:source_id>/<key>")
def verify(source_id: int, key: str) -> Response:
    args = request.args
    session = context.session()
    confirmed = answer_hub_verification(
        session,
        source_id,
        key,
        mode=args.get("hub.mode", ""),
        topic=args.get("hub.topic", ""),
        lease_seconds=whole_number(args.get("hub.lease_seconds", "")),
        reason=args.get("hub.reason", ""),
        settings=context.settings(),
        now=utcnow(),
    )
    session.commit()
    if not confirmed:
        abort(404, description="this subscription was not asked for")
    return Response(args.get("hub.challenge", ""), mimetype="text/plain")


@blueprint.post("/websub/<int:source_id>/<key>")
def distribute(source_id: int, key: str) -> tuple[str, int]:
    request.max_content_length = context.settings().fetch_max_bytes
    session = context.session()
    try:
        stored = accept_distribution(
            session,
            source_id,
            key,
            request.get_data(),
            request.content_type or "",
            request.headers.get("X-Hub-Signature", ""),
            utcnow(),
            context.settings(),
        )
    except NotFound:
        return "no such subscription\n", 410  # tells the hub to stop
    session.commit()
    if stored is None:
        log.warning("ignored an unsigned or wrongly signed delivery for source %s", source_id)
    return "", 202
