"""The quarantined Data Docs page is readable offline: no remote script, stylesheet or image."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from data.batches import write_batches
from data.generator import generate
from features.contract import DatasetContract, load_contract
from features.data_docs import (
    OFFLINE_MARK,
    OFFLINE_NOTE,
    SITE_MARK,
    VENDOR_FOLDER,
    font_awesome_css,
    offline_page,
    offline_site,
)
from features.validation import DATA_DOCS_FILE, validate_pending_batches
from tests.browser import CHROMIUM, require_chromium

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


def test_font_awesome_is_inlined_with_only_the_icons_and_faces_the_page_uses() -> None:
    icons = '<i class="fas fa-check-circle text-success"></i><i class="fas fa-times"></i>'
    page = offline_page(_SAMPLE.replace("<body>", f"<body>{icons}"))
    assert not _REMOTE_LOAD.search(page), "nothing loads from the network"
    # FA5's names, which GX uses, are aliases in FA6's stylesheet.
    assert '.fa-check-circle:before,.fa-circle-check:before{content:"\\f058"}' in page
    assert ".fa-times:before" in page, "the used icons"
    assert ".fa-user:before" not in page, "only the used icons"
    assert page.count("data:font/woff2;base64,") == 1, "the solid face only, as a data: URL"
    assert offline_page(page) == page, "idempotent"
    assert "Font Awesome" not in offline_page(_SAMPLE), "no icon used: no stylesheet, no font"
    regular = font_awesome_css(frozenset({"far", "fa-circle"}))
    assert "font-weight:400;" in regular, "the regular face"
    assert "font-weight:900;" not in regular, "not the solid one"


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


# The icon of the first validation row, the rows shown: their number and those passed / failed.
_ICON_AND_ROWS = """async () => {
  await document.fonts.ready;
  const icon = document.querySelector("tbody .fa-check-circle, tbody .fa-times");
  const before = icon && getComputedStyle(icon, "::before");
  const rows = [...document.querySelectorAll("tbody tr")].filter(r => r.offsetParent !== null);
  return {
    fonts: [...document.fonts].filter(f => f.status === "loaded").map(f => f.family),
    check: document.fonts.check('900 1em "Font Awesome 6 Free"'),
    family: before ? before.fontFamily : "", glyph: before ? before.content : "",
    width: icon ? icon.getBoundingClientRect().width : 0,
    rows: [rows.length, rows.filter(r => r.querySelector(".fa-check-circle")).length,
           rows.filter(r => r.querySelector(".fa-times")).length],
  };
}"""


def _icons_and_failed_only(page: Any) -> tuple[dict[str, Any], list[int]]:
    """The icon and rows of a GX validation page, and the rows shown after "Failed Only"."""
    shown: dict[str, Any] = page.evaluate(_ICON_AND_ROWS)
    page.get_by_text("Failed Only").click()
    page.wait_for_function("() => !window.jQuery(':animated').length", timeout=5000)
    after: list[int] = page.evaluate(_ICON_AND_ROWS)["rows"]
    return shown, after


def _assert_icons_and_failed_only(shown: dict[str, Any], after: list[int]) -> None:
    assert "Font Awesome 6 Free" in shown["fonts"], f"the icon font loaded: {shown['fonts']}"
    assert shown["check"], "the solid face is ready"
    assert "Font Awesome" in shown["family"], f"the icon is drawn in FA: {shown['family']}"
    assert shown["glyph"] in ('"\uf058"', '"\uf00d"'), f"a check or cross: {shown['glyph']!r}"
    assert shown["width"] > 0, "the glyph takes space"
    rows, passed, failed = shown["rows"]
    assert passed > 0, f"passed rows: {shown['rows']}"
    assert failed > 0, f"failed rows: {shown['rows']}"
    assert after[1] == 0, f"Failed Only hides the passed rows: {after} of {shown['rows']}"
    assert 0 < after[0] < rows, f"and shows fewer rows: {after} of {shown['rows']}"
    assert after[2] == failed, "and keeps the failed ones"


def test_quarantined_page_loads_offline_in_chromium(quarantined_page: Path) -> None:
    """Headless Chromium, network off: no failed request, no console error, Bootstrap applied,
    the pass/fail icons drawn in Font Awesome and "Failed Only" hides the passed rows."""
    sync_api = require_chromium()
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
            page.goto(quarantined_page.as_uri())
            page.wait_for_load_state("load")
            font = page.evaluate("getComputedStyle(document.body).fontFamily")
            shown, after = _icons_and_failed_only(page)
        finally:
            browser.close()
    assert failed == [], "no request failed offline"
    assert errors == [], "no console error"
    assert "Segoe UI" in font, "Bootstrap's font stack applies: the page is styled"
    _assert_icons_and_failed_only(shown, after)


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
    icons = (site / VENDOR_FOLDER / "fontawesome.min.css").read_text()
    assert "src:url(fa-solid-900.woff2)" in icons, "the font beside the stylesheet"
    assert (site / VENDOR_FOLDER / "fa-solid-900.woff2").is_file(), "the solid font copied"
    assert "data:font" not in icons, "linked, not inlined"
    deep_page = (deep / "page.html").read_text()
    assert 'src="../../../../static/offline/jquery.min.js"' in deep_page, "relative to the page"
    assert "bootstrapTable" in deep_page, "the bootstrap-table stand-in follows jQuery"
    assert offline_site(site) == [], "a second pass changes nothing"
    single = offline_page(deep_page)
    assert not _REMOTE_ANY.search(single), "a site page still becomes a single offline file"
    assert "static/offline" not in single, "with every vendor file inlined"
    assert single.count(OFFLINE_NOTE) == 1, "the note once"


def test_a_site_page_rewritten_before_font_awesome_was_vendored_links_it(tmp_path: Path) -> None:
    site = tmp_path / "local_site"
    site.mkdir()
    raw = _SAMPLE.replace("<body>", '<body><i class="fas fa-times"></i>')
    (site / "index.html").write_text(raw)
    offline_site(site)
    current = (site / "index.html").read_text()
    link = re.search(r'<link [^>]*data-offline-asset="fontawesome.min.css">', current)
    assert link is not None, "Font Awesome linked from the vendor folder"
    url = "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css"
    old_note = OFFLINE_NOTE.replace("date picker and", "date picker, icons (Font Awesome) and")
    earlier = current.replace(link.group(0), f"<!-- not available offline: {url} -->")
    (site / "index.html").write_text(earlier.replace(OFFLINE_NOTE, old_note))
    assert offline_site(site) == [site / "index.html"], "the earlier page is updated"
    assert (site / "index.html").read_text() == current, "as if rewritten now"
    assert offline_site(site) == [], "once"


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
    """Network off: the index's table (filled by script) lists the runs, linked; no error. A run
    page draws its icons in Font Awesome and "Failed Only" hides its passed rows."""
    sync_api = require_chromium()
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
            # The blocked run's page (2026-01-03): passed and failed rows.
            run = next((link for link in links if "2026-01-03" in link), None)
            page.goto((built_site / run).as_uri() if run else "about:blank")
            page.wait_for_load_state("load")
            shown, after = _icons_and_failed_only(page) if run else ({}, [])
        finally:
            browser.close()
    assert failed == [], "no request failed offline"
    assert errors == [], "no console error"
    assert "Segoe UI" in font, "Bootstrap's font stack applies: the index is styled"
    assert len(links) >= 4, f"one linked row per validation run: {links}"
    assert run is not None, f"the blocked run is listed: {links}"
    _assert_icons_and_failed_only(shown, after)
