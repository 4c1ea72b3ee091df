"""Every route that changes something is protected, and a new one cannot slip through: the
URL map is enumerated and each such route must be classified here."""

import re

import pytest

from feedsvc.web.sessions import MACHINE_PATHS
from tests.admin_helpers import make_user, sign_in

TOKEN_BLUEPRINTS = {"api", "api_sources", "api_notify"}  # Authorization: Bearer
PROTOCOL_ENDPOINTS = {  # public by the protocol; each checks its own proof
    "hub.subscribe",  # WebSub: verified with the callback before it takes effect
    "websub_callback.verify",  # random key in the URL, pending topic only
    "websub_callback.distribute",  # HMAC signature with the secret we gave
    "subscribe.confirm_subscription",  # the signed token in the mail's link
    "subscribe.unsubscribe_address",  # the same; RFC 8058 one-click POSTs come without a form
}
FORM_BLUEPRINTS = {"subscribe"}  # CSRF token
ADMIN_BLUEPRINT = "admin"  # a signed-in session and a CSRF token
SIGNED_OUT_ADMIN = {"admin.auth.login_form", "admin.auth.login"}
PUBLIC_API_READS = {  # published content and the API's description, for aggregating portals
    "api.openapi",
    "api.categories",
    "api.articles",
    "api.article",
}


def _path(rule) -> str:  # type: ignore[no-untyped-def]
    """The rule's URL with every variable filled in."""
    return re.sub(
        r"<(?:[^:>]+:)?([^>]+)>", lambda m: "enable" if m[1] == "action" else "1", rule.rule
    )


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
            or blueprint == ADMIN_BLUEPRINT
        ), f"{rule.rule} ({rule.endpoint}) is not protected by a token, a protocol or CSRF"


def test_machine_facing_routes_are_where_no_session_is_opened(app):
    machine = TOKEN_BLUEPRINTS | {"feeds", "hub", "websub_callback"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in machine:
            assert rule.rule.startswith(MACHINE_PATHS), rule.rule


def test_form_routes_refuse_posts_without_csrf_token(client, writes):
    for rule in writes:
        if (
            rule.endpoint.split(".")[0] in FORM_BLUEPRINTS
            and rule.endpoint not in PROTOCOL_ENDPOINTS
        ):
            assert client.post(rule.rule, data={"email": "a@example.vn"}).status_code == 400


def test_every_admin_and_api_route_refuses_anonymous_requests(app, db):
    """Enumerates the URL map: a route added later is covered without editing this test."""
    anonymous = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/admin", "/api")) or rule.endpoint in SIGNED_OUT_ADMIN:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET" and rule.endpoint in PUBLIC_API_READS:
                continue
            answer = anonymous.open(_path(rule), method=method, data={})
            if rule.rule.startswith("/admin") and method == "GET":
                assert answer.status_code == 302, f"{method} {rule.rule}"
                assert answer.headers["Location"].startswith("/admin/login"), rule.rule
            else:
                assert answer.status_code == 401, f"{method} {rule.rule}"
            checked += 1
    assert checked > 40  # the admin UI and the token API are really in the map


def test_admin_forms_refuse_posts_without_csrf_token(app, db, writes):
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    for rule in writes:
        if rule.endpoint.split(".")[0] == ADMIN_BLUEPRINT:
            assert client.post(_path(rule), data={}).status_code == 400, rule.rule
