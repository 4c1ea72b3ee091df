"""The `feedsvc` command.

Exit codes: 0 success, 1 a refused operation (bad input, not found, conflict), 2 usage error
(click), 78 unusable configuration.
"""

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from feedsvc.db import Database, create_database, upgrade_database
from feedsvc.demo import load_demo
from feedsvc.errors import ConfigurationError, FeedsvcError
from feedsvc.log import configure_logging
from feedsvc.settings import Settings, load_settings
from feedsvc.text import format_local, utcnow
from feedsvc.tokens import create_token, list_tokens, revoke_token

EXIT_REFUSED = 1
EXIT_CONFIG = 78


class _Context:
    """Settings and database, made on first use so `--help` needs neither."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._database: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
            configure_logging(self._settings.log_level)
        return self._settings

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = create_database(self.settings.database_url)
        return self._database


pass_context = click.make_pass_decorator(_Context, ensure=True)


@contextmanager
def _errors_to_exit_codes() -> Iterator[None]:
    try:
        yield
    except ConfigurationError as exc:
        click.echo(f"feedsvc: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except FeedsvcError as exc:
        click.echo(f"feedsvc: {exc}", err=True)
        for field, problem in getattr(exc, "fields", {}).items():
            click.echo(f"  {field}: {problem}", err=True)
        sys.exit(EXIT_REFUSED)


@click.group()
@click.version_option(package_name="feedsvc")
def main() -> None:
    """feedsvc: article store, feeds, ingestion and notifications of a news portal."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: _Context) -> None:
    """Apply all migrations (creates the SQLite file if needed)."""
    with _errors_to_exit_codes():
        upgrade_database(ctx.settings)
    click.echo("database is up to date")


@main.command()
@pass_context
def demo(ctx: _Context) -> None:
    """Load the demo categories and articles into an empty store."""
    with _errors_to_exit_codes(), ctx.database.transaction() as session:
        count = load_demo(session, ctx.settings.base_url, utcnow())
    click.echo(f"loaded {count} demo articles" if count else "store is not empty: demo skipped")


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.option("--name", required=True, help="Who or what uses the token, e.g. 'cms'.")
@pass_context
def token_create(ctx: _Context, name: str) -> None:
    """Make a token; it is printed once and stored only as a hash."""
    with _errors_to_exit_codes(), ctx.database.transaction() as session:
        made, secret = create_token(session, name, utcnow())
        click.echo(f"token {made.id} ({made.name}); keep it now, it is not shown again:", err=True)
    click.echo(secret)


@token.command("list")
@pass_context
def token_list(ctx: _Context) -> None:
    """List tokens (never their values)."""
    with ctx.database.transaction() as session:
        for made in list_tokens(session):
            state = f"revoked {format_local(made.revoked_at)}" if made.revoked_at else "active"
            used = format_local(made.last_used_at) if made.last_used_at else "never"
            click.echo(f"{made.id}\t{made.name}\t{state}\tlast used {used}")


@token.command("revoke")
@click.argument("token_id", type=int)
@pass_context
def token_revoke(ctx: _Context, token_id: int) -> None:
    """Revoke a token by its number."""
    with _errors_to_exit_codes(), ctx.database.transaction() as session:
        revoke_token(session, token_id, utcnow())
    click.echo(f"token {token_id} revoked")


@main.command()
@click.option("--bind", help="host:port (default: the `bind` setting).")
@pass_context
def serve(ctx: _Context, bind: str | None) -> None:
    """Web server and scheduler in one process: the embedded default."""
    from feedsvc.scheduler import build_scheduler
    from feedsvc.web.server import run_gunicorn

    with _errors_to_exit_codes():
        settings = ctx.settings
        scheduler = build_scheduler(settings, ctx.database, blocking=False)

        def start_scheduler() -> None:
            ctx.database.engine.dispose(close=False)  # pooled before the fork: the master's
            scheduler.start()

        run_gunicorn(
            settings,
            bind or settings.bind,
            on_worker_start=start_scheduler,
            on_worker_exit=lambda: scheduler.shutdown(wait=True),
        )


@main.command()
@pass_context
def worker(ctx: _Context) -> None:
    """The scheduler alone (run any number of these beside gunicorn web processes)."""
    from feedsvc.scheduler import build_scheduler

    with _errors_to_exit_codes():
        scheduler = build_scheduler(ctx.settings, ctx.database, blocking=True)

        def stop(_signum: int, _frame: Any) -> None:
            scheduler.shutdown(wait=True)

        signal.signal(signal.SIGTERM, stop)
        scheduler.start()


if __name__ == "__main__":
    main()
