"""Run the app under gunicorn from Python, for `feedsvc serve`.

The container runs gunicorn directly with ``config/gunicorn.conf.py``; this is the same server
with the same app factory, started by the CLI so that one command serves and schedules.
"""

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from feedsvc.settings import Settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
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
