"""The `feedsvc` command, run in a subprocess against a real database."""

import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect

from feedsvc.accounts import log_in
from feedsvc.db import create_database
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from tests.conftest import ROOT


def environment(database_url: str, **env: str) -> dict[str, str]:
    """Of a `feedsvc` subprocess: ``database_url``, no config file, FEEDSVC_* ``env``."""
    return {
        **os.environ,
        "FEEDSVC_DATABASE_URL": database_url,
        "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
        **env,
    }


def feedsvc(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", *args],
        capture_output=True,
        text=True,
        env=environment(database_url, **env),
        timeout=60,
        check=False,
    )


@pytest.fixture
def fresh_sqlite(tmp_path):
    return f"sqlite:///{tmp_path / 'instance' / 'feedsvc.db'}"


def test_upgrade_then_demo_loads_once(fresh_sqlite):
    upgraded = feedsvc("db", "upgrade", database_url=fresh_sqlite)
    assert upgraded.returncode == 0, upgraded.stderr
    engine = create_engine(fresh_sqlite)
    assert {"articles", "categories", "api_tokens"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    first = feedsvc("demo", database_url=fresh_sqlite)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("loaded 64 demo articles")
    password = re.search(r"user 'admin', password '([^']+)'", first.stdout).group(1)
    database = create_database(fresh_sqlite)
    with database.transaction() as session:
        assert log_in(session, Settings(), "admin", password, "127.0.0.1", utcnow())
    database.dispose()
    second = feedsvc("demo", database_url=fresh_sqlite)
    assert second.stdout.startswith("store is not empty")


def test_admin_create_then_the_account_signs_in(fresh_sqlite):
    feedsvc("db", "upgrade", database_url=fresh_sqlite)
    short = subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", "admin", "create", "lan", "--password-stdin"],
        input="ngan\n",
        capture_output=True,
        text=True,
        env={**os.environ, "FEEDSVC_DATABASE_URL": fresh_sqlite},
        check=False,
    )
    assert short.returncode == 1 and "password is too short" in short.stderr
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "feedsvc.cli",
            "admin",
            "create",
            "Lan",
            "--role",
            "editor",
            "--password-stdin",
        ],
        input="một mật khẩu dài\n",
        capture_output=True,
        text=True,
        env={**os.environ, "FEEDSVC_DATABASE_URL": fresh_sqlite},
        check=False,
    )
    assert made.returncode == 0 and "user lan (editor) created" in made.stdout, made.stderr
    database = create_database(fresh_sqlite)
    with database.transaction() as session:
        assert log_in(session, Settings(), "lan", "một mật khẩu dài", "127.0.0.1", utcnow())
    database.dispose()


def test_token_create_list_revoke(fresh_sqlite):
    feedsvc("db", "upgrade", database_url=fresh_sqlite)
    created = feedsvc("token", "create", "--name", "cms", database_url=fresh_sqlite)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("fsv_") and len(secret) > 40
    assert "not shown again" in created.stderr
    listed = feedsvc("token", "list", database_url=fresh_sqlite)
    assert "cms\tactive" in listed.stdout and secret not in listed.stdout
    assert feedsvc("token", "revoke", "1", database_url=fresh_sqlite).returncode == 0
    assert "revoked" in feedsvc("token", "list", database_url=fresh_sqlite).stdout
    missing = feedsvc("token", "revoke", "99", database_url=fresh_sqlite)
    assert missing.returncode == 1 and "no API token 99" in missing.stderr


def test_bad_input_and_bad_settings_exit_codes(fresh_sqlite):
    feedsvc("db", "upgrade", database_url=fresh_sqlite)
    empty_name = feedsvc("token", "create", "--name", "  ", database_url=fresh_sqlite)
    assert empty_name.returncode == 1 and "name: must not be empty" in empty_name.stderr
    bad = feedsvc("demo", database_url=fresh_sqlite, FEEDSVC_BASE_URL="not a url")
    assert bad.returncode == 78 and "base_url" in bad.stderr
    usage = feedsvc("token", "revoke", "abc", database_url=fresh_sqlite)
    assert usage.returncode == 2


OPML = """<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Nguồn</title></head><body>
<outline text="Kinh tế"><outline type="rss" text="Sở Tài chính" xmlUrl="{base}/a"/></outline>
<outline text="Khác"><outline type="rss" text="Huyện" xmlUrl="{base}/b"/>
<outline type="rss" text="Lỗi" xmlUrl="ftp://x/c"/></outline>
</body></opml>"""


def test_sources_add_list_fetch_and_opml(fresh_sqlite, tmp_path):
    from tests.upstream import Upstream

    allow = {"FEEDSVC_ALLOW_PRIVATE_URLS": "true"}
    feedsvc("db", "upgrade", database_url=fresh_sqlite)
    feedsvc("demo", database_url=fresh_sqlite)
    rss = (
        '<rss version="2.0"><channel><title>Sở Tài chính</title><link>http://x.vn/</link>'
        "<description>d</description><item><title>Ngân sách</title><guid>1</guid></item>"
        "</channel></rss>"
    )
    with Upstream() as upstream:
        upstream.serve("/a", rss)
        upstream.serve("/b", rss.replace("<guid>1", "<guid>2"))
        refused = feedsvc(
            "sources",
            "add",
            f"{upstream.base_url}/a",
            "--category",
            "kinh-te",
            database_url=fresh_sqlite,
        )
        assert refused.returncode == 1 and "non-public address" in refused.stderr
        opml = tmp_path / "nguon.opml"
        opml.write_text(OPML.format(base=upstream.base_url), encoding="utf-8")
        imported = feedsvc(
            "sources",
            "import-opml",
            str(opml),
            "--category",
            "y-te",
            database_url=fresh_sqlite,
            **allow,
        )
        assert imported.returncode == 1  # the ftp:// outline failed, with its reason
        assert imported.stdout.startswith("added 2, skipped 0 (known), failed 1")
        assert "ftp://x/c" in imported.stderr
        again = feedsvc(
            "sources",
            "import-opml",
            str(opml),
            "--category",
            "y-te",
            database_url=fresh_sqlite,
            **allow,
        )
        assert again.stdout.startswith("added 0, skipped 2 (known)")
        fetched = feedsvc("fetch", database_url=fresh_sqlite, **allow)
        assert fetched.returncode == 0, fetched.stderr
        assert fetched.stdout.splitlines() == [
            "1: HTTP 200, 1 new, 0 updated",
            "2: HTTP 200, 1 new, 0 updated",
        ]
        one = feedsvc("fetch", f"{upstream.base_url}/a", database_url=fresh_sqlite, **allow)
        assert one.stdout.strip() == "1: HTTP 200, 0 new, 0 updated"
    listed = feedsvc("sources", "list", database_url=fresh_sqlite).stdout
    assert "Sở Tài chính" in listed and "kinh-te, every 15 min, enabled" in listed
    assert "y-te" in listed  # "Khác" is not a category: the --category default
    assert "HTTP 200" in listed
    exported = feedsvc("sources", "export-opml", database_url=fresh_sqlite).stdout
    assert f'xmlUrl="{upstream.base_url}/a"' in exported and 'text="Kinh tế"' in exported
    down = feedsvc("fetch", "1", database_url=fresh_sqlite, **allow)  # upstream is gone now
    assert down.returncode == 1 and "FAILED" in down.stderr
    assert feedsvc("fetch", "99", database_url=fresh_sqlite).returncode == 1


def test_admin_ensure_makes_the_first_admin_from_a_file_once(fresh_sqlite, tmp_path):
    feedsvc("db", "upgrade", database_url=fresh_sqlite)
    missing = feedsvc(
        "admin", "ensure", "--password-file", str(tmp_path / "nothing"), database_url=fresh_sqlite
    )
    assert missing.returncode == 78
    assert missing.stderr == (
        f"feedsvc: cannot read the admin password file {tmp_path / 'nothing'}:"
        " No such file or directory\n"
    )
    secret = tmp_path / "admin_password"
    secret.write_text("một mật khẩu dài\r\n")
    made = feedsvc("admin", "ensure", "--password-file", str(secret), database_url=fresh_sqlite)
    assert made.returncode == 0, made.stderr
    assert made.stdout == "user admin (admin) created\n"
    secret.write_text("mật khẩu khác hẳn\n")
    again = feedsvc("admin", "ensure", "--password-file", str(secret), database_url=fresh_sqlite)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "an admin exists: none made\n"
    database = create_database(fresh_sqlite)
    with database.transaction() as session:
        assert log_in(session, Settings(), "admin", "một mật khẩu dài", "127.0.0.1", utcnow())
    database.dispose()
