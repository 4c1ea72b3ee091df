"""Property-based fuzzing: every operation of /api/v1/openapi.json, and hostile values on the
HTML routes, on SQLite and PostgreSQL. Input never makes a 500 (issue 10).

The API is driven by its own OpenAPI document (schemathesis): valid and invalid requests per
operation, sent in-process to the WSGI app with a valid bearer token so writes run too; any
5xx, or a status or content type the document does not list for that operation, fails. The
runs are derandomised (the same examples on every run) and bounded.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

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
        max_examples=30,
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
