"""Headless Chromium for the browser tests: Debian's package, driven by Playwright.

``LIFECYCLE_CHROMIUM`` names another binary. `require_chromium` skips the calling test with the
reason when there is none (CI installs it, see ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

CHROMIUM = os.environ.get("LIFECYCLE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: The network is closed: without these Chromium stalls on its first-run and update calls.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> ModuleType:
    """``playwright.sync_api``, or skip the test when Chromium or Playwright is missing."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (CI does)")
    return pytest.importorskip("playwright.sync_api")
