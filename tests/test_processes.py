"""The processes an operator runs: the container entrypoint (migrate, then gunicorn),
`feedsvc serve` (web and scheduler in one process) and `feedsvc worker`, each started for
real on 127.0.0.1 (the image itself cannot be built here: no Docker daemon)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from feedsvc.accounts import log_in
from feedsvc.db import create_database, upgrade_database
from feedsvc.settings import Settings
from feedsvc.text import utcnow
from tests.conftest import ROOT, Store, free_port
from tests.ingest_helpers import Sources
from tests.waiting import wait_until

RSS = (
    '<rss version="2.0"><channel><title>Huyện</title><link>http://h.vn/</link>'
    "<description>d</description><item><title>Tin từ huyện</title><guid>1</guid></item>"
    "</channel></rss>"
)

BIN = Path(sys.executable).parent


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> bytes:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):  # still starting
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def start(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.Popen[bytes]:
    with (tmp_path / "process.log").open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            args,
            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def started(process: subprocess.Popen[bytes], log: Path) -> bool:
    """Whether the process's jobs have started; it must still run while they have not."""
    if "jobs started" in log.read_text():
        return True
    assert process.poll() is None, log.read_text()
    return False


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


@pytest.mark.slow
def test_entrypoint_migrates_then_serves_with_gunicorn(tmp_path):
    port = free_port()
    database = tmp_path / "data" / "feedsvc.db"
    process = start(
        [
            "sh",
            "docker/entrypoint.sh",
            "gunicorn",
            "--config",
            "config/gunicorn.conf.py",
            "feedsvc.web:create_app()",
        ],
        {
            "FEEDSVC_CONFIG": str(ROOT / "config" / "feedsvc.toml"),
            "FEEDSVC_DATABASE_URL": f"sqlite:///{database}",
            "FEEDSVC_BIND": f"127.0.0.1:{port}",
            "FEEDSVC_BASE_URL": f"http://127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
        },
        tmp_path,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz", process) == b'{"status":"ok"}\n'
        feed = wait_for(f"http://127.0.0.1:{port}/feeds/all.atom", process)
        assert b"<feed" in feed
    finally:
        assert stop(process) == 0
    log = (tmp_path / "process.log").read_text()
    assert "database is up to date" in log
    assert log.index("database is up to date") < log.index("Booting worker")


@pytest.mark.slow
def test_serve_runs_web_and_scheduler_in_one_process(tmp_path, upstream):
    """One process serves pages and, through its scheduler, fetches a due source."""
    port = free_port()
    database = f"sqlite:///{tmp_path / 'feedsvc.db'}"
    env = {
        "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
        "FEEDSVC_DATABASE_URL": database,
        "FEEDSVC_ALLOW_PRIVATE_URLS": "true",
        "FEEDSVC_SCHEDULER_TICK_SECONDS": "1",
    }
    settings = Settings(database_url=database, allow_private_urls=True)
    upgrade_database(settings)
    db = create_database(database)
    Store(db, settings).category("Thời sự")
    sources = Sources(db, settings)
    feed_url = upstream.serve("/f", RSS)
    source_id = sources.add(feed_url)
    sources.make_due(source_id, sources.get(source_id).created_at)
    process = start([str(BIN / "feedsvc"), "serve", "--bind", f"127.0.0.1:{port}"], env, tmp_path)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert b"<html" in wait_for(f"http://127.0.0.1:{port}/", process)
        # No base_url set: every link follows the address given to --bind.
        self_link = f'<atom:link href="http://127.0.0.1:{port}/feeds/thoi-su.rss" rel="self"'
        assert self_link.encode() in wait_for(f"http://127.0.0.1:{port}/feeds/thoi-su.rss", process)
        wait_until(lambda: sources.get(source_id).fetch_count > 0, 20, every=0.2)
        assert sources.get(source_id).fetch_count == 1, (tmp_path / "process.log").read_text()
        assert b"Tin t\xe1\xbb\xab huy\xe1\xbb\x87n" in wait_for(
            f"http://127.0.0.1:{port}/feeds/thoi-su.rss", process
        )
    finally:
        stop(process)
        db.dispose()
    log = (tmp_path / "process.log").read_text()
    assert "jobs started" in log
    assert "feedsvc is running" in log
    assert f"  site:   http://127.0.0.1:{port}/" in log
    assert f"  data:   {tmp_path / 'feedsvc.db'}" in log
    assert f"source {source_id} fetched <{feed_url}>: HTTP 200, 1 new" in log


@pytest.mark.slow
def test_a_busy_port_is_one_line_naming_the_setting(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
            "FEEDSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'feedsvc.db'}",
            "FEEDSVC_BIND": f"127.0.0.1:{port}",
        }
        process = start([str(BIN / "feedsvc"), "serve"], env, tmp_path)
        assert process.wait(timeout=20) == 78
    output = (tmp_path / "process.log").read_text().strip()
    assert output == (
        f"feedsvc: cannot listen on 127.0.0.1:{port}: address already in use; choose another"
        " address with --bind or FEEDSVC_BIND (setting `bind`)"
    )


@pytest.mark.slow
def test_worker_runs_until_sigterm(tmp_path):
    database = f"sqlite:///{tmp_path / 'feedsvc.db'}"
    upgrade_database(Settings(database_url=database))
    env = {
        "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
        "FEEDSVC_DATABASE_URL": database,
    }
    process = start([str(BIN / "feedsvc"), "worker"], env, tmp_path)
    log = tmp_path / "process.log"
    wait_until(lambda: started(process, log), 20, every=0.1)
    assert stop(process) == 0, log.read_text()


def dockerfile_instruction(name: str) -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    (line,) = re.findall(rf"^{name} (.*)$", text, re.MULTILINE)
    return json.loads(line[line.index("[") :])  # type: ignore[no-any-return]


@pytest.mark.slow
def test_the_image_command_alone_serves_fetches_and_makes_the_first_admin(tmp_path, upstream):
    """The image's entrypoint with its default CMD and HEALTHCHECK, as `docker run IMAGE` runs
    them: one process on a SQLite volume serves, fetches, and made the admin from a secret."""
    port = free_port()
    database = f"sqlite:///{tmp_path / 'data' / 'feedsvc.db'}"
    secret = tmp_path / "admin_password"
    secret.write_text("một mật khẩu dài\n")
    env = {
        "FEEDSVC_CONFIG": str(ROOT / "config" / "feedsvc.toml"),
        "FEEDSVC_DATABASE_URL": database,
        "FEEDSVC_BIND": f"0.0.0.0:{port}",  # as in the image
        "FEEDSVC_ADMIN_PASSWORD_FILE": str(secret),
        "FEEDSVC_ALLOW_PRIVATE_URLS": "true",
        "FEEDSVC_SCHEDULER_TICK_SECONDS": "1",
    }
    command = ["sh", "docker/entrypoint.sh", *dockerfile_instruction("CMD")]
    process = start(command, env, tmp_path)
    settings = Settings(database_url=database, allow_private_urls=True)
    db = create_database(database)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process, 90)  # migrates first
        checked = subprocess.run(
            dockerfile_instruction("HEALTHCHECK"),
            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout == f"http://127.0.0.1:{port}/healthz: ok\n"
        with db.transaction() as session:
            assert log_in(session, settings, "admin", "một mật khẩu dài", "127.0.0.1", utcnow())
        Store(db, settings).category("Thời sự")
        sources = Sources(db, settings)
        source_id = sources.add(upstream.serve("/f", RSS))
        sources.make_due(source_id, sources.get(source_id).created_at)
        assert wait_until(lambda: sources.get(source_id).fetch_count == 1, 30)
    finally:
        assert stop(process) == 0
        db.dispose()
    log = (tmp_path / "process.log").read_text()
    assert "user admin (admin) created" in log
    assert "mật khẩu" not in log
    assert log.index("database is up to date") < log.index("user admin") < log.index("Booting")


def test_the_healthcheck_fails_when_nothing_answers(tmp_path):
    env = {
        "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
        "FEEDSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'feedsvc.db'}",
        "FEEDSVC_BIND": f"0.0.0.0:{free_port()}",
    }
    checked = subprocess.run(
        [str(BIN / "feedsvc"), "healthcheck"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 1
    assert "Connection refused" in checked.stderr
    database = subprocess.run(
        [str(BIN / "feedsvc"), "healthcheck", "--database"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert database.returncode == 78
    assert "run `feedsvc db upgrade`" in database.stderr
