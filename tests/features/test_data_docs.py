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
from features.data_docs import (
    OFFLINE_MARK,
    OFFLINE_NOTE,
    SITE_MARK,
    VENDOR_FOLDER,
    offline_page,
    offline_site,
)
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
            page.on(
                "console",
                lambda m: errors.append(f"{m.text} at {m.location}") if m.type == "error" else None,
            )
            page.goto(quarantined_page.as_uri())
            page.wait_for_load_state("load")
            font = page.evaluate("getComputedStyle(document.body).fontFamily")
        finally:
            browser.close()
    assert failed == [], "no request failed offline"
    assert errors == [], "no console error"
    assert "Segoe UI" in font, "Bootstrap's font stack applies: the page is styled"


# --- the whole GX site (local_site), rewritten in place ------------------------------------

# Also a remote image in CSS (GX's footer logo is a background url).
_REMOTE_ANY = re.compile(_REMOTE_LOAD.pattern + r"""|url\(\s*["']?https?://""", re.I)
_VENDOR_REF = re.compile(r"""(?:src|href)="([^"]*static/offline/[^"]+)\"""")


def _site_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if VENDOR_FOLDER not in p.as_posix())


def _assert_site_offline(site: Path) -> None:
    pages = _site_pages(site)
    assert pages, f"no page under {site}"
    for path in pages:
        page = path.read_text()
        assert not _REMOTE_ANY.search(page), f"{path.relative_to(site)} loads from the network"
        assert page.startswith(SITE_MARK), f"{path.relative_to(site)} rewritten"
        refs = _VENDOR_REF.findall(page)
        assert refs, f"{path.relative_to(site)} links the vendor folder"
        for ref in refs:
            assert (path.parent / ref).resolve().is_file(), f"{ref} resolves from {path}"


def test_a_site_is_rewritten_in_place_with_one_vendor_folder(tmp_path: Path) -> None:
    site = tmp_path / "local_site"
    deep = site / "validations" / "suite" / "2026-01-03" / "run"
    deep.mkdir(parents=True)
    (site / "index.html").write_text(_SAMPLE)
    (deep / "page.html").write_text(
        _SAMPLE.replace("<body>", "<body style=\"background:url('https://s3.example/logo.png')\">")
    )
    rewritten = offline_site(site)
    assert sorted(rewritten) == _site_pages(site), "every page rewritten"
    _assert_site_offline(site)
    assert (site / VENDOR_FOLDER / "jquery.min.js").is_file(), "vendor folder written"
    deep_page = (deep / "page.html").read_text()
    assert 'src="../../../../static/offline/jquery.min.js"' in deep_page, "relative to the page"
    assert "bootstrapTable" in deep_page, "the bootstrap-table stand-in follows jQuery"
    assert offline_site(site) == [], "a second pass changes nothing"
    single = offline_page(deep_page)
    assert not _REMOTE_ANY.search(single), "a site page still becomes a single offline file"
    assert "static/offline" not in single, "with every vendor file inlined"
    assert single.count(OFFLINE_NOTE) == 1, "the note once"


@pytest.fixture(scope="module")
def built_site(quarantined_page: Path) -> Path:
    """The GX local_site that validating the fixture's batches built, made offline."""
    site = quarantined_page.parents[2] / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert (site / "index.html").is_file(), f"GX built its site at {site}"
    offline_site(site)
    return site


def test_no_page_of_the_built_site_loads_a_cdn_asset(built_site: Path) -> None:
    _assert_site_offline(built_site)
    assert len(_site_pages(built_site)) >= 4, "index, suite and the runs' pages"


def test_the_site_index_lists_every_run_offline_in_chromium(built_site: Path) -> None:
    """Network off: the index's table (filled by script) lists the runs, linked; no error."""
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
            page.on(
                "console",
                lambda m: errors.append(f"{m.text} at {m.location}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((built_site / "index.html").as_uri())
            page.wait_for_load_state("load")
            font = page.evaluate("getComputedStyle(document.body).fontFamily")
            links = page.eval_on_selector_all(
                "table a[href*='validations/']", "els => els.map(e => e.getAttribute('href'))"
            )
            page.goto((built_site / links[0]).as_uri() if links else "about:blank")
            page.wait_for_load_state("load")
        finally:
            browser.close()
    assert failed == [], "no request failed offline"
    assert errors == [], "no console error"
    assert "Segoe UI" in font, "Bootstrap's font stack applies: the index is styled"
    assert len(links) >= 4, f"one linked row per validation run: {links}"
