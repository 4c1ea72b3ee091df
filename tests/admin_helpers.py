"""Signing in to /admin from Flask's test client, the way a browser does."""

import re

from feedsvc.accounts import create_user
from feedsvc.db import Database
from feedsvc.text import utcnow

PASSWORD = "mật-khẩu-đủ-dài"


def make_user(db: Database, username: str, role: str = "admin") -> None:
    with db.transaction() as session:
        create_user(session, username, PASSWORD, role, utcnow())


def csrf_of(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]


def sign_in(client, username: str, password: str = PASSWORD, ip: str = "192.0.2.1"):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/admin/login").data)
    return client.post(
        "/admin/login",
        data={"csrf_token": token, "username": username, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def post(client, path: str, data: dict | None = None, page: str = "/admin/articles/"):  # type: ignore[no-untyped-def]
    """A form POST with the CSRF token of a page the user has open."""
    token = csrf_of(client.get(page).data)
    return client.post(path, data={"csrf_token": token, **(data or {})})
