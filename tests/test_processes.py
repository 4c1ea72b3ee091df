"""The processes an operator runs: the container entrypoint (migrate, then gunicorn),
`feedsvc serve` (web and scheduler in one process) and `feedsvc worker`, each started for
real on 127.0.0.1 (the image itself cannot be built here: no Docker daemon)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from feedsvc.db import create_database, upgrade_database
from feedsvc.settings import Settings
from tests.conftest import ROOT, Store, free_port
from tests.ingest_helpers import Sources

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
        deadline = time.monotonic() + 20
        while sources.get(source_id).fetch_count == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
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
    deadline = time.monotonic() + 20
    while "jobs started" not in log.read_text() and time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    assert stop(process) == 0, log.read_text()
