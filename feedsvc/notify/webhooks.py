"""Webhook endpoints: adding, changing, listing and deleting them (API and admin UI).

Endpoint URLs pass the same private-address guard as sources, when saved and when sent to.
What an endpoint is sent, and how it is signed, is the webhook channel's:
``channels.webhook``.
"""

import base64
import secrets
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.errors import N_, InvalidInput, NotFound
from feedsvc.models import Category, WebhookEndpoint
from feedsvc.notify.rows import clean_keywords
from feedsvc.outbound import check_url
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
