"""Run the app under gunicorn from Python, for `feedsvc serve`.

The container runs gunicorn directly with ``config/gunicorn.conf.py``; this is the same server
with the same app factory, started by the CLI so that one command serves and schedules.
"""

import errno
import socket
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from feedsvc.errors import ConfigurationError
from feedsvc.settings import Settings


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from feedsvc.web import create_app

        return create_app(self.settings)


def check_bind(bind: str) -> None:
    """Fail in one line, naming the setting, when the address cannot be listened on (gunicorn
    would retry for five seconds and end without a hint)."""
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
            probe.bind((host, int(port)))
    except (OSError, ValueError) as exc:
        reason = (
            "address already in use" if getattr(exc, "errno", None) == errno.EADDRINUSE else exc
        )
        raise ConfigurationError(
            f"cannot listen on {bind}: {reason}; choose another address with --bind or"
            " FEEDSVC_BIND (setting `bind`)"
        ) from exc


def run_gunicorn(
    settings: Settings,
    bind: str,
    on_worker_start: Callable[[], None],
    on_worker_exit: Callable[[], None],
) -> None:
    """Serve with one worker process, calling the hooks inside it (not in the master, which
    forks: a thread started there would be copied half-alive into the worker)."""
    _Gunicorn(
        settings,
        {
            "bind": bind,
            "workers": 1,
            "worker_class": "gthread",
            "threads": settings.web_threads,
            "accesslog": "-",
            "timeout": 30,
            "post_worker_init": lambda _worker: on_worker_start(),
            "worker_exit": lambda _server, _worker: on_worker_exit(),
        },
    ).run()
