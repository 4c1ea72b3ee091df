"""The `feedsvc` command, run in a subprocess against a real database."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect

from tests.conftest import ROOT


def feedsvc(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "FEEDSVC_DATABASE_URL": database_url,
        "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "feedsvc.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
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
    second = feedsvc("demo", database_url=fresh_sqlite)
    assert second.stdout.startswith("store is not empty")


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
