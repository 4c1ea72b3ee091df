"""Debian's headless Chromium for the browser tests: where it is, how it is started, and
whether its absence skips them (or fails them, with FEEDSVC_TEST_REQUIRE_BROWSER=1 in CI)."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING = "/usr/bin/chromium is not installed (apt-get install chromium chromium-driver)"
if not CHROMIUM.exists() and os.environ.get("FEEDSVC_TEST_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"FEEDSVC_TEST_REQUIRE_BROWSER=1 but {MISSING}")

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING)
