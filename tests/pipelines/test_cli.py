"""The `lifecycle` command as a user meets it: real processes, exit codes, stdout and stderr.

Every test runs the installed console script in a subprocess with ``LIFECYCLE_HOME`` in a
temporary folder, so what is asserted is exactly what a person at a terminal (or a CI log) sees.

Commands that run a Prefect flow (validate, train, promote) talk to the session's test API
(``PREFECT_API_URL``, as a user with a Prefect server would) instead of each starting a local
server, which costs ~12 s per process. The one end-to-end test runs them exactly as a user does
by default, each with its own local server whose state stays under the home folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from data.scenarios import SCENARIOS
from tests.pipelines.cli_runner import (
    Run,
    assert_usage_error,
    assert_user_error,
    files_under,
    lifecycle,
    plain,
    sha256,
    snapshot,
    start,
)

COMMANDS = ("generate", "validate", "train", "promote", "demo", "serve", "monitor", "labels")
SCENARIO_NAMES = (
    "none",
    "covariate_shift",
    "concept_drift",
    "quality_incident",
    "schema_break",
    "default",
)


# --------------------------------------------------------------------------- help


def test_help_lists_every_command(tmp_path: Path) -> None:
    run = lifecycle(tmp_path, "--help")

    assert run.code == 0, f"--help succeeds\n{run}"
    commands = run.stdout.partition("Commands")[2]
    for name in COMMANDS:
        assert re.search(rf"^[│ ]*{name}\s+\w", commands, re.MULTILINE), (
            f"`{name}` has a row with its summary in the commands list\n{run}"
        )


def test_generate_help_describes_every_scenario(tmp_path: Path) -> None:
    run = lifecycle(tmp_path, "generate", "--help")

    assert run.code == 0, f"generate --help succeeds\n{run}"
    assert set(SCENARIO_NAMES) <= set(SCENARIOS), f"the documented scenarios exist: {SCENARIOS}"
    shown = plain(run.stdout)
    for name, scenario in SCENARIOS.items():
        assert plain(f"{name}: {scenario.summary}") in shown, (
            f"scenario {name!r} is listed with its one-line summary\n{run}"
        )


# --------------------------------------------------------------------------- generate

GENERATE = ("generate", "--days", "3", "--rows-per-day", "100", "--seed", "5")
DAYS = ("2026-01-01.parquet", "2026-01-02.parquet", "2026-01-03.parquet")


@dataclass(frozen=True)
class Generated:
    """A home after one `lifecycle generate`."""

    home: Path
    run: Run

    @property
    def raw(self) -> Path:
        return self.home / "data" / "raw"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    home = tmp_path_factory.mktemp("generated")
    return Generated(home, lifecycle(home, *GENERATE))


def test_generate_writes_one_parquet_file_per_day(generated: Generated) -> None:
    run = generated.run

    assert run.code == 0, f"generate succeeds\n{run}"
    assert files_under(generated.raw) == list(DAYS), f"one file per day, named by date\n{run}"
    for name in DAYS:
        rows = pq.read_metadata(generated.raw / name).num_rows
        assert rows == 100, f"{name} holds --rows-per-day rows, got {rows}"
    assert "3 new, 0 unchanged" in run.stdout, f"the summary counts the new files\n{run}"


def test_generate_again_changes_nothing(generated: Generated) -> None:
    before = snapshot(generated.raw)

    run = lifecycle(generated.home, *GENERATE)

    assert run.code == 0, f"a repeated generate succeeds\n{run}"
    assert "0 new, 3 unchanged" in run.stdout, f"the summary says nothing was written\n{run}"
    assert snapshot(generated.raw) == before, "the files keep their bytes and are not rewritten"


def test_same_seed_gives_identical_bytes_in_another_home(
    generated: Generated, tmp_path: Path
) -> None:
    run = lifecycle(tmp_path, *GENERATE)

    assert run.code == 0, f"generate succeeds in a second home\n{run}"
    for name in DAYS:
        first = (generated.raw / name).read_bytes()
        second = (tmp_path / "data" / "raw" / name).read_bytes()
        assert first == second, f"{name}: same arguments and seed, same bytes"


def test_generate_refuses_to_replace_a_different_batch(generated: Generated) -> None:
    before = snapshot(generated.raw)

    run = lifecycle(generated.home, *GENERATE, "--seed", "6")

    assert_user_error(
        run,
        f"raw batch {generated.raw.resolve() / DAYS[0]} already exists with different content",
        "LIFECYCLE_HOME",
    )
    assert snapshot(generated.raw) == before, "raw batches are immutable: nothing was touched"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        pytest.param(
            ("--scenario", "drift"),
            ("unknown scenario 'drift'", *SCENARIO_NAMES),
            id="unknown-scenario",
        ),
        pytest.param(
            ("--scenario", "quality_incident", "--days", "5", "--incident-day", "5"),
            ("incident_day", "[0, 4]", "5-day run", "got 5"),
            id="incident-after-last-day",
        ),
        pytest.param(
            ("--scenario", "concept_drift", "--days", "5", "--onset-day", "7"),
            ("onset_day", "[0, 4]", "5-day run", "got 7"),
            id="onset-after-last-day",
        ),
    ],
)
def test_generate_rejects_bad_arguments(
    tmp_path: Path, args: Sequence[str], fragments: Sequence[str]
) -> None:
    run = lifecycle(tmp_path, "generate", *args)

    assert_user_error(run, *fragments)
    assert files_under(tmp_path / "data") == [], f"nothing is written\n{run}"


def test_generate_rejects_zero_days(tmp_path: Path) -> None:
    run = lifecycle(tmp_path, "generate", "--days", "0")

    assert_usage_error(run, "Invalid value for '--days'", "greater than or equal to 1")
    assert files_under(tmp_path / "data") == [], f"nothing is written\n{run}"


# --------------------------------------------------------------------------- slow commands

STAGES = ("train", "promote", "monitor")
INCIDENT_DATE = "2026-01-04"  # day 3 of a run starting 2026-01-01


@dataclass(frozen=True)
class IncidentRun:
    """A quality-incident home validated twice, and its raw batches before validation."""

    home: Path
    raw_before: dict[str, bytes]
    first: Run
    second: Run

    @property
    def raw(self) -> Path:
        return self.home / "data" / "raw"


@dataclass(frozen=True)
class SlowRuns:
    """The module's slow commands: each stage in an empty home, and validate on an incident."""

    empty_homes: dict[str, Path]
    stages: dict[str, Run]
    incident: IncidentRun


@pytest.fixture(scope="module")
def slow_runs(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> Iterator[SlowRuns]:
    """Run every command that loads the heavy libraries once, side by side to save time.

    Each stage starts in an empty home in the background while the incident home is generated
    and validated twice in the foreground.
    """
    homes = {name: tmp_path_factory.mktemp(f"empty-{name}") for name in STAGES}
    started = {name: start(home, name, prefect_api=prefect_api) for name, home in homes.items()}
    try:
        home = tmp_path_factory.mktemp("incident")
        generate = lifecycle(
            home,
            "generate",
            "--scenario",
            "quality_incident",
            "--days",
            "6",
            "--incident-day",
            "3",
            "--rows-per-day",
            "600",
        )
        assert generate.code == 0, f"the incident run is generated\n{generate}"
        raw_before = {p.name: p.read_bytes() for p in sorted((home / "data" / "raw").glob("*"))}
        first = lifecycle(home, "validate", prefect_api=prefect_api)
        second = lifecycle(home, "validate", prefect_api=prefect_api)
        stages = {name: started[name].finish() for name in STAGES}
        yield SlowRuns(homes, stages, IncidentRun(home, raw_before, first, second))
    finally:
        for job in started.values():
            job.process.kill()  # no-op once finished; stops them if the foreground failed
            job.process.wait()


def missing_input_message(command: str, home: Path) -> tuple[str, ...]:
    """What the error of a stage run in an empty home must say."""
    home = home.resolve()
    return {
        "train": (f"no validated batches in {home / 'data' / 'validated'}", "lifecycle validate"),
        "promote": ("model 'card-fraud' has no 'challenger' version", "lifecycle train"),
        "monitor": (f"no predictions logged in {home / 'predictions'}",),
    }[command]


@pytest.mark.parametrize("command", STAGES)
def test_stage_without_its_input_says_what_to_run_first(slow_runs: SlowRuns, command: str) -> None:
    run = slow_runs.stages[command]

    assert_user_error(run, *missing_input_message(command, slow_runs.empty_homes[command]))


# --------------------------------------------------------------------------- validate


@pytest.fixture(scope="module")
def incident_run(slow_runs: SlowRuns) -> IncidentRun:
    return slow_runs.incident


def test_validate_blocks_the_incident_day_and_names_what_failed(incident_run: IncidentRun) -> None:
    run = incident_run.first

    assert "Traceback" not in run.stderr, f"no Python traceback\n{run}"
    assert run.code == 1, f"a blocked batch exits with code 1 (a failed check)\n{run}"
    assert "validated 6 batch(es): 5 passed, 1 quarantined" in run.stdout, f"summary\n{run}"
    blocked = [line for line in run.error_lines if line.startswith("blocked ")]
    assert len(blocked) == 1, f"exactly one batch is reported blocked\n{run}"
    assert blocked[0].startswith(f"blocked {INCIDENT_DATE} "), f"it is the incident day\n{run}"
    assert "expect_column_median_to_be_between (amount)" in run.stderr, (
        f"the failed expectation is named with its column\n{run}"
    )
    assert "observed" in run.stderr, f"the failure says what was observed\n{run}"


def test_blocked_batch_is_quarantined_beside_its_validation_result(
    incident_run: IncidentRun,
) -> None:
    data = incident_run.home / "data"
    quarantined = data / "quarantine" / INCIDENT_DATE
    raw_file = incident_run.raw / f"{INCIDENT_DATE}.parquet"

    assert files_under(quarantined) == sorted(
        [f"{INCIDENT_DATE}.parquet", "data_docs.html", "validation.json"]
    ), f"the batch, its result and its Data Docs are together\n{incident_run.first}"
    assert (quarantined / f"{INCIDENT_DATE}.parquet").read_bytes() == raw_file.read_bytes(), (
        "the quarantined copy is the raw batch"
    )
    result = json.loads((quarantined / "validation.json").read_text())
    assert result["success"] is False, f"the result records the failure: {result['success']}"
    assert result["batch_id"] == INCIDENT_DATE, f"the result names the batch: {result['batch_id']}"
    assert result["raw_sha256"] == sha256(raw_file), "the result pins the raw file's content"
    failed = {(f["expectation_type"], f["column"]) for f in result["failures"]}
    assert ("expect_column_median_to_be_between", "amount") in failed, failed
    assert "<html" in (quarantined / "data_docs.html").read_text().lower(), "Data Docs is HTML"
    validated = [name for name in files_under(data / "validated") if name.endswith(".parquet")]
    assert len(validated) == 5, f"the five clean days pass: {validated}"
    assert f"{INCIDENT_DATE}.parquet" not in validated, "the blocked day never reaches training"


def test_validate_never_changes_raw_batches(incident_run: IncidentRun) -> None:
    raw_after = {p.name: p.read_bytes() for p in sorted(incident_run.raw.glob("*"))}

    assert list(raw_after) == list(incident_run.raw_before), "no raw file added or removed"
    for name, content in incident_run.raw_before.items():
        assert raw_after[name] == content, f"{name} keeps its bytes"


def test_second_validate_finds_nothing_pending(incident_run: IncidentRun) -> None:
    run = incident_run.second

    assert run.code == 0, f"nothing to check is a success\n{run}"
    assert "nothing to validate" in run.stdout, f"the user is told nothing was pending\n{run}"
    assert "Traceback" not in run.stderr, f"no Python traceback\n{run}"
    assert "blocked" not in run.stderr, f"the quarantined batch is not reported again\n{run}"


# --------------------------------------------------------------------------- labels


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "content", "fragments"),
    [
        pytest.param(
            "labels.csv",
            "transaction_id,label\ntx-1,1\n",
            ("labels.csv", "missing column(s) ['is_fraud']", "found ['transaction_id', 'label']"),
            id="wrong-columns",
        ),
        pytest.param(
            "labels.csv",
            "transaction_id,is_fraud\ntx-1,0\ntx-2,2\n",
            ("labels.csv", "label outside [0, 1]", "first at row 3"),
            id="label-not-0-or-1",
        ),
        pytest.param(
            "labels[late].csv",
            "transaction_id,label\ntx-1,1\n",
            ("labels[late].csv", "missing column(s)"),
            id="file-name-with-brackets",
        ),
    ],
)
def test_labels_rejects_a_bad_file(
    tmp_path: Path, name: str, content: str, fragments: Sequence[str]
) -> None:
    path = write_csv(tmp_path / name, content)

    run = lifecycle(tmp_path, "labels", str(path))

    assert_user_error(run, *fragments)
    assert not (tmp_path / "labels").exists(), f"nothing is appended\n{run}"


def test_labels_rejects_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"

    run = lifecycle(tmp_path, "labels", str(path))

    assert_usage_error(run, "Invalid value for", "nowhere.csv", "does not exist")
    assert not (tmp_path / "labels").exists(), f"nothing is appended\n{run}"


# --------------------------------------------------------------------------- end to end


@pytest.mark.e2e
@pytest.mark.xdist_group("cli-user-run")  # a home of its own: free to run beside the module
def test_generate_validate_train_promote_as_a_user_runs_them(tmp_path: Path) -> None:
    home = tmp_path
    steps = [
        ("generate", "--days", "30", "--rows-per-day", "500"),
        ("validate",),
        ("train",),
        ("promote",),
    ]
    runs = []
    for args in steps:
        run = lifecycle(home, *args)  # no PREFECT_API_URL: each flow starts its local server
        assert run.code == 0, f"each step succeeds on clean data\n{run}"
        assert "Traceback" not in run.stderr, f"no Python traceback\n{run}"
        runs.append(run)
    _, validate, train, promote = runs

    assert "validated 30 batch(es): 30 passed, 0 quarantined" in validate.stdout, str(validate)
    assert "registered card-fraud version 1 as challenger" in train.stdout, str(train)
    assert "promote version 1 (champion was none)" in promote.stdout, str(promote)
    assert (home / "prefect" / "prefect.db").is_file(), "Prefect's state stays in the home"
    assert (home / "mlflow" / "mlflow.db").is_file(), "MLflow's store is in the home"
    decisions = [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]
    kinds = [d["kind"] for d in decisions]
    assert kinds == ["batch_passed"] * 30 + ["promote"], f"every decision is audited: {kinds}"
