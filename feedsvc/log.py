"""Logging set-up shared by the web app and the CLI processes."""

import logging

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Idempotent: the first call configures the root logger, later calls only set the level."""
    logging.basicConfig(level=level.upper(), format=FORMAT)
    logging.getLogger().setLevel(level.upper())
    # httpx logs every request at INFO; the refresh logs a summary per batch instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
