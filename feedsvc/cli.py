"""The `feedsvc` command.

Exit codes: 0 success, 1 a refused operation (bad input, not found, conflict) or a failed
fetch, 2 usage error (click), 75 `fetch` skipped a source (held back, or being fetched by
another process: try again later), 78 unusable configuration.
"""

import random
import secrets
import signal
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import click
from pydantic import ValidationError
from sqlalchemy import make_url

from feedsvc.accounts import ROLES, create_user, ensure_admin, list_users
from feedsvc.backup import export_store, import_store
from feedsvc.categories import get_category
from feedsvc.db import Database, check_schema, create_database, upgrade_database
from feedsvc.demo import load_demo
from feedsvc.errors import ConfigurationError, FeedsvcError
from feedsvc.ingest.claims import SKIP_BUSY, SKIP_FRESH, SKIP_HELD
from feedsvc.ingest.parse_pool import ParserPool
from feedsvc.ingest.refresh import RefreshOutcome, Which, refresh_sources
from feedsvc.ingest.schedule import HOLD_REASONS, manual_fetch_hold
from feedsvc.log import configure_logging
from feedsvc.models import Source
from feedsvc.paging import Position, encode_cursor
from feedsvc.settings import Settings, load_settings, url_of_bind
from feedsvc.sources import (
    SOURCE_STATES,
    SourceCreate,
    add_source,
    find_source,
    import_outlines,
    list_sources,
    page_sources,
    read_opml,
    write_opml,
)
from feedsvc.text import format_local, utcnow
from feedsvc.tokens import create_token, list_tokens, revoke_token

EXIT_REFUSED = 1
EXIT_SKIPPED = 75  # EX_TEMPFAIL: `fetch` left a source for later
EXIT_CONFIG = 78


class _Context:
    """Settings and database, made on first use so `--help` needs neither."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._database: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self.load_settings()
        assert self._settings is not None
        return self._settings

    def load_settings(self, **overrides: Any) -> None:
        """Load the settings, with command-line values over the file and the environment."""
        self._settings = load_settings(**overrides)
        configure_logging(self._settings)

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = create_database(
                self.settings.database_url,
                sqlite_busy_timeout=self.settings.sqlite_busy_timeout,
                connect_timeout=self.settings.database_connect_timeout,
            )
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
    except ValidationError as exc:
        click.echo("feedsvc: invalid input", err=True)
        for error in exc.errors():
            click.echo(f"  {'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
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


@db.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8", atomic=True))
@pass_context
def db_export(ctx: _Context, file: TextIO) -> None:
    """Write a dump of the whole store to FILE ('-': standard output), JSON lines read from
    one snapshot: safe while the service runs, portable between SQLite and PostgreSQL."""
    with _errors_to_exit_codes():
        report = export_store(ctx.database, file)
    click.echo(
        f"exported {report.rows} rows of {report.tables} tables (schema {report.schema})", err=True
    )


@db.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@pass_context
def db_import(ctx: _Context, file: TextIO) -> None:
    """Restore a dump made by `db export` into a fresh database (run `db upgrade` first)."""
    with _errors_to_exit_codes():
        report = import_store(ctx.database, file)
    click.echo(f"imported {report.rows} rows of {report.tables} tables (schema {report.schema})")


def _load_demo(ctx: _Context) -> str | None:
    """Load the demo into an empty store, with an ``admin`` account when there is none;
    returns that account's password (None when no account was made)."""
    with ctx.database.transaction() as session:
        count = load_demo(session, ctx.settings.base_url, utcnow())
        password = secrets.token_urlsafe(12)
        account = bool(count) and not list_users(session)  # a way into /admin for the demo
        if account:
            create_user(session, "admin", password, "admin", utcnow())
    click.echo(f"loaded {count} demo articles" if count else "store is not empty: demo skipped")
    return password if account else None


def _admin_line(settings: Settings, password: str | None) -> str:
    if password is None:
        return f"{settings.base_url}/admin"
    return (
        f"{settings.base_url}/admin  user 'admin', password '{password}'"
        " (shown once; change it under Tài khoản / Users)"
    )


@main.command()
@pass_context
def demo(ctx: _Context) -> None:
    """Load the demo categories and articles into an empty store."""
    with _errors_to_exit_codes():
        password = _load_demo(ctx)
    if password is not None:
        click.echo(f"admin UI: {_admin_line(ctx.settings, password)}")


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


@main.group()
def admin() -> None:
    """Accounts of the admin UI (/admin)."""


@admin.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)
@pass_context
def admin_create(ctx: _Context, username: str, role: str, password_stdin: bool) -> None:
    """Make an admin UI account; the password is asked for twice (or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _errors_to_exit_codes(), ctx.database.transaction() as session:
        user = create_user(session, username, password, role, utcnow())
        click.echo(f"user {user.username} ({user.role}) created")


@admin.command("ensure")
@click.option(
    "--password-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the password (a Docker/Compose secret); one trailing newline is dropped.",
)
@click.option("--username", default="admin", show_default=True)
@pass_context
def admin_ensure(ctx: _Context, password_file: Path, username: str) -> None:
    """Make the first admin account unless an admin exists (the container's start-up)."""
    try:
        password = password_file.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        click.echo(
            f"feedsvc: cannot read the admin password file {password_file}: {reason}", err=True
        )
        sys.exit(EXIT_CONFIG)
    with _errors_to_exit_codes(), ctx.database.transaction() as session:
        user = ensure_admin(session, username, password, utcnow())
        click.echo(
            f"user {user.username} (admin) created" if user else "an admin exists: none made"
        )


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


@main.group()
def sources() -> None:
    """Upstream sources."""


@sources.command("add")
@click.argument("url")
@click.option("--category", required=True, help="Slug of the default category.")
@click.option("--interval", type=click.IntRange(1), help="Minutes between fetches.")
@click.option("--title", help="Name shown to admins (default: the feed's title).")
@click.option(
    "--keep-days",
    type=click.IntRange(1),
    help="Days its articles are kept after publication (default: for ever).",
)
@pass_context
def sources_add(
    ctx: _Context,
    url: str,
    category: str,
    interval: int | None,
    title: str | None,
    keep_days: int | None,
) -> None:
    """Add a source (it is first fetched within a tenth of its interval)."""
    with _errors_to_exit_codes(), ctx.database.transaction() as session:
        data = SourceCreate(
            url=url, category=category, interval_minutes=interval, title=title, keep_days=keep_days
        )
        source = add_source(session, data, ctx.settings, utcnow(), random.Random())
        click.echo(f"source {source.id} added: {source.url} -> {category}")


@sources.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--after", type=click.IntRange(0), default=0, help="Start after this source id.")
@click.option("--state", type=click.Choice(SOURCE_STATES), help="Only sources in this state.")
@click.option("--category", help="Only sources of this category (slug).")
@pass_context
def sources_list(
    ctx: _Context, limit: int, after: int, state: str | None, category: str | None
) -> None:
    """Sources with their health, in id order, LIMIT at a time (the next command is printed
    on stderr when there are more)."""
    with _errors_to_exit_codes(), ctx.database.transaction() as session:
        category_id = get_category(session, category).id if category else None
        position = Position(after=encode_cursor((after,)))
        page = page_sources(session, position, limit, state or "", category_id, "")
        # Nothing after the id gives the newest page instead: none of those is shown.
        shown = sorted((s for s in page.items if s.id > after), key=lambda s: s.id)
        for source in shown:
            for line in _source_lines(source):
                click.echo(line)
    if shown and page.newer:
        options = f" --limit {limit}" + (f" --state {state}" if state else "")
        options += f" --category {category}" if category else ""
        click.echo(f"more: feedsvc sources list --after {shown[-1].id}{options}", err=True)


def _source_lines(source: Source) -> list[str]:
    state = "enabled" if source.enabled else f"DISABLED ({source.disabled_reason})"
    last = (
        f"last fetch {format_local(source.last_fetch_at)} HTTP {source.last_status} "
        f"in {source.last_duration_ms} ms, {source.last_bytes} bytes, "
        f"{source.last_new} new, {source.last_updated} updated, {source.last_skipped} skipped"
        if source.last_fetch_at
        else "never fetched"
    )
    lines = [
        f"{source.id}\t{source.title or '-'}\t{source.url}",
        f"\t{source.category.slug}, every {source.interval_minutes} min, {state}",
        f"\t{last}; next {format_local(source.next_fetch_at)}",
    ]
    baseline = (
        f"baseline {format_local(source.baseline_at)}"
        if source.baseline_at
        else "no baseline yet (the next successful fetch announces nothing)"
    )
    lines.append(
        f"\t{baseline}; not announced: {source.unannounced_baseline} baseline,"
        f" {source.unannounced_old} old, {source.last_unannounced} in the last fetch"
    )
    if source.last_error:
        lines.append(f"\terror ({source.consecutive_failures} in a row): {source.last_error}")
    hold = manual_fetch_hold(source.hold_until, source.hold_reason, utcnow(), force=False)
    if hold and source.enabled:
        until, reason = format_local(hold.until), HOLD_REASONS[hold.reason]
        lines.append(f"\theld back until {until} ({reason}): `fetch` skips it without --force")
    if source.last_warning:
        lines.append(f"\twarning: {source.last_warning}")
    if source.websub_state:
        lines.append(
            f"\tWebSub {source.websub_state} at {source.websub_hub}"
            + (f": {source.websub_error}" if source.websub_error else "")
        )
    return lines


@sources.command("import-opml")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--category", required=True, help="Category of outlines not in a folder named like one of ours."
)
@pass_context
def sources_import_opml(ctx: _Context, file: BinaryIO, category: str) -> None:
    """Add every feed of an OPML file; existing URLs are skipped."""
    with _errors_to_exit_codes():
        outlines = read_opml(file.read())
        with click.progressbar(outlines, label="importing", file=sys.stderr) as bar:
            report = import_outlines(
                ctx.database, ctx.settings, bar, category, utcnow, random.Random()
            )
        click.echo(
            f"added {report.added}, skipped {report.skipped} (known), failed {len(report.failed)}"
        )
        for url, problem in report.failed:
            click.echo(f"  {url}: {problem}", err=True)
            for name, why in getattr(problem, "fields", {}).items():
                click.echo(f"    {name}: {why}", err=True)
        if report.failed:
            sys.exit(EXIT_REFUSED)


@sources.command("export-opml")
@pass_context
def sources_export_opml(ctx: _Context) -> None:
    """Print every source as OPML, in folders by category."""
    with ctx.database.transaction() as session:
        click.echo(write_opml(list_sources(session), ctx.settings.site_title).decode())


@main.command()
@click.argument("source", required=False)
@click.option(
    "--force", is_flag=True, help="Fetch also sources held back by Retry-After or backoff."
)
@pass_context
def fetch(ctx: _Context, source: str | None, force: bool) -> None:
    """Fetch SOURCE (number or URL) now, or every enabled source, the way the worker does
    (concurrently, one HTTP client, parsing in other processes); one line per source.

    A source that an upstream's Retry-After or the backoff after failures holds back is
    skipped, with the time until when, unless --force; so is one another process is
    fetching. Exit code: 0 every source fetched, 1 a fetch failed, 75 none failed but some
    were skipped.
    """
    with _errors_to_exit_codes():
        which: Which = "enabled"
        if source:
            with ctx.database.transaction() as session:
                which = find_source(session, source).id
        parsers = ParserPool(ctx.settings.parse_processes, ctx.settings.parse_recycle_bytes)
        with closing(parsers):
            outcomes = refresh_sources(
                ctx.database,
                ctx.settings,
                which,
                utcnow,
                random.Random(),
                parse=parsers.parse,
                force=force,
            )
    for outcome in sorted(outcomes, key=lambda o: o.source_id):
        click.echo(_outcome_line(outcome), err=bool(outcome.error))
    if any(o.error for o in outcomes):
        sys.exit(EXIT_REFUSED)
    if any(o.skipped in (SKIP_HELD, SKIP_BUSY) for o in outcomes):
        sys.exit(EXIT_SKIPPED)


def _outcome_line(outcome: RefreshOutcome) -> str:
    head = f"{outcome.source_id}: "
    if outcome.hold:
        until = format_local(outcome.hold.until)
        reason = HOLD_REASONS[outcome.hold.reason]
        return head + f"skipped: held back until {until} ({reason}); --force fetches it"
    if outcome.skipped == SKIP_BUSY:
        return head + "skipped: another process is fetching it right now"
    if outcome.skipped == SKIP_FRESH:
        return head + "skipped: another process fetched it meanwhile"
    if outcome.error:
        return head + f"FAILED: {outcome.error}"
    warning = f" (warning: {outcome.warning})" if outcome.warning else ""
    return (
        head + f"HTTP {outcome.status}, {len(outcome.new_ids)} new, "
        f"{outcome.updated} updated{warning}"
    )


def _start_block(settings: Settings, password: str | None) -> str:
    """What `make run` ends its start-up with: where to go, how to get in, where the data
    is, how to stop."""
    url = make_url(settings.database_url)
    data = (
        str(Path(url.database).resolve())
        if url.get_backend_name() == "sqlite" and url.database
        else url.render_as_string(hide_password=True)
    )
    return "\n".join(
        (
            "",
            "feedsvc is running",
            f"  site:   {settings.base_url}/",
            f"  admin:  {_admin_line(settings, password)}",
            f"  data:   {data}",
            "  stop:   Ctrl+C",
            "",
        )
    )


@main.command()
@click.option("--bind", help="host:port (default: the `bind` setting); base_url follows it.")
@click.option("--demo", "with_demo", is_flag=True, help="Load the demo into an empty store.")
@pass_context
def serve(ctx: _Context, bind: str | None, with_demo: bool) -> None:
    """Web server and scheduler in one process: the embedded default."""
    from feedsvc.scheduler import Jobs
    from feedsvc.web.server import check_bind, run_gunicorn

    with _errors_to_exit_codes():
        if bind:
            ctx.load_settings(bind=bind)
        settings = ctx.settings
        check_bind(settings.bind)
        password = _load_demo(ctx) if with_demo else None
        running: list[Jobs] = []

        def start_jobs() -> None:  # in the gunicorn worker, after its fork
            ctx.database.engine.dispose(close=False)  # pooled before the fork: the master's
            running.append(Jobs(settings, ctx.database))
            running[-1].start()
            click.echo(_start_block(settings, password), err=True)

        def stop_jobs() -> None:
            for jobs in running:
                jobs.stop()

        run_gunicorn(
            settings, bind or settings.bind, on_worker_start=start_jobs, on_worker_exit=stop_jobs
        )


@main.command()
@pass_context
def worker(ctx: _Context) -> None:
    """The scheduler alone (run any number of these beside gunicorn web processes)."""
    from feedsvc.scheduler import Jobs

    with _errors_to_exit_codes():
        check_schema(ctx.database)
        jobs = Jobs(ctx.settings, ctx.database)
        stopping = threading.Event()

        def stop(_signum: int, _frame: Any) -> None:
            stopping.set()  # only that: the main thread stops the jobs, outside the handler

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        jobs.run_until(stopping)


@main.command()
@click.option(
    "--database", "of_database", is_flag=True, help="Check the database instead (workers)."
)
@click.option("--timeout", type=click.FloatRange(0.1), default=4, show_default=True)
@pass_context
def healthcheck(ctx: _Context, of_database: bool, timeout: float) -> None:
    """Exit 0 if /healthz answers at the `bind` address (the image's HEALTHCHECK), or with
    --database if the database answers at this code's schema."""
    with _errors_to_exit_codes():
        if of_database:
            check_schema(ctx.database)
            click.echo("database: ok")
            return
        try:
            url = f"{url_of_bind(ctx.settings.bind)}/healthz"
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with direct.open(url, timeout=timeout) as response:
                response.read()
        except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
            click.echo(f"feedsvc: {url}: {exc}", err=True)
            sys.exit(EXIT_REFUSED)
        click.echo(f"{url}: ok")


if __name__ == "__main__":
    main()
