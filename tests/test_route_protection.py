"""Every route that changes something is protected, and a new one cannot slip through: the
URL map is enumerated and each such route must be classified here."""

import pytest

from feedsvc.web.sessions import MACHINE_PATHS

TOKEN_BLUEPRINTS = {"api", "api_sources", "api_notify"}  # Authorization: Bearer
PROTOCOL_ENDPOINTS = {  # public by the protocol; each checks its own proof
    "hub.subscribe",  # WebSub: verified with the callback before it takes effect
    "websub_callback.verify",  # random key in the URL, pending topic only
    "websub_callback.distribute",  # HMAC signature with the secret we gave
    "subscribe.one_click_unsubscribe",  # RFC 8058: signed token in the URL
}
FORM_BLUEPRINTS = {"subscribe"}  # CSRF token


@pytest.fixture
def writes(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
    ]


def test_every_writing_route_is_classified(writes):
    for rule in writes:
        blueprint = rule.endpoint.split(".")[0]
        assert (
            blueprint in TOKEN_BLUEPRINTS
            or rule.endpoint in PROTOCOL_ENDPOINTS
            or blueprint in FORM_BLUEPRINTS
        ), f"{rule.rule} ({rule.endpoint}) is not protected by a token, a protocol or CSRF"


def test_machine_facing_routes_are_where_no_session_is_opened(app):
    machine = TOKEN_BLUEPRINTS | {"feeds", "hub", "websub_callback"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in machine:
            assert rule.rule.startswith(MACHINE_PATHS), rule.rule


def test_token_routes_refuse_anonymous_writes(client, writes):
    for rule in writes:
        if rule.endpoint.split(".")[0] not in TOKEN_BLUEPRINTS:
            continue
        path = rule.rule.replace("<int:", "<").replace("<article_id>", "1")
        for name in ("source_id", "endpoint_id", "delivery_id", "article_id"):
            path = path.replace(f"<{name}>", "1")
        for method in rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            response = client.open(path, method=method, json={})
            assert response.status_code == 401, f"{method} {path}"


def test_form_routes_refuse_posts_without_csrf_token(client, writes):
    for rule in writes:
        if (
            rule.endpoint.split(".")[0] in FORM_BLUEPRINTS
            and rule.endpoint not in PROTOCOL_ENDPOINTS
        ):
            assert client.post(rule.rule, data={"email": "a@example.vn"}).status_code == 400
