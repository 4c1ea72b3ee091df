"""Property-based fuzzing: every operation of /api/v1/openapi.json, and hostile values on the
HTML routes and forms, on SQLite and PostgreSQL. Input never makes a 500 (issue 10).

The API is driven by its own OpenAPI document (schemathesis): valid and invalid requests per
operation, sent in-process to the WSGI app with a valid bearer token so writes run too; any
5xx, or a status or content type the document does not list for that operation, fails. The
runs are derandomised (the same examples on every run) and bounded.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from feedsvc.db import Database
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from feedsvc.tokens import create_token
from feedsvc.web import create_app
from feedsvc.web.openapi import openapi_document
from tests.admin_helpers import csrf_of
from tests.conftest import BASE_URL, Store

# Sources and webhooks fetched or previewed during the run go here: nothing listens on the
# discard port of the loopback, so a fetch fails at once and no traffic leaves the machine.
LOOPBACK_URL = "http://127.0.0.1:9/feed.xml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def fuzzed_app(notify_settings: Settings, db: Database, store: Store) -> Iterator[Flask]:
    """The app with two categories and an article; private URLs allowed (all on loopback)."""
    store.category("Thời sự")
    store.category("Kinh tế")
    store.article("thoi-su", "Tin đầu tiên")
    flask_app = create_app(notify_settings)
    yield flask_app
    flask_app.extensions["feedsvc.db"].dispose()


@pytest.fixture
def bearer(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return {"Authorization": f"Bearer {create_token(session, 'fuzz', utcnow())[1]}"}


# Built from the same function that serves /api/v1/openapi.json, so the operations are known
# when the tests are collected (one test per operation, mode and database).
DOCUMENT = openapi_document(BASE_URL)
# A body over FEEDSVC_MAX_REQUEST_BYTES is refused with 413 before it is read: a rejection.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", "404", "405", "409", "413", "422"]
            }
        }
    }
)
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}
# Invalid requests can be made only for operations that take something (path, query, body).
TAKING_INPUT = {
    f"{method.upper()} {path}"
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method != "parameters"
    and (item.get("parameters") or operation.get("parameters") or operation.get("requestBody"))
}
CASES = [
    (label, mode)
    for label in sorted(OPERATIONS)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or label in TAKING_INPUT
]


def _keep_on_loopback(body: Any) -> None:
    """A generated http(s) URL that the app would fetch becomes LOOPBACK_URL."""
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        return
    try:
        scheme = urlsplit(body["url"]).scheme.lower()
    except ValueError:
        return
    if scheme in ("http", "https"):
        body["url"] = LOOPBACK_URL


def test_the_document_served_is_the_one_fuzzed(client: FlaskClient) -> None:
    assert client.get("/api/v1/openapi.json").get_json() == DOCUMENT


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{op} {m.value}" for op, m in CASES])
def test_every_api_operation_keeps_its_contract(
    fuzzed_app: Flask, bearer: dict[str, str], label: str, mode: GenerationMode
) -> None:
    @settings(
        max_examples=15,  # per mode: 30 requests per operation
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode))
    def call(case: Case) -> None:
        _keep_on_loopback(case.body)
        case.call_and_validate(app=fuzzed_app, headers=bearer, checks=CHECKS)

    call()


# Raw (already percent-encoded) values a hostile client puts into URLs and forms.
HOSTILE_VALUES = [
    "1180591620717411303424",
    "9" * 5000,
    str(2**31),
    "0",
    "-1",
    "%C2%B2",  # ² : isdigit() but not int()
    "%D9%A1%D9%A2",  # Arabic-Indic digits
    "%00",
    "a%00b",
    "%0D%0ASet-Cookie:%20x=1",
    "%ED%A0%80",  # a UTF-8-encoded lone surrogate
    "%FF%FE",  # not UTF-8
    "%EF%BF%BF",  # U+FFFF
    "x" * 20_000,
    "..%2F..%2Fetc%2Fpasswd",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%2F%2Fevil.example",
]
HTML_ROUTES = [
    "/?page={v}",
    "/c/{v}",
    "/c/kinh-te?page={v}",
    "/articles/{v}",
    "/articles/{v}/tin",
    "/articles/{id}/{v}",
    "/feeds/{v}.rss",
    "/feeds/kinh-te.{v}",
    "/feeds/kinh-te.atom?page={v}",
    "/feeds/kinh-te.rss?q={v}&page=2",
    "/feeds/all.json?q={v}&page={v}",
    "/feeds.opml?format={v}",
    "/subscribe?categories={v}",
    "/subscribe/confirm/{v}",
    "/unsubscribe/{v}",
    "/websub/{id}/{v}?hub.mode=subscribe&hub.lease_seconds={v}&hub.challenge={v}",
    "/admin/login?next={v}",
    "/admin/login?next=/admin/{v}",
    "/admin/articles/{v}",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda v: v[:24])
def test_html_routes_answer_hostile_values_without_a_5xx(
    client: FlaskClient, store: Store, value: str
) -> None:
    store.category("Kinh tế")
    article = store.article("kinh-te", "Tin")
    for route in HTML_ROUTES:
        url = route.format(v=value, id=article.id)
        # Feeds answer browsers (text/html first) with a page: both ways are tried there.
        for accept in ("*/*", "text/html") if url.startswith("/feeds/") else ("*/*",):
            response = client.get(url, headers={"Accept": accept})
            assert response.status_code < 500, (url[:200], response.status_code)
            assert "x=1" not in response.headers.get("Set-Cookie", ""), url[:200]
            assert "\n" not in response.headers.get("Location", ""), url[:200]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda v: v[:24])
def test_forms_answer_hostile_values_without_a_5xx(
    client: FlaskClient, store: Store, value: str
) -> None:
    store.category("Kinh tế")
    decoded = unquote(value)
    hub_fields = ("hub.mode", "hub.topic", "hub.callback", "hub.lease_seconds", "hub.secret")
    for field in hub_fields:
        form = {
            "hub.mode": "subscribe",
            "hub.topic": f"{BASE_URL}/feeds/kinh-te.rss",
            "hub.callback": LOOPBACK_URL,
            field: decoded,
        }
        response = client.post("/hub", data=form)
        assert response.status_code in (202, 400), (field, response.data[:200])
    token = csrf_of(client.get("/subscribe").data)
    for field in ("email", "categories", "keywords", "frequency"):
        form = {"csrf_token": token, "email": "ban.doc@example.vn", field: decoded}
        response = client.post("/subscribe", data=form)
        assert response.status_code < 500, (field, response.data[:200])
    token = csrf_of(client.get("/admin/login").data)
    form = {"csrf_token": token, "username": decoded, "password": decoded, "next": decoded}
    response = client.post("/admin/login", data=form)  # one try: each costs a password hash
    assert response.status_code in (401, 422), response.data[:200]  # 422: a NUL
