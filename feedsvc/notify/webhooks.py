"""Webhook endpoints, and sending every delivery (webhooks and WebSub distributions).

Webhooks are signed per Standard Webhooks (standardwebhooks library).

Each attempt carries ``webhook-id`` (the delivery's message id, the same on every retry),
``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body`` with the endpoint's secret). Endpoint URLs pass the same
private-address guard as sources, when saved and when sent to.
"""

import base64
import secrets
from datetime import datetime
from typing import Annotated

import httpx
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from feedsvc.errors import N_, InvalidInput, NotFound, UnsafeURL
from feedsvc.models import Category, WebhookEndpoint
from feedsvc.notify.hub import hub_signature
from feedsvc.notify.rows import Attempt, AttemptResult, clean_keywords
from feedsvc.outbound import ANSWER_LIMIT, check_scheme, check_url, read_capped
from feedsvc.paging import Page, Position, keyset_page
from feedsvc.settings import Settings
from feedsvc.text import clean_line, iri_to_uri

Keyword = Annotated[str, Field(max_length=100)]


class EndpointFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    description: str | None = Field(None, max_length=500)
    categories: list[str] | None = Field(None, description="Category slugs; empty: all.")
    keywords: list[Keyword] | None = Field(
        None,
        max_length=50,
        description="Any of these words, kept as typed, matched with diacritics and case"
        " ignored; empty: all.",
    )
    enabled: bool | None = None


class EndpointCreate(EndpointFields):
    url: str = Field(max_length=2000)


class EndpointUpdate(EndpointFields):
    """Only the fields present are changed; enabling clears the failure streak."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _check_categories(session: Session, slugs: list[str]) -> list[str]:
    known = set(session.scalars(select(Category.slug)))
    unknown = sorted(set(slugs) - known)
    if unknown:
        raise InvalidInput(
            N_("Không có các chuyên mục: %(names)s"),
            {"categories": "%(names)s"},
            names=", ".join(unknown),
        )
    return sorted(set(slugs))


def add_endpoint(
    session: Session, data: EndpointCreate, settings: Settings, now: datetime
) -> WebhookEndpoint:
    url = iri_to_uri(data.url)
    check_url(url, settings.allow_private_urls)
    endpoint = WebhookEndpoint(
        url=url,
        description=clean_line(data.description or ""),
        secret=new_secret(),
        categories=_check_categories(session, data.categories or []),
        keywords=clean_keywords(data.keywords or []),
        enabled=data.enabled if data.enabled is not None else True,
        disabled_reason="",
        consecutive_failures=0,
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(N_("Không có webhook %(id)s"), id=endpoint_id)
    return endpoint


def update_endpoint(session: Session, endpoint_id: int, data: EndpointUpdate) -> WebhookEndpoint:
    endpoint = get_endpoint(session, endpoint_id)
    values = data.model_dump(exclude_unset=True)
    if values.get("description") is not None:
        endpoint.description = clean_line(values["description"])
    if values.get("categories") is not None:
        endpoint.categories = _check_categories(session, values["categories"])
    if values.get("keywords") is not None:
        endpoint.keywords = clean_keywords(values["keywords"])
    if values.get("enabled") is True:
        endpoint.enabled, endpoint.disabled_reason, endpoint.consecutive_failures = True, "", 0
    elif values.get("enabled") is False:
        endpoint.enabled, endpoint.disabled_reason = False, "paused by an admin"
    return endpoint


def page_endpoints(session: Session, position: Position, limit: int) -> Page[WebhookEndpoint]:
    """Newest first."""
    return keyset_page(session, select(WebhookEndpoint), (WebhookEndpoint.id,), position, limit)


def delete_endpoint(session: Session, endpoint_id: int) -> None:
    """Its pending deliveries go with it."""
    session.delete(get_endpoint(session, endpoint_id))


def signed_headers(
    attempt: Attempt, body: bytes, settings: Settings, now: datetime
) -> dict[str, str]:
    """The headers of a webhook (Standard Webhooks) or WebSub delivery, signatures included."""
    if attempt.kind == "webhook":  # Standard Webhooks
        return {
            "content-type": attempt.content_type,
            "webhook-id": attempt.message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(attempt.secret or "").sign(
                attempt.message_id, now, attempt.payload
            ),
        }
    headers = {  # a WebSub content distribution (§7)
        "content-type": attempt.content_type,
        "link": f'<{settings.websub_hub_url}>; rel="hub", <{attempt.topic}>; rel="self"',
    }
    if attempt.secret:
        headers["x-hub-signature"] = hub_signature(attempt.secret, body)
    return headers


def send_attempt(
    client: httpx.Client, settings: Settings, attempt: Attempt, now: datetime
) -> AttemptResult:
    """POST one delivery; any 2xx is delivered, everything else is an error to retry.

    The answer's body is read (up to ANSWER_LIMIT): only a response read to its end lets its
    keep-alive connection go back to the pool, else every delivery opens a new one.
    """
    body = attempt.payload.encode()
    headers = signed_headers(attempt, body, settings, now)
    try:
        check_scheme(attempt.url)  # the address is checked by the client, on every connection
        with client.stream("POST", attempt.url, content=body, headers=headers) as response:
            read_capped(response, ANSWER_LIMIT, decoded=False)
            if response.is_success:
                return AttemptResult(attempt, response.status_code, "")
            return AttemptResult(
                attempt,
                response.status_code,
                f"HTTP {response.status_code} {response.reason_phrase}",
            )
    except UnsafeURL as exc:
        return AttemptResult(attempt, None, str(exc))
    except httpx.HTTPError as exc:
        return AttemptResult(attempt, None, f"{type(exc).__name__}: {exc}")
