"""Schemathesis fuzzes the live API against its own OpenAPI spec, with every check it has.

A real uvicorn server (:func:`serving.runner.run_in_thread`) serves the champion of the session's
SQLite MLflow registry with the default serving settings. ``st run --checks all`` loads the spec
from the server's ``/openapi.json`` and sends the spec's examples, coverage cases (boundaries,
missing fields, wrong types, undeclared methods) and Hypothesis-generated valid and invalid
requests to every operation. Any failed check fails the test: a 5xx; a status code, body, header
or content type the spec does not declare; invalid data accepted or valid data refused; an
operation that ignores its API key. The failure message is schemathesis' report, with a ``curl``
command reproducing each failure. The server's own request counter must show no 5xx either.

Two runs: one with an API key (schemathesis sends it where the spec asks for it, and checks that
a request without it, or with a wrong one, is refused), one without.

``FUZZ_CASES`` is the number of test cases of both runs together (default 300, three quarters
with the key); the test fails if fewer ran. The coverage phase alone sends about 400, so the
default run sends more. ``FUZZ_SEED`` picks other cases (default fixed: reruns send the same).

One rule of the API cannot be written in JSON Schema, so the spec only states it in words: event
and label times must lie within a window around the server's clock (422 outside). The fuzzer is
told the window: its ``date-time`` values lie inside it, and a valid request must then pass.
That is why ``st run`` runs in this process (the strategy is registered here), and the window's
edges are tested in ``test_api_edges.py`` instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.cli import schemathesis as schemathesis_cli
from schemathesis.specs.openapi import unregister_string_format

from features.contract import DatasetContract
from serving.app import TimeWindow, create_app
from serving.auth import API_KEY_HEADER
from serving.model_store import utc_now
from serving.runner import run_in_thread
from tests.serving.conftest import Registry, make_config

CASES_ENV = "FUZZ_CASES"
SEED_ENV = "FUZZ_SEED"
DEFAULT_CASES = 300
DEFAULT_SEED = 20260101
#: The name FastAPI gives the API-key security scheme in the spec (see serving/auth.py).
SECURITY_SCHEME = "APIKeyHeader"
#: Fuzzing-only rounds (a new seed each) allowed after the first run while cases are missing.
TOP_UP_ROUNDS = 3
ALL_PHASES = "examples,coverage,fuzzing,stateful"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@dataclass(frozen=True)
class Access:
    """How a fuzzed server is guarded, and its share of the ``FUZZ_CASES`` budget."""

    name: str
    api_key: str | None
    share: float


WITH_KEY = Access("api-key", "fuzz-api-key-0123456789", share=0.75)
OPEN = Access("open", None, share=0.25)


@dataclass(frozen=True)
class LiveApi:
    """A running server: where it listens, its key, and its event-time window."""

    base_url: str
    api_key: str | None
    window: TimeWindow


def requested_cases() -> int:
    """``FUZZ_CASES`` (the total of both runs), or the default."""
    raw = os.environ.get(CASES_ENV, str(DEFAULT_CASES))
    if not raw.strip().isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"{CASES_ENV} must be a positive whole number, got {raw!r}")
    return int(raw)


def cases_for(access: Access) -> int:
    """This run's part of the total: the open run takes its share, the keyed run the rest."""
    total = requested_cases()
    open_cases = max(1, round(total * OPEN.share))
    return open_cases if access is OPEN else max(1, total - open_cases)


def fuzz_seed() -> int:
    """``FUZZ_SEED``, or the fixed default."""
    raw = os.environ.get(SEED_ENV, str(DEFAULT_SEED))
    if not raw.strip().isdigit():
        raise pytest.UsageError(f"{SEED_ENV} must be a whole number, got {raw!r}")
    return int(raw)


def rfc3339(value: dt.datetime) -> str:
    """An aware datetime as RFC 3339 text, ``Z`` for UTC."""
    text = value.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def times_in_window(window: TimeWindow, now: dt.datetime) -> st.SearchStrategy[str]:
    """RFC 3339 date-times the server accepts: inside ``window`` around ``now``, any UTC offset.

    A day is kept clear of each edge: an offset moves the instant by less than a day, and the
    server's clock moves on while the fuzzer runs.
    """
    earliest, latest = window.bounds(now)
    margin = dt.timedelta(days=1)
    offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
        lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
    )
    return st.datetimes(
        min_value=earliest + margin, max_value=latest - margin, timezones=offsets
    ).map(rfc3339)


@contextlib.contextmanager
def date_times_inside(window: TimeWindow) -> Iterator[None]:
    """While open, schemathesis generates its ``date-time`` values inside ``window``."""
    schemathesis.openapi.format("date-time", times_in_window(window, utc_now()))
    try:
        yield
    finally:
        unregister_string_format("date-time")  # its own strategy is back


@pytest.fixture(params=[WITH_KEY, OPEN], ids=lambda access: access.name)
def access(request: pytest.FixtureRequest) -> Access:
    """Each guard the fuzzed server runs with."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def live_api(
    access: Access,
    tmp_path: Path,
    contract: DatasetContract,
    registry: Registry,
    model_name: str,
) -> Iterator[LiveApi]:
    """A uvicorn server serving ``model_name``'s champion, guarded by ``access``."""
    overrides = {"api_key": access.api_key} if access.api_key else {}
    config = make_config(tmp_path, contract, registry.tracking_uri, model_name, **overrides)
    settings = config.settings
    window = TimeWindow(settings.max_event_time_past, settings.max_event_time_future)
    with run_in_thread(create_app(config)) as base_url:
        yield LiveApi(base_url=base_url, api_key=settings.api_key_value(), window=window)


def operation_count(spec: dict[str, Any]) -> int:
    """How many operations (path + method) the spec declares."""
    return sum(
        1 for item in spec["paths"].values() for method in item if method.lower() in HTTP_METHODS
    )


def config_file(folder: Path, api_key: str | None) -> Path:
    """A schemathesis.toml: no example database or cache on disk, the API key if there is one."""
    lines = ["[generation]", 'database = "none"', "", "[cache]", "enabled = false", ""]
    if api_key is not None:
        lines += [f"[auth.openapi.{SECURITY_SCHEME}]", f"api_key = {json.dumps(api_key)}"]
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class RunResult:
    """One ``st run``: its JSON report and what it printed."""

    report: dict[str, Any]
    output: str

    @property
    def cases(self) -> int:
        """Test cases generated and sent."""
        return int(self.report["test_cases"]["generated"])

    def problems(self) -> list[str]:
        """Why this run does not pass, in words (empty when it passes).

        Besides failed checks and errors: an operation left untested, or a schemathesis warning
        (e.g. ``missing_auth``: the key was not sent, so only 401s were tested).
        """
        report = self.report
        found = [
            f"{f['code']} {f['title']}: {f['count']} on {', '.join(f['operations'])}"
            for f in report["failures"]
        ]
        found += [f"error: {e['title']} ({e['count']})" for e in report["errors"]]
        found += [f"warning {name}: {on}" for name, on in report["warnings"].items() if on]
        if not report["complete"] or report["exit_code"] != 0:
            found.append(f"exit code {report['exit_code']}, stop reason {report['stop_reason']}")
        operations = report["operations"] or {}
        if operations.get("tested") != operations.get("total"):
            found.append(f"operations tested: {operations}")
        return found


def run_schemathesis(
    capsys: pytest.CaptureFixture[str],
    folder: Path,
    config: Path,
    schema_url: str,
    *,
    max_examples: int,
    seed: int,
    phases: str,
) -> RunResult:
    """``st run --checks all`` in this process, with ``max_examples`` per operation."""
    report_path = folder / f"report-{seed}.json"
    args = [
        *("--config-file", str(config), "--no-color", "run", schema_url),
        *("--checks", "all", "--phases", phases),
        *("--max-examples", str(max_examples), "--seed", str(seed)),
        *("--request-timeout", "30"),
        *("--report", "json", "--report-json-path", str(report_path)),
    ]
    capsys.readouterr()
    # The command always ends with sys.exit(<code>); the report holds the code.
    with contextlib.suppress(SystemExit):
        schemathesis_cli.main(args=args, prog_name="st", standalone_mode=False)
    captured = capsys.readouterr()
    if not report_path.exists():
        pytest.fail(f"st run wrote no report:\n{captured.out}\n{captured.err}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return RunResult(report=report, output=captured.out + captured.err)


def fuzz(
    live: LiveApi, wanted: int, seed: int, folder: Path, capsys: pytest.CaptureFixture[str]
) -> list[RunResult]:
    """Every phase once, then fuzzing-only rounds until ``wanted`` cases ran (or one fails)."""
    schema_url = f"{live.base_url}/openapi.json"
    operations = operation_count(httpx.get(schema_url, timeout=10).json())
    config = config_file(folder, live.api_key)
    first = run_schemathesis(
        capsys,
        folder,
        config,
        schema_url,
        max_examples=math.ceil(wanted / operations),
        seed=seed,
        phases=ALL_PHASES,
    )
    runs = [first]
    for round_number in range(1, TOP_UP_ROUNDS + 1):
        done = sum(run.cases for run in runs)
        if done >= wanted or runs[-1].problems():
            break
        # Operations without input run out of distinct cases early: ask every operation for all
        # that is missing, so the ones with a body make up for them.
        runs.append(
            run_schemathesis(
                capsys,
                folder,
                config,
                schema_url,
                max_examples=wanted - done,
                seed=seed + round_number,
                phases="fuzzing",
            )
        )
    return runs


def server_errors(live: LiveApi) -> dict[str, float]:
    """The 5xx answers the server counted, ``{"<method> <route> <status>": count}``."""
    headers = {API_KEY_HEADER: live.api_key} if live.api_key else {}
    text = httpx.get(f"{live.base_url}/metrics", headers=headers, timeout=10).text
    return {
        f"{s.labels['method']} {s.labels['route']} {s.labels['status']}": s.value
        for family in text_string_to_metric_families(text)
        if family.name == "serving_http_requests"
        for s in family.samples
        if s.name.endswith("_total") and s.labels["status"].startswith("5")
    }


@pytest.mark.e2e
def test_every_operation_passes_every_check(
    access: Access, live_api: LiveApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wanted, seed = cases_for(access), fuzz_seed()
    with date_times_inside(live_api.window):
        runs = fuzz(live_api, wanted, seed, tmp_path, capsys)
    for run in runs:
        problems = run.problems()
        assert not problems, f"schemathesis ({access.name}, seed {seed}): {problems}\n{run.output}"
    errors = server_errors(live_api)
    assert not errors, f"the server answered 5xx: {errors}\n{runs[-1].output}"
    done = sum(run.cases for run in runs)
    assert done >= wanted, f"{done} of {wanted} cases ran ({access.name}, {len(runs)} runs)"
    with capsys.disabled():
        print(f"\nfuzz {access.name}: {done} cases, {len(runs)} run(s), seed {seed}, 0 failures")
