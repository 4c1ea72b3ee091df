"""Debian's headless Chromium for the browser tests: where it is, how it is started, and
whether its absence skips them (or fails them, with FEEDSVC_TEST_REQUIRE_BROWSER=1 in CI)."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium, started once per test module (the tests that use it need ``needs_chromium``)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()
