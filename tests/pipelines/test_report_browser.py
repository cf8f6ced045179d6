"""The run report in a real browser: headless Chromium opens a demo's page offline.

It checks what a reader would: the page loads with no console error, every chart drew its
data, and the audit log's filter works. Screenshots go under the test's run folder. Without a
Chromium (the Debian package, /usr/bin/chromium; `.ci/run` installs it) the test is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium

# One worker builds the session demo for every module of this group (tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("default-demo")]

RUN_CHARTS = ("pr_auc", "recall", "drift_share", "score_drift", "blocked", "champion")


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A fresh headless Chromium page (fresh profile), collecting console errors."""
    sync_api = require_chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            offline=True,
        )
        page = context.new_page()
        page.problems = []  # type: ignore[attr-defined]
        page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        page.on("requestfailed", lambda r: page.problems.append(f"request failed: {r.url}"))
        yield page
        context.close()


def test_the_demo_report_renders_offline_with_every_chart_drawn(
    default_demo: Path, browser_page: Any, tmp_path: Path
) -> None:
    page = browser_page
    index = default_demo / "demo" / "index.html"
    page.goto(index.as_uri(), wait_until="load")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page.screenshot(path=str(shots / "report-top.png"))
    page.screenshot(path=str(shots / "report-full.png"), full_page=True)
    assert page.problems == [], f"console errors or failed requests: {page.problems}"

    drawn = page.eval_on_selector_all(
        "svg[data-chart]",
        "els => Object.fromEntries(els.map(e => [e.dataset.chart, "
        "{points: +e.dataset.points, marks: e.querySelectorAll('polyline, rect, circle').length,"
        " width: e.getBoundingClientRect().width}]))",
    )
    for key in RUN_CHARTS:
        assert key in drawn, f"chart {key} is on the page: {sorted(drawn)}"
    for key, chart in drawn.items():
        assert chart["points"] > 0, f"chart {key} has no data: {chart}"
        assert chart["marks"] > 0, f"chart {key} drew nothing: {chart}"
        assert chart["width"] > 200, f"chart {key} is laid out: {chart}"
    assert any(k.startswith("calibration_v") for k in drawn), "a calibration curve per version"
    assert any(k.startswith("cost_v") for k in drawn), "a cost curve per version"
    markers = page.locator("svg[data-chart=champion] .marker")
    assert markers.count() >= 2, "the promotions are marked on the champion line"

    rows = page.locator("#audit tbody tr")
    visible = page.locator("#audit tbody tr:not([hidden])")
    routine_hidden = visible.count()
    assert 0 < routine_hidden < rows.count(), "routine records start hidden"
    page.select_option("#audit-kind", "promote")
    assert visible.count() >= 2, "the bootstrap promotion and the retrain's"
    assert all(k == "promote" for k in visible.evaluate_all("rs => rs.map(r => r.dataset.kind)"))
    page.select_option("#audit-kind", "")
    page.uncheck("#audit-routine")
    assert visible.count() == rows.count(), "every record once routine ones are shown"
    page.fill("#audit-q", "quarantine-nothing-matches-this")
    assert visible.count() == 0, "the text filter hides what does not match"
    page.fill("#audit-q", "")
    page.screenshot(path=str(shots / "audit-all.png"))
    assert page.problems == [], f"errors while filtering: {page.problems}"
