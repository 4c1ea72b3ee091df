"""The OpenAPI 3.1 document of /api/v1, with request schemas taken from the pydantic models."""

from typing import Any

from feedsvc import __version__
from feedsvc.articles import ArticleCreate, ArticleUpdate
from feedsvc.categories import CategoryCreate
from feedsvc.notify.webhooks import EndpointCreate, EndpointUpdate
from feedsvc.sources import SourceCreate, SourceUpdate

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(name: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


_WRITE_ERRORS = {
    "401": _json(ERROR, "No valid bearer token."),
    "422": _json(ERROR, "Invalid input; `fields` maps each field to its problem."),
}
_ARTICLE = {"$ref": "#/components/schemas/Article"}
_ID = {"name": "article_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_SOURCE_ID = {"name": "source_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TOKEN: list[dict[str, list[str]]] = [{"bearer": []}]
_SOURCE = {
    "description": "A source with its `health`, `announcements` (its baseline and the new"
    " entries stored without announcement, by reason) and `totals`."
}
_PAGED = "newest first; `?limit=`, and `?cursor=` the `next_cursor` of the page before"
_PAGE = {"description": "`items`, `next_cursor` (null on the last page), `next` (its URL)."}


def _secured(summary: str, responses: dict[str, Any], body: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": _TOKEN,
        "responses": {**responses, "401": _WRITE_ERRORS["401"]},
    }
    if body:
        operation["requestBody"] = _body(body)
        operation["responses"]["422"] = _WRITE_ERRORS["422"]
    return operation


_SOURCE_PATHS = {
    "/sources": {
        "get": _secured(
            f"Sources with their health, {_PAGED}; `?state=active|failing|paused`.",
            {"200": _PAGE},
        ),
        "post": _secured(
            "Add a source (private addresses refused unless allowed).",
            {
                "201": _SOURCE,
                "404": _json(ERROR, "Unknown category."),
                "409": {"description": "URL exists already."},
            },
            "SourceCreate",
        ),
    },
    "/sources/{source_id}": {
        "parameters": [_SOURCE_ID],
        "get": _secured("One source.", {"200": _SOURCE, "404": {"description": "Unknown."}}),
        "patch": _secured(
            "Change, pause (enabled=false) or resume.", {"200": _SOURCE}, "SourceUpdate"
        ),
        "delete": _secured("Delete; its articles stay.", {"204": {"description": "Deleted."}}),
    },
    "/sources/{source_id}/fetch": {
        "parameters": [
            _SOURCE_ID,
            {
                "name": "force",
                "in": "query",
                "description": "Fetch also a source held back by Retry-After or backoff.",
                "schema": {"type": "boolean", "default": False},
            },
        ],
        "post": _secured(
            "Fetch now, due or not; answers with the outcome and the source.",
            {
                "200": {"description": "`outcome`, `source`."},
                "409": {
                    "description": "Being fetched right now; or held back by the upstream's"
                    " Retry-After or by backoff after failures, until `held_until`"
                    " (`hold_reason`: `retry_after` or `backoff`) unless `force=true`."
                },
            },
        ),
    },
    "/sources/preview": {
        "post": {
            **_secured(
                "What a feed URL would bring in, without saving anything.",
                {
                    "200": {"description": "`title`, `format`, `warning`, `entries`."},
                    "422": _json(ERROR, "Not a feed, or a refused URL."),
                    "502": _json(ERROR, "The upstream server could not be fetched."),
                },
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["url"],
                            "properties": {
                                "url": {"type": "string"},
                                "category": {"type": "string"},
                                "category_map": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        }
                    }
                },
            },
        },
    },
}


_WEBHOOK = {"description": "An endpoint (its `secret` only when created)."}
_NOTIFY_PATHS = {
    "/webhooks": {
        "get": _secured(f"Webhook endpoints, {_PAGED}.", {"200": _PAGE}),
        "post": _secured(
            "Add an endpoint; the answer holds its signing secret (Standard Webhooks).",
            {"201": _WEBHOOK},
            "WebhookCreate",
        ),
    },
    "/webhooks/{endpoint_id}": {
        "parameters": [
            {"name": "endpoint_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "get": _secured("One endpoint.", {"200": _WEBHOOK, "404": {"description": "Unknown."}}),
        "patch": _secured("Change, pause or resume.", {"200": _WEBHOOK}, "WebhookUpdate"),
        "delete": _secured(
            "Delete, with its pending deliveries.", {"204": {"description": "Deleted."}}
        ),
    },
    "/deliveries": {
        "get": _secured(
            f"Deliveries, {_PAGED}; `?state=pending|failing|delivered|dead`.",
            {"200": _PAGE},
        ),
    },
    "/deliveries/{delivery_id}/retry": {
        "parameters": [
            {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "post": _secured(
            "Send a dead-lettered delivery again now (same message id).",
            {"200": {"description": "The delivery."}, "409": {"description": "Delivered already."}},
        ),
    },
}


_NOT_FOUND = _json(ERROR, "No such id (or the path names something that does not exist).")
_UNREADABLE = _json(ERROR, "The body is not JSON (or is nested too deeply to read).")
_TOO_LARGE = _json(ERROR, "The body is larger than FEEDSVC_MAX_REQUEST_BYTES.")
_INVALID = _json(ERROR, "Invalid input; `fields` maps each field (or parameter) to its problem.")
METHODS = ("get", "post", "put", "patch", "delete")


def _with_common_errors(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation lists the errors every route can answer: 404 where the path holds an
    id, 400, 413 and 422 where there is a body, 422 where there are query parameters (a value
    such as a NUL is refused); nothing else answers 5xx for what a client sends."""
    for path, item in paths.items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation["responses"]
            if "{" in path:
                responses.setdefault("404", _NOT_FOUND)
            if "requestBody" in operation:
                responses.setdefault("400", _UNREADABLE)
                responses.setdefault("413", _TOO_LARGE)
                responses.setdefault("422", _INVALID)
            if "{" in path or operation.get("parameters"):
                responses.setdefault("422", _INVALID)
    return paths


def openapi_document(base_url: str) -> dict[str, Any]:
    def query(name: str, description: str, **schema: Any) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "description": description,
            "schema": schema or {"type": "string"},
        }

    return {
        "openapi": "3.1.0",
        "info": {"title": "feedsvc API", "version": __version__},
        "servers": [{"url": f"{base_url}/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ArticleCreate": ArticleCreate.model_json_schema(),
                "ArticleUpdate": ArticleUpdate.model_json_schema(),
                "CategoryCreate": CategoryCreate.model_json_schema(),
                "SourceCreate": SourceCreate.model_json_schema(),
                "SourceUpdate": SourceUpdate.model_json_schema(),
                "WebhookCreate": EndpointCreate.model_json_schema(),
                "WebhookUpdate": EndpointUpdate.model_json_schema(),
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "required": ["error"],
                },
                "Article": {
                    "type": "object",
                    "description": (
                        "As written, plus id, guid, url, origin, dates in +07:00;"
                        " summary_derived: the summary was derived from the body."
                    ),
                    "properties": {
                        name: {"type": kind}
                        for name, kind in {
                            "id": "integer",
                            "guid": "string",
                            "external_id": ["string", "null"],
                            "category": "string",
                            "title": "string",
                            "summary": "string",
                            "summary_derived": "boolean",
                            "body_html": "string",
                            "author": "string",
                            "image_url": ["string", "null"],
                            "image_type": ["string", "null"],
                            "image_length": ["integer", "null"],
                            "url": "string",
                            "origin": "string",
                            "published_at": "string",
                            "updated_at": "string",
                        }.items()
                    },
                },
            },
        },
        "paths": _with_common_errors(
            {
                **_SOURCE_PATHS,
                **_NOTIFY_PATHS,
                "/categories": {
                    "get": {
                        "summary": "List categories with their feed URLs.",
                        "responses": {"200": {"description": "`items`: the categories."}},
                    },
                    "post": {
                        "summary": "Create a category.",
                        "security": [{"bearer": []}],
                        "requestBody": _body("CategoryCreate"),
                        "responses": {
                            "201": {"description": "Created."},
                            "409": _json(ERROR, "Slug taken."),
                            **_WRITE_ERRORS,
                        },
                    },
                },
                "/articles": {
                    "get": {
                        "summary": "Visible articles, newest first, with cursor paging.",
                        "parameters": [
                            query("category", "Category slug."),
                            query(
                                "since",
                                "ISO 8601; articles changed at or after it.",
                                type="string",
                                format="date-time",
                            ),
                            query(
                                "q",
                                "A phrase: its words as whole words, one after the other;"
                                " diacritics and case are ignored, no operators.",
                            ),
                            query("cursor", "`next_cursor` of the previous page."),
                            query("limit", "Page size (capped).", type="integer", minimum=1),
                        ],
                        "responses": {
                            "200": {
                                "description": "`items`, `next_cursor` (null on the last page)."
                            },
                            "404": _json(ERROR, "Unknown category."),
                            "422": _json(ERROR, "Invalid parameter."),
                        },
                    },
                    "post": {
                        "summary": "Create an article; idempotent on `external_id`.",
                        "security": [{"bearer": []}],
                        "requestBody": _body("ArticleCreate"),
                        "responses": {
                            "201": _json(_ARTICLE, "Created."),
                            "200": _json(_ARTICLE, "An article with this external_id existed."),
                            "404": _json(ERROR, "Unknown category."),
                            **_WRITE_ERRORS,
                        },
                    },
                },
                "/articles/{article_id}": {
                    "parameters": [_ID],
                    "get": {
                        "summary": "One article (scheduled ones only with a token).",
                        "responses": {
                            "200": _json(_ARTICLE, "The article."),
                            "404": _json(ERROR, "Unknown or not yet published."),
                        },
                    },
                    "patch": {
                        "summary": "Change the fields given.",
                        "security": [{"bearer": []}],
                        "requestBody": _body("ArticleUpdate"),
                        "responses": {
                            "200": _json(_ARTICLE, "Updated."),
                            "404": _json(ERROR, "Unknown."),
                            **_WRITE_ERRORS,
                        },
                    },
                    "delete": {
                        "summary": "Delete an article.",
                        "security": [{"bearer": []}],
                        "responses": {
                            "204": {"description": "Deleted."},
                            "404": _json(ERROR, "Unknown."),
                            "401": _WRITE_ERRORS["401"],
                        },
                    },
                },
            }
        ),
    }
