"""/docs in a real browser: headless Chromium renders Swagger UI from the server alone.

The app runs on a real socket (uvicorn in a thread) with a champion from the test registry.
Chromium opens /docs with every request outside loopback aborted: the operations list must
show the predict route, with no console error, no failed request and no request that left
127.0.0.1. The OpenAPI description shown there must carry no docstring markup. Without a
Chromium (the Debian package, /usr/bin/chromium; `.ci/run` installs it) the test is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from serving.app import create_app
from serving.runner import run_in_thread
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.serving.conftest import make_config

pytestmark = pytest.mark.e2e

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
#: Sphinx/reST roles and literals that mean a Python docstring leaked into the API description.
DOCSTRING_MARKUP = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj|ref):`|``[^`]+``")


@pytest.fixture
def docs_server(tmp_path: Path, contract: Any, registry: Any, model_name: str) -> Iterator[str]:
    """The serving app on a real loopback socket, champion loaded; yields its base URL."""
    config = make_config(tmp_path, contract, registry.tracking_uri, model_name)
    with run_in_thread(create_app(config)) as base_url:
        yield base_url


@pytest.fixture
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A fresh headless Chromium context (fresh profile) that aborts non-loopback requests.

    The context carries ``problems`` (console errors, page errors, failed requests) and
    ``outside`` (every URL the page tried to reach beyond loopback).
    """
    sync_api = require_chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.problems = []
        context.outside = []

        def route(route: Any) -> None:
            url = route.request.url
            if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOCAL_HOSTS:
                route.continue_()
            else:
                context.outside.append(url)
                route.abort()

        context.route("**/*", route)
        yield context
        context.close()


def rendered_operations(page: Any) -> Any:
    """Wait until Swagger UI drew the operations list, or fail with what it showed instead.

    Swagger UI before 5.0 cannot read the OpenAPI 3.1 that FastAPI writes: it shows "Unable to
    render this definition" and no operation at all.
    """
    page.wait_for_function(
        "() => document.querySelector('.opblock-summary-path')"
        " || document.body.innerText.includes('Unable to render')",
        timeout=30_000,
    )
    shown = page.locator("#swagger-ui").inner_text()
    assert "Unable to render this definition" not in shown, (
        "Swagger UI refused the OpenAPI document (a Swagger UI older than 5.0 cannot read "
        f"OpenAPI 3.1): {shown[:400]!r}"
    )
    predict = page.locator(".opblock-summary-path[data-path='/v1/predict']").first
    predict.wait_for(state="visible", timeout=30_000)
    return predict


def open_page(context: Any, url: str) -> Any:
    """A new page at ``url`` that records console errors and failed requests."""
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and context.problems.append(m.text))
    page.on("pageerror", lambda e: context.problems.append(str(e)))
    page.on("requestfailed", lambda r: context.problems.append(f"request failed: {r.url}"))
    page.goto(url, wait_until="networkidle")
    return page


def test_docs_render_swagger_ui_from_the_server_alone(
    docs_server: str, browser: Any, tmp_path: Path
) -> None:
    page = open_page(browser, f"{docs_server}/docs")
    page.screenshot(path=str(tmp_path / "docs-loaded.png"), full_page=True)
    rendered_operations(page)
    page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)

    paths = page.eval_on_selector_all(
        ".opblock-summary-path", "els => els.map(e => e.dataset.path || e.textContent)"
    )
    assert "/v1/predict" in paths, f"the operations list shows the predict route: {paths}"
    assert {"/v1/labels", "/v1/model"} <= set(paths), f"and the other routes: {paths}"
    title = page.locator(".information-container .title").first.inner_text()
    assert title.strip(), "the API's title is rendered"
    assert browser.outside == [], f"requests left loopback: {browser.outside}"
    assert browser.problems == [], f"console errors or failed requests: {browser.problems}"


def test_docs_operation_expands_with_its_schema(docs_server: str, browser: Any) -> None:
    page = open_page(browser, f"{docs_server}/docs")
    rendered_operations(page).click()
    page.locator(".opblock.is-open .opblock-body").first.wait_for(timeout=15_000)
    assert page.locator(".opblock.is-open .responses-wrapper").count() >= 1, "responses shown"
    assert browser.outside == [], f"requests left loopback: {browser.outside}"
    assert browser.problems == [], f"console errors or failed requests: {browser.problems}"


def markup_in(node: Any, where: str = "$") -> list[str]:
    """``path: text`` of every string in the OpenAPI document that holds docstring markup."""
    if isinstance(node, str):
        return [f"{where}: {node[:160]!r}"] if DOCSTRING_MARKUP.search(node) else []
    if isinstance(node, dict):
        return [hit for key, value in node.items() for hit in markup_in(value, f"{where}.{key}")]
    if isinstance(node, list):
        return [hit for i, value in enumerate(node) for hit in markup_in(value, f"{where}[{i}]")]
    return []


def test_openapi_text_carries_no_docstring_markup(docs_server: str) -> None:
    spec = httpx.get(f"{docs_server}/openapi.json", timeout=10).json()
    assert markup_in(spec) == [], "reST markup shown at /docs"
