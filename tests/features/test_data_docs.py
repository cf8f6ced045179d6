"""The quarantined Data Docs page is readable offline: no remote script, stylesheet or image."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from data.batches import write_batches
from data.generator import generate
from features.contract import DatasetContract, load_contract
from features.data_docs import OFFLINE_MARK, OFFLINE_NOTE, offline_page
from features.validation import DATA_DOCS_FILE, validate_pending_batches

CHROMIUM = os.environ.get("LIFECYCLE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

# A src or href to http(s) on a tag that loads something (not <a>: a link loads nothing).
_REMOTE_LOAD = re.compile(
    r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)\s*=\s*["']https?://""", re.I
)

_SAMPLE = """<!DOCTYPE html><html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css">
<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css">
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js"></script>
</head><body><img src="https://example.s3.amazonaws.com/logo.png" alt="Great Expectations">
<a href="https://docs.greatexpectations.io">docs</a><table><tr><td>row</td></tr></table>
</body></html>"""


def test_remote_assets_are_inlined_or_dropped_and_links_kept() -> None:
    page = offline_page(_SAMPLE)
    assert not _REMOTE_LOAD.search(page), "nothing loads from the network"
    assert ".btn{" in page or ".btn {" in page, "Bootstrap CSS inlined"
    assert "jQuery" in page, "jQuery inlined"
    assert '<a href="https://docs.greatexpectations.io">' in page, "links kept"
    assert "<span>Great Expectations</span>" in page, "remote image becomes its alt text"
    assert OFFLINE_NOTE in page, "note added"
    assert "<td>row</td>" in page, "content kept"
    assert offline_page(page) == page, "idempotent"


@pytest.fixture(scope="module")
def quarantined_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The GX Data Docs page of a blocked batch (2026-01-03 in cents), as quarantine has it."""
    home = tmp_path_factory.mktemp("home")
    contract: DatasetContract = load_contract(
        Path(__file__).resolve().parents[2] / "data" / "contracts" / "card_fraud.yaml"
    )
    write_batches(generate("quality_incident", 4, 5), home / "raw")
    validate_pending_batches(
        home / "raw", home / "validated", home / "quarantine", home / "gx", contract
    )
    return home / "quarantine" / "2026-01-03" / DATA_DOCS_FILE


def test_quarantined_data_docs_page_loads_nothing_remote(quarantined_page: Path) -> None:
    page = quarantined_page.read_text()
    assert page.startswith(OFFLINE_MARK), "the GX page, rewritten"
    assert not _REMOTE_LOAD.search(page), "no remote script, stylesheet or image"
    assert "<style>" in page, "CSS inlined in the single file"
    assert "<script>" in page, "JS inlined in the single file"


def test_quarantined_page_loads_offline_in_chromium(quarantined_page: Path) -> None:
    """Headless Chromium, network off: no failed request, no console error, Bootstrap applied."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    failed: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_context(offline=True).new_page()
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(quarantined_page.as_uri())
            page.wait_for_load_state("load")
            font = page.evaluate("getComputedStyle(document.body).fontFamily")
        finally:
            browser.close()
    assert failed == [], "no request failed offline"
    assert errors == [], "no console error"
    assert "Segoe UI" in font, "Bootstrap's font stack applies: the page is styled"
