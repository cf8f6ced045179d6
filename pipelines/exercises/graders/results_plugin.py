"""A pytest plugin that writes each grader test's outcome to ``$GRADER_RESULTS`` (JSON).

A test counts as passed only when its call passed and none of its phases failed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_OUTCOMES: dict[str, bool] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record the outcome of one phase of one test."""
    failed = report.failed or _OUTCOMES.get(report.nodeid) is False
    if report.when == "call":
        _OUTCOMES[report.nodeid] = report.passed and not failed
    elif failed or report.skipped:
        _OUTCOMES[report.nodeid] = False


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the outcomes collected in this session."""
    target = os.environ.get("GRADER_RESULTS")
    if target:
        Path(target).write_text(json.dumps(_OUTCOMES, sort_keys=True), encoding="utf-8")
