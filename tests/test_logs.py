"""The log an operator reads: one line per event, no per-tick lines, JSON on request."""

import json
import signal
import time

import pytest

from feedsvc.db import schema_head, upgrade_database
from feedsvc.settings import Settings
from tests.conftest import ROOT
from tests.test_processes import BIN, start, started
from tests.waiting import wait_until


def _run_worker_for_ticks(tmp_path, **env: str) -> str:
    """A `feedsvc worker` on an empty store through several ticks of every job, then SIGTERM;
    its whole output."""
    database_url = f"sqlite:///{tmp_path / 'feedsvc.db'}"
    upgrade_database(Settings(database_url=database_url))
    process = start(
        [str(BIN / "feedsvc"), "worker"],
        {
            "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
            "FEEDSVC_DATABASE_URL": database_url,
            "FEEDSVC_NOTIFY_TICK_SECONDS": "1",
            "FEEDSVC_SCHEDULER_TICK_SECONDS": "1",
            **env,
        },
        tmp_path,
    )
    log = tmp_path / "process.log"
    wait_until(lambda: started(process, log), 20, every=0.1)
    time.sleep(3)  # three ticks of every job
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0, log.read_text()
    return log.read_text()


@pytest.mark.slow
def test_idle_worker_writes_start_and_stop_and_nothing_per_tick(tmp_path):
    output = _run_worker_for_ticks(tmp_path)
    lines = output.splitlines()
    assert len(lines) == 2, output
    assert "feedsvc.scheduler: jobs started: database sqlite:///" in lines[0]
    assert "fetch_concurrency 8" in lines[0]
    assert "feedsvc.scheduler: jobs stopped" in lines[1]


@pytest.mark.slow
def test_json_format_and_levels_per_area(tmp_path):
    output = _run_worker_for_ticks(
        tmp_path, FEEDSVC_LOG_FORMAT="json", FEEDSVC_LOG_LEVELS='{"apscheduler": "INFO"}'
    )
    records = [json.loads(line) for line in output.splitlines()]  # every line is one object
    assert {"time", "level", "process", "logger", "message"} <= set(records[0])
    loggers = {record["logger"] for record in records}
    assert "feedsvc.scheduler" in loggers
    # Asked for: APScheduler's lines of every tick.
    assert any(record["message"].startswith("Running job") for record in records)


@pytest.mark.slow
def test_a_worker_on_an_unmigrated_database_says_so_once(tmp_path):
    process = start(
        [str(BIN / "feedsvc"), "worker"],
        {
            "FEEDSVC_CONFIG": str(ROOT / "tests" / "no-config.toml"),
            "FEEDSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        },
        tmp_path,
    )
    assert process.wait(timeout=20) == 78
    output = (tmp_path / "process.log").read_text()
    head = schema_head()
    assert output == (
        f"feedsvc: the database schema is at nothing, this feedsvc needs {head}: run `feedsvc db"
        " upgrade`\n"
    )
