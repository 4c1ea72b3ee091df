"""Logging set-up shared by the web app and the CLI processes.

By default the log holds one line per meaningful event (a fetch that found something or
failed, a round of deliveries, a start or stop): the libraries' per-tick and per-request
chatter (APScheduler's "Running job …", httpx's every request) is raised to WARNING, and
``log_levels`` in settings sets any area's level ("feedsvc.ingest": "DEBUG" shows every fetch,
304s included). ``log_format = "json"`` writes one JSON object per line for log collectors.
"""

import logging
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import make_url

from feedsvc.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
JSON_FIELDS = ("levelname", "process", "name", "message")
# Areas whose INFO lines are per tick or per request, not per event.
QUIET_AREAS = {"apscheduler": "WARNING", "httpx": "WARNING", "httpcore": "WARNING"}


def _formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            list(JSON_FIELDS),
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601, UTC
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


class _RootHandler(logging.StreamHandler[TextIO]):
    """The handler configure_logging puts on the root logger, found again by its class."""


def configure_logging(settings: Settings) -> None:
    """Idempotent: one handler on the root logger (stderr), re-formatted and re-levelled on
    every call, so the web app and the CLI may both call it in one process."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _RootHandler)), None)
    if handler is None:
        handler = _RootHandler()
        root.addHandler(handler)
    handler.setFormatter(_formatter(settings.log_format))
    root.setLevel(settings.log_level)
    for area, level in {**QUIET_AREAS, **settings.log_levels}.items():
        logging.getLogger(area).setLevel(level)


def settings_summary(settings: Settings) -> str:
    """The settings an operator looks for in a start line (no password)."""
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    return (
        f"database {database}, base_url {settings.base_url}, fetch_concurrency "
        f"{settings.fetch_concurrency}, parse_processes {settings.parse_processes}, "
        f"delivery_concurrency {settings.delivery_concurrency}"
    )
