"""JSON API /api/v1/sources: upstream sources, their health, "fetch now" and preview.

Every endpoint needs a bearer token: sources are the admins' configuration.
"""

import random
from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, Field

from feedsvc.errors import N_, Conflict
from feedsvc.ingest.claims import SKIP_BUSY
from feedsvc.ingest.preview import preview_source
from feedsvc.ingest.refresh import refresh_source
from feedsvc.ingest.schedule import HOLD_REASONS
from feedsvc.models import Source
from feedsvc.sources import (
    SourceCreate,
    SourceUpdate,
    add_source,
    delete_source,
    get_source,
    page_sources,
    update_source,
)
from feedsvc.text import to_local, utcnow
from feedsvc.web import context
from feedsvc.web.api_pages import api_limit, api_position, page_json
from feedsvc.web.auth import require_token
from feedsvc.web.params import flag, json_body

blueprint = Blueprint("api_sources", __name__, url_prefix="/api/v1/sources")


class PreviewRequest(BaseModel):
    url: str = Field(max_length=2000)
    category: str = Field("", max_length=100)
    category_map: dict[str, str] = Field(default_factory=dict)


def _time(value: datetime | None) -> str | None:
    return to_local(value).isoformat() if value else None


def source_json(source: Source) -> dict[str, Any]:
    return {
        "id": source.id,
        "url": source.url,
        "title": source.title,
        "category": source.category.slug,
        "category_map": source.category_map,
        "interval_minutes": source.interval_minutes,
        "keep_days": source.keep_days,
        "enabled": source.enabled,
        "disabled_reason": source.disabled_reason,
        "health": {
            "last_fetch_at": _time(source.last_fetch_at),
            "last_status": source.last_status,
            "last_duration_ms": source.last_duration_ms,
            "last_bytes": source.last_bytes,
            "last_new": source.last_new,
            "last_updated": source.last_updated,
            "last_skipped": source.last_skipped,
            "last_error": source.last_error,
            "last_warning": source.last_warning,
            "consecutive_failures": source.consecutive_failures,
            "next_fetch_at": _time(source.next_fetch_at),
            "held_until": _time(source.hold_until),
            "hold_reason": source.hold_reason,
        },
        "announcements": {
            "baseline_at": _time(source.baseline_at),
            "last_unannounced": source.last_unannounced,
            "unannounced_baseline": source.unannounced_baseline,
            "unannounced_old": source.unannounced_old,
        },
        "websub": {
            "state": source.websub_state,
            "hub": source.websub_hub,
            "lease_expires_at": _time(source.websub_lease_expires_at),
            "error": source.websub_error,
        },
        "totals": {
            "fetches": source.fetch_count,
            "errors": source.error_count,
            "items": source.item_count,
        },
    }


@blueprint.get("")
@require_token
def sources() -> Response:
    state = request.args.get("state", "")
    page = page_sources(context.session(), api_position(), api_limit(), state)
    return jsonify(page_json(page, source_json))


@blueprint.post("")
@require_token
def add() -> tuple[Response, int]:
    data = SourceCreate.model_validate(json_body())
    session = context.session()
    source = add_source(session, data, context.settings(), utcnow(), random.Random())
    session.commit()
    return jsonify(source_json(source)), 201


@blueprint.get("/<int:source_id>")
@require_token
def source(source_id: int) -> Response:
    return jsonify(source_json(get_source(context.session(), source_id)))


@blueprint.patch("/<int:source_id>")
@require_token
def edit(source_id: int) -> Response:
    data = SourceUpdate.model_validate(json_body())
    session = context.session()
    updated = update_source(session, source_id, data, context.settings(), utcnow())
    session.commit()
    return jsonify(source_json(updated))


@blueprint.delete("/<int:source_id>")
@require_token
def remove(source_id: int) -> tuple[str, int]:
    session = context.session()
    delete_source(session, source_id)
    session.commit()
    return "", 204


@blueprint.post("/<int:source_id>/fetch")
@require_token
def fetch_now(source_id: int) -> Response | tuple[Response, int]:
    """Fetch now, whatever the schedule; answers when the fetch is done. A source held back
    by Retry-After or backoff answers 409 with ``held_until`` unless ``?force=true``."""
    force = flag("force")
    context.session().commit()  # the token's last-used time; the refresh has its own sessions
    outcome = refresh_source(
        context.database(), context.settings(), source_id, utcnow, random.Random(), force=force
    )
    if outcome.hold:
        until, reason = _time(outcome.hold.until), outcome.hold.reason
        message = f"source {source_id} is held back until {until} ({HOLD_REASONS[reason]})"
        return jsonify(
            {
                "error": f"{message}; ?force=true fetches it anyway",
                "held_until": until,
                "hold_reason": reason,
            }
        ), 409
    if outcome.skipped == SKIP_BUSY:
        raise Conflict(N_("Nguồn tin %(id)s đang được lấy tin"), id=source_id)
    body = {
        "outcome": {
            "source_id": outcome.source_id,
            "status": outcome.status,
            "new_ids": list(outcome.new_ids),
            "updated": outcome.updated,
            "error": outcome.error,
            "warning": outcome.warning,
            "disabled_reason": outcome.disabled_reason,
            "skipped": outcome.skipped,  # "fresh": fetched by another process meanwhile
        }
    }
    body["source"] = source_json(get_source(context.session(), source_id))
    return jsonify(body)


@blueprint.post("/preview")
@require_token
def preview() -> Response:
    """What the URL would bring in; nothing is saved."""
    data = PreviewRequest.model_validate(json_body())
    result = preview_source(
        context.settings(), data.url, data.category, data.category_map, utcnow()
    )
    return jsonify(
        {
            "url": result.url,
            "title": result.title,
            "format": result.format,
            "warning": result.warning,
            "entries": [
                {**asdict(entry), "published": _time(entry.published)} for entry in result.entries
            ],
        }
    )
