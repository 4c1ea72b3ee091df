"""Rate limits under real concurrency, and the client address they count by.

Many wrong logins at once, through a real threaded HTTP server (SQLite and PostgreSQL) and
through gunicorn with four worker processes (PostgreSQL): no more than ``login_failures`` of
them may reach the password check. Behind ``trusted_proxies`` the address comes from
X-Forwarded-For; without it that header changes nothing.
"""

import threading
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from feedsvc.errors import RateLimited
from feedsvc.models import RateEvent, RateKey
from feedsvc.ratelimit import KEEP, take
from feedsvc.settings import Settings
from feedsvc.web import create_app
from tests.admin_helpers import PASSWORD, csrf_of, make_user, sign_in
from tests.conftest import ROOT, free_port
from tests.test_processes import start, stop, wait_for

ATTEMPTS = 40


def wrong_logins_at_once(base_url: str, username: str) -> list[int]:
    """ATTEMPTS clients, each with its own cookie and CSRF token, post a wrong password at
    the same instant; their status codes."""
    clients = [httpx.Client(base_url=base_url, timeout=60) for _ in range(ATTEMPTS)]
    tokens = [csrf_of(client.get("/admin/login").content) for client in clients]
    start_together = threading.Barrier(ATTEMPTS)
    statuses: list[int] = []

    def attempt(client: httpx.Client, token: str) -> None:
        start_together.wait()
        answer = client.post(
            "/admin/login",
            data={"csrf_token": token, "username": username, "password": "sai mật khẩu"},
        )
        statuses.append(answer.status_code)

    threads = [
        threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    return statuses


def test_parallel_wrong_logins_reach_the_password_check_at_most_limit_times(live_server, db):
    make_user(db, "lan")
    statuses = wrong_logins_at_once(live_server.base_url, "lan")
    limit = live_server.settings.login_failures
    assert sorted(statuses) == [401] * limit + [429] * (ATTEMPTS - limit)
    with db.sessions() as session:  # each key counted exactly limit times
        counted = session.execute(
            select(RateEvent.key, func.count()).group_by(RateEvent.key).order_by(RateEvent.key)
        ).all()
    assert counted == [("login-ip:127.0.0.1", limit), ("login-user:lan", limit)]


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_gunicorn_workers_share_one_atomic_count(database_url, db, tmp_path):
    """Four worker processes with four threads each, one PostgreSQL database."""
    make_user(db, "lan")
    port = free_port()
    process = start(
        ["gunicorn", "--config", "config/gunicorn.conf.py", "feedsvc.web:create_app()"],
        {
            "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
            "FEEDSVC_DATABASE_URL": database_url,
            "FEEDSVC_BIND": f"127.0.0.1:{port}",
            "FEEDSVC_BASE_URL": f"http://127.0.0.1:{port}",
            "WEB_CONCURRENCY": "4",
        },
        tmp_path,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process, seconds=60)
        statuses = wrong_logins_at_once(f"http://127.0.0.1:{port}", "lan")
    finally:
        assert stop(process) == 0
    limit = Settings().login_failures
    assert sorted(statuses) == [401] * limit + [429] * (ATTEMPTS - limit)


def test_a_right_password_gives_its_attempt_back(app, db, settings):
    make_user(db, "lan")
    client = app.test_client()
    for _ in range(settings.login_failures - 1):
        assert sign_in(client, "lan", "sai mật khẩu").status_code == 401
    assert sign_in(client, "lan").status_code == 302
    assert sign_in(app.test_client(), "lan", "sai mật khẩu").status_code == 401  # the last one
    assert sign_in(app.test_client(), "lan").status_code == 429


def test_a_refused_key_counts_nothing_for_the_others_and_old_rows_are_dropped(db, now):
    window = timedelta(minutes=15)
    with db.sessions() as session:
        take(session, ["a"], 1, window, now - KEEP - timedelta(minutes=1), "no")  # long ago
        take(session, ["a"], 1, window, now, "no")
        with pytest.raises(RateLimited, match="no"):
            take(session, ["a", "b"], 1, window, now, "no")
        assert session.scalars(select(RateEvent.key)).all() == ["a"]  # the old one dropped
        take(session, ["b"], 1, window, now + KEEP + timedelta(minutes=1), "no")
        assert session.scalars(select(RateKey.key)).all() == ["b"]
        assert session.scalars(select(RateEvent.key)).all() == ["b"]


def forwarded_sign_in(app, username: str, forwarded_for: str, password: str = "sai"):  # type: ignore[no-untyped-def]
    """A login from behind the proxy at 10.0.0.2, which says who it was for."""
    client = app.test_client()
    token = csrf_of(client.get("/admin/login").data)
    return client.post(
        "/admin/login",
        data={"csrf_token": token, "username": username, "password": password},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app, db, settings):
    for n in range(settings.login_failures):  # other names, forged addresses: one peer
        forwarded_sign_in(app, f"user{n}", f"198.51.100.{n}")
    make_user(db, "lan")
    assert forwarded_sign_in(app, "lan", "198.51.100.200", PASSWORD).status_code == 429


def test_behind_a_trusted_proxy_each_client_is_limited_by_its_own_address(settings, db):
    app = create_app(settings.model_copy(update={"trusted_proxies": 1}))
    try:
        make_user(db, "lan")
        for n in range(settings.login_failures):
            assert forwarded_sign_in(app, f"user{n}", "198.51.100.1").status_code == 401
        assert forwarded_sign_in(app, "lan", "198.51.100.1", PASSWORD).status_code == 429
        # what the client wrote itself comes before what the proxy appended: not trusted
        forged = forwarded_sign_in(app, "lan", "198.51.100.2, 198.51.100.1", PASSWORD)
        assert forged.status_code == 429
        assert forwarded_sign_in(app, "lan", "198.51.100.2", PASSWORD).status_code == 302
    finally:
        app.extensions["feedsvc.db"].dispose()


def test_a_key_longer_than_its_column_is_counted_too(app, settings):
    """The user name is whatever the client sent; PostgreSQL would refuse it whole."""
    long_name = "a" * 5000
    client = app.test_client()
    for n in range(settings.login_failures):
        assert sign_in(client, long_name, "sai", ip=f"198.51.100.{n}").status_code == 401
    assert sign_in(client, long_name, "sai", ip="198.51.100.99").status_code == 429
    assert sign_in(client, "a" * 4999 + "b", "sai", ip="198.51.100.99").status_code == 401
