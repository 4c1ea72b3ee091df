"""One typed settings object.

Precedence, highest first: values passed to ``load_settings`` (tests, the CLI), ``FEEDSVC_*``
environment variables, the TOML file named by ``FEEDSVC_CONFIG`` (default
``config/feedsvc.toml`` in the working directory), then the defaults below. Every field is
documented with its default in ``config/feedsvc.toml``; ``tests/test_settings.py`` keeps the two
in step. Nothing here is read at import time.
"""

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from feedsvc.errors import ConfigurationError

DEFAULT_CONFIG_FILE = Path("config/feedsvc.toml")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _config_file() -> Path:
    return Path(os.environ.get("FEEDSVC_CONFIG", DEFAULT_CONFIG_FILE))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FEEDSVC_", extra="forbid", frozen=True)

    database_url: str = Field(
        "sqlite:///instance/feedsvc.db",
        description="SQLAlchemy URL of the store; relative SQLite paths are under the working dir.",
    )
    sqlite_busy_timeout: float = Field(
        10, gt=0, le=600, description="Seconds a SQLite write waits for another's lock."
    )
    database_connect_timeout: int = Field(
        5, ge=2, le=600, description="Seconds to reach a PostgreSQL server before giving up."
    )
    base_url: str = Field(
        "",
        description="Public URL used in every absolute link; empty: http:// + the bind address.",
    )
    hub_url: str = Field(
        "", description="WebSub hub advertised by every feed; empty means BASE_URL + '/hub'."
    )
    allow_private_urls: bool = Field(
        False, description="Allow source and callback URLs on private or loopback addresses."
    )
    site_title: str = Field("Cổng thông tin điện tử tỉnh", description="Portal name.")
    site_description: str = Field(
        "Tin tức, sự kiện của tỉnh", description="One line under the portal name."
    )
    feed_items: int = Field(50, ge=1, le=500, description="Items per feed page.")
    page_items: int = Field(20, ge=1, le=200, description="Items per HTML list page.")
    api_page_items: int = Field(50, ge=1, le=500, description="Default and maximum API page.")
    admin_page_items: int = Field(50, ge=1, le=500, description="Rows per admin list page.")
    feed_cache_bytes: int = Field(
        64 * 1024 * 1024, ge=0, description="Memory for built feeds, per process (0 = none)."
    )
    max_request_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="Largest accepted request body."
    )
    media_store: Literal["local"] = Field(
        "local", description="Where uploaded images are kept: `local` (a folder, media_dir)."
    )
    media_dir: str = Field(
        "instance/media", description="Folder of the local media store (relative: working dir)."
    )
    media_max_upload_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024, description="Largest image upload."
    )
    media_max_pixels: int = Field(
        40_000_000, ge=10_000, le=200_000_000, description="Most pixels of an uploaded image."
    )
    media_feed_width: int = Field(
        1200, ge=200, le=4000, description="Width of the image in feeds, pages and Open Graph."
    )
    media_thumbnail_width: int = Field(
        400, ge=50, le=2000, description="Width of the thumbnail of an uploaded image."
    )
    bind: str = Field("127.0.0.1:8000", description="Address `feedsvc serve` listens on.")
    web_threads: int = Field(4, ge=1, le=64, description="Threads of the `serve` web process.")
    log_level: LogLevel = Field("INFO", description="Python logging level.")
    log_format: Literal["text", "json"] = Field(
        "text", description="One line of text per record, or one JSON object (log collectors)."
    )
    log_levels: dict[str, LogLevel] = Field(
        {},
        description="Levels per area (logger name), over the quiet defaults of feedsvc.log.",
    )
    source_interval_minutes: int = Field(
        15, ge=1, le=7 * 24 * 60, description="Default polling interval of a new source."
    )
    fetch_connect_timeout: float = Field(10, gt=0, description="Seconds to connect upstream.")
    fetch_read_timeout: float = Field(20, gt=0, description="Seconds between bytes upstream.")
    fetch_total_timeout: float = Field(60, gt=0, description="Seconds for a whole fetch.")
    fetch_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest upstream body (decompressed)."
    )
    fetch_max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per fetch.")
    fetch_concurrency: int = Field(8, ge=1, le=100, description="Fetches at once per worker.")
    fetch_per_host: int = Field(2, ge=1, le=20, description="Fetches at once to one host.")
    parse_processes: int = Field(
        0, ge=0, le=64, description="Processes parsing feeds in a worker (0: one per CPU)."
    )
    parse_recycle_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        description="A parser process that read a larger document is replaced (memory returns).",
    )
    max_new_entries_per_fetch: int = Field(
        500, ge=1, description="New entries stored per fetch, the newest; the rest wait."
    )
    max_consecutive_failures: int = Field(
        10, ge=1, description="Failed fetches in a row before a source is disabled."
    )
    backoff_max_minutes: int = Field(
        24 * 60, ge=1, description="Longest wait after failures (backoff, Retry-After)."
    )
    websub_lease_seconds: int = Field(
        7 * 24 * 3600, ge=3600, description="Lease asked of upstream WebSub hubs."
    )
    websub_poll_minutes: int = Field(
        6 * 60, ge=1, description="Safety-net polling of a source pushed to us by WebSub."
    )
    delivery_max_attempts: int = Field(
        12, ge=1, le=100, description="Attempts before a delivery is dead-lettered."
    )
    delivery_backoff_max_minutes: int = Field(
        360, ge=1, description="Longest wait between two attempts of a delivery."
    )
    delivery_timeout: float = Field(
        10, gt=0, description="Seconds one call to a subscriber may take in all."
    )
    delivery_concurrency: int = Field(16, ge=1, le=200, description="Deliveries sent at once.")
    delivery_per_subscriber: int = Field(
        2,
        ge=1,
        le=50,
        description="Sends at once to one webhook endpoint, WebSub callback host, or SMTP server.",
    )
    breaker_timeouts: int = Field(
        5, ge=1, description="Attempts in a row without an answer before a subscriber is paused."
    )
    breaker_pause_seconds: int = Field(
        60, ge=1, description="First pause of a subscriber; doubled after each failed probe."
    )
    breaker_max_pause_seconds: int = Field(
        3600, ge=1, description="Longest pause of a subscriber that does not answer."
    )
    webhook_max_failures: int = Field(
        100, ge=1, description="Failed attempts in a row before an endpoint is disabled."
    )
    hub_lease_seconds: int = Field(
        10 * 24 * 3600, ge=3600, description="Lease of a WebSub subscription when none is asked."
    )
    hub_lease_min_seconds: int = Field(3600, ge=60, description="Shortest lease granted.")
    hub_lease_max_seconds: int = Field(
        30 * 24 * 3600, ge=3600, description="Longest lease granted."
    )
    hub_subscriptions_per_host: int = Field(
        100, ge=1, description="WebSub subscriptions (live or pending) per callback host."
    )
    hub_requests_per_hour: int = Field(
        20, ge=1, description="Requests to /hub per hour from one IP address."
    )
    announce_batch_size: int = Field(
        100, ge=1, le=1000, description="Articles per announce round (one WebSub push a topic)."
    )
    announce_max_age_hours: int = Field(
        48,
        ge=0,
        le=100 * 365 * 24,
        description="New articles dated longer ago than this are stored unannounced (0: no limit).",
    )
    mail_list_after: int = Field(
        5, ge=1, description="Beyond this many new articles in a round: one mail listing them."
    )
    mail_immediate_per_hour: int = Field(
        20, ge=1, description="Most announcement mails one subscriber gets in an hour."
    )
    secret_key: str = Field(
        "", description="Signs CSRF tokens and e-mail links; empty: a key kept in the database."
    )
    smtp_host: str = Field("localhost", description="SMTP server for e-mail.")
    smtp_port: int = Field(25, ge=1, le=65535, description="Its port.")
    smtp_username: str = Field("", description="SMTP login, if the server wants one.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    mail_from: str = Field(
        "Cổng thông tin điện tử tỉnh <no-reply@example.vn>", description="Sender of e-mail."
    )
    digest_time: str = Field(
        "07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Local time of daily digests."
    )
    subscribe_per_hour: int = Field(
        5, ge=1, description="Subscription requests per hour from one IP address."
    )
    admin_session_hours: int = Field(
        12, ge=1, le=24 * 30, description="How long an admin stays signed in."
    )
    trusted_proxies: int = Field(
        0,
        ge=0,
        le=10,
        description="Reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust.",
    )
    login_failures: int = Field(
        5, ge=1, description="Failed logins per 15 minutes for one user name or IP address."
    )
    notify_tick_seconds: int = Field(
        5, ge=1, le=3600, description="How often new articles and due deliveries are sent."
    )
    scheduler_tick_seconds: int = Field(
        30, ge=1, le=3600, description="How often the scheduler looks for due sources."
    )
    housekeeping_interval_minutes: int = Field(
        60, ge=1, le=7 * 24 * 60, description="How often old rows are removed (one worker a time)."
    )
    housekeeping_batch_size: int = Field(
        1000, ge=1, le=100_000, description="Rows removed per transaction by housekeeping."
    )
    keep_delivered_days: int = Field(
        14, ge=1, description="Days delivered deliveries (and their payloads) are kept."
    )
    keep_dead_days: int = Field(
        90, ge=1, description="Days dead letters are kept after their last attempt."
    )
    keep_ended_hub_subscriptions_days: int = Field(
        7, ge=1, description="Days WebSub subscriptions are kept after their lease ended."
    )
    keep_unconfirmed_email_days: int = Field(
        7, ge=3, description="Days an e-mail address waits for its confirmation (links last 3)."
    )
    keep_unsubscribed_email_days: int = Field(
        30, ge=0, description="Days an e-mail address is kept after it unsubscribed."
    )

    @model_validator(mode="before")
    @classmethod
    def _base_url_follows_bind(cls, data: Any) -> Any:
        """Without an explicit base_url, links point where `feedsvc serve` listens, so that
        changing the port is one setting (a proxy in front sets base_url)."""
        if isinstance(data, dict) and not data.get("base_url"):
            bind = data.get("bind") or cls.model_fields["bind"].default
            return {**data, "base_url": url_of_bind(bind)}
        return data

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_levels", mode="before")
    @classmethod
    def _upper_levels(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {area: cls._upper_level(level) for area, level in value.items()}
        return value

    @field_validator("base_url", "hub_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_config_file()),
        )

    @property
    def websub_hub_url(self) -> str:
        return self.hub_url or f"{self.base_url}/hub"

    @property
    def user_agent(self) -> str:
        """Sent with every upstream request, so publishers know who polls them."""
        from feedsvc import __version__

        return f"feedsvc/{__version__} (+{self.base_url})"


def url_of_bind(bind: str) -> str:
    """``http://host:port`` of a bind address; a wildcard host becomes the loopback one."""
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"bind {bind!r} is not host:port: set base_url explicitly")
    host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "::": "[::1]"}.get(host, host)
    return f"http://{host}:{port}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning a validation failure into one readable ConfigurationError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings ({_config_file()}): {problems}") from exc
