"""The validation gate: the suite passes clean data, blocks each corruption by name, and the
quarantine adapter files raw batches without ever touching them."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from data.generator import generate, generate_day, write_batches
from data.scenarios import get_scenario, scenario_timeline
from features.contract import DatasetContract, load_contract
from features.expectations import GuardConfig, SuiteError, build_suite
from features.validation import (
    DATA_DOCS_FILE,
    VALIDATION_FILE,
    BatchOutcome,
    BatchValidator,
    ValidationInputError,
    ValidationOutcome,
    pending_batches,
    validate_frame,
    validate_pending_batches,
)

REPO = Path(__file__).resolve().parents[2]
CONTRACT_PATH = REPO / "data" / "contracts" / "card_fraud.yaml"
SAMPLE_DIR = REPO / "data" / "sample"


@pytest.fixture(scope="module")
def contract() -> DatasetContract:
    return load_contract(CONTRACT_PATH)


@pytest.fixture(scope="module")
def validator(contract: DatasetContract) -> BatchValidator:
    """One in-memory context and suite for the whole module, as a pipeline would reuse it."""
    return BatchValidator(contract)


@pytest.fixture(scope="module")
def clean_frame() -> pd.DataFrame:
    """A clean 1,500-row day (scenario none, seed 1, day 0); tests corrupt copies of it."""
    return generate_day(0, get_scenario("none"), seed=1, days=1)


def failed_names(outcome: ValidationOutcome) -> list[tuple[str, str | None]]:
    return [(f.expectation_type, f.column) for f in outcome.failures]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the suite ------------------------------------------------------------------------------


def test_suite_is_derived_from_the_contract_and_every_expectation_says_why(
    contract: DatasetContract,
) -> None:
    suite = build_suite(contract)
    kwargs = [(e.expectation_type, e.configuration.kwargs) for e in suite.expectations]
    column_sets = [k["column_set"] for t, k in kwargs if t.endswith("match_set")]
    assert column_sets == [contract.column_names], "one exact column-set check, from the contract"
    not_null = {
        k["column"]
        for t, k in kwargs
        if t == "expect_column_values_to_not_be_null" and not k.get("row_condition")
    }
    expected_not_null = {n for n, spec in contract.columns.items() if not spec.nullable}
    assert not_null == expected_not_null, "not-null exactly on the non-nullable columns"
    for expectation in suite.expectations:
        assert expectation.notes, f"{expectation.expectation_type} says what it guards against"
        mostly = getattr(expectation, "mostly", 1.0)
        assert mostly == 1.0, f"{expectation.expectation_type} is strict (mostly={mostly})"
    assert suite.meta["contract_hash"] == contract.content_hash(), "suite records its contract"


def test_guard_config_rejects_inverted_bounds_and_unknown_columns(
    contract: DatasetContract,
) -> None:
    with pytest.raises(SuiteError, match="min_label_rate"):
        GuardConfig(min_label_rate=0.2, max_label_rate=0.1)
    with pytest.raises(SuiteError, match="amount_column is 'amount_eur'"):
        build_suite(contract, GuardConfig(amount_column="amount_eur"))
    without_amount = build_suite(contract, GuardConfig(amount_column=None))
    assert not any(
        e.expectation_type == "expect_column_median_to_be_between"
        for e in without_amount.expectations
    ), "a guard switched off is absent"
    scaled = GuardConfig.for_daily_volume(1500)
    assert (scaled.min_rows, scaled.max_rows) == (750, 6000), "row bounds follow the volume"


# --- the core: clean data passes ------------------------------------------------------------


def test_clean_day_passes_every_expectation(
    validator: BatchValidator, clean_frame: pd.DataFrame
) -> None:
    outcome = validator.validate(clean_frame)
    assert outcome.success, f"a clean day must pass: {failed_names(outcome)}"
    stats = outcome.statistics
    assert stats.evaluated == len(validator.suite.expectations), "every expectation ran"
    assert stats.successful == stats.evaluated, "all passed"
    assert stats.unsuccessful == 0, "none failed"
    assert outcome.failures == [], "no failures listed"
    assert json.loads(json.dumps(outcome.result_json))["success"] is True, "result is JSON"


@pytest.mark.parametrize(
    "path", sorted((SAMPLE_DIR / "clean").glob("*.parquet")), ids=lambda p: p.name
)
def test_committed_clean_sample_passes(validator: BatchValidator, path: Path) -> None:
    outcome = validator.validate(pd.read_parquet(path))
    assert outcome.success, f"{path.name} is clean: {failed_names(outcome)}"


@pytest.mark.parametrize(
    ("scenario", "day_index"),
    [("covariate_shift", 59), ("concept_drift", 59), ("default", 59)],
)
def test_drifted_days_are_not_rejected(
    validator: BatchValidator, scenario: str, day_index: int
) -> None:
    """Drift is the monitor's business, not a data-quality failure: the gate lets it through."""
    frame = generate_day(day_index, get_scenario(scenario), seed=2, days=60)
    outcome = validator.validate(frame)
    assert outcome.success, f"{scenario} day {day_index} is valid data: {failed_names(outcome)}"


def test_validate_frame_uses_an_ephemeral_context(
    contract: DatasetContract, clean_frame: pd.DataFrame
) -> None:
    outcome = validate_frame(clean_frame, contract)
    assert outcome.success, "the one-call API passes a clean day"


def test_a_non_dataframe_is_rejected_with_a_clear_error(validator: BatchValidator) -> None:
    with pytest.raises(ValidationInputError, match="expected a pandas DataFrame"):
        validator.validate([{"amount": 1.0}])  # type: ignore[arg-type]


# --- the core: each corruption is blocked, by name ------------------------------------------


def _cents(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(amount=(f["amount"] * 100).round(0))


def _set(column: str, row: int, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def corrupt(f: pd.DataFrame) -> pd.DataFrame:
        f = f.copy()
        if isinstance(value, str) and not pd.api.types.is_object_dtype(f[column]):
            f[column] = f[column].astype(object)
        f.loc[row, column] = value
        return f

    return corrupt


def _duplicate_id(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    f.loc[11, "transaction_id"] = f.loc[10, "transaction_id"]
    return f


def _label_before_event(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    f.loc[4, "label_available_at"] = f["event_time"].iloc[4] - pd.Timedelta(hours=1)
    return f


def _device_score_missing_online(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    row = f.index[f["channel"] == "online"][0]
    f.loc[row, "device_trust_score"] = np.nan
    return f


def _velocity_swapped(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(txn_count_1h=f["txn_count_24h"], txn_count_24h=f["txn_count_1h"])


CORRUPTIONS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str, str | None]] = {
    "amounts in cents": (_cents, "expect_column_median_to_be_between", "amount"),
    "renamed column": (
        lambda f: f.rename(columns={"merchant_category": "mcc_category"}),
        "expect_table_columns_to_match_set",
        None,
    ),
    "missing column": (
        lambda f: f.drop(columns=["device_trust_score"]),
        "expect_table_columns_to_match_set",
        None,
    ),
    "extra column": (
        lambda f: f.assign(debug_flag=1),
        "expect_table_columns_to_match_set",
        None,
    ),
    "null in a non-nullable column": (
        _set("customer_id", 5, None),
        "expect_column_values_to_not_be_null",
        "customer_id",
    ),
    "out-of-range value": (
        _set("customer_age", 3, 150),
        "expect_column_values_to_be_between",
        "customer_age",
    ),
    "unknown category": (_set("channel", 7, "atm"), "expect_column_values_to_be_in_set", "channel"),
    "duplicate ids": (_duplicate_id, "expect_column_values_to_be_unique", "transaction_id"),
    "label outside {0,1}": (
        _set("is_fraud", 0, 2),
        "expect_column_values_to_be_in_set",
        "is_fraud",
    ),
    "label available before the event": (
        _label_before_event,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "label_available_at",
    ),
    "empty frame": (lambda f: f.iloc[0:0], "expect_table_row_count_to_be_between", None),
    "no positives at all": (
        lambda f: f.assign(is_fraud=0),
        "expect_column_mean_to_be_between",
        "is_fraud",
    ),
    "amount sent as text": (
        lambda f: f.assign(amount=f["amount"].map(str)),
        "expect_column_values_to_be_in_type_list",
        "amount",
    ),
    "tz-aware timestamps": (
        lambda f: f.assign(event_time=f["event_time"].dt.tz_localize("UTC")),
        "expect_column_values_to_be_in_type_list",
        "event_time",
    ),
    "pandas Categorical": (
        lambda f: f.assign(country=f["country"].astype("category")),
        "expect_column_values_to_be_in_type_list",
        "country",
    ),
    "device score filled for card-present": (
        lambda f: f.assign(device_trust_score=f["device_trust_score"].fillna(0.0)),
        "expect_column_proportion_of_non_null_values_to_be_between",
        "device_trust_score",
    ),
    "device score missing for an online payment": (
        _device_score_missing_online,
        "expect_column_values_to_not_be_null",
        "device_trust_score",
    ),
    "velocity counters swapped": (
        _velocity_swapped,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "txn_count_24h",
    ),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_each_corruption_is_blocked_by_the_right_expectation(
    validator: BatchValidator, clean_frame: pd.DataFrame, kind: str
) -> None:
    corrupt, expectation_type, column = CORRUPTIONS[kind]
    outcome = validator.validate(corrupt(clean_frame.copy()))
    assert not outcome.success, f"{kind} must fail the gate"
    assert outcome.failed(expectation_type, column), (
        f"{kind} must fail {expectation_type} on {column}, got {failed_names(outcome)}"
    )
    failure = next(f for f in outcome.failures if f.expectation_type == expectation_type)
    assert failure.reason.startswith("expected "), f"reason is readable: {failure.reason}"
    assert failure.guards_against, "the failure carries its guard note"


def test_schema_break_names_missing_and_unexpected_columns(
    validator: BatchValidator, clean_frame: pd.DataFrame
) -> None:
    broken = clean_frame.rename(columns={"merchant_category": "mcc_category"}).drop(
        columns=["device_trust_score"]
    )
    outcome = validator.validate(broken)
    first = outcome.failures[0]
    assert first.expectation_type == "expect_table_columns_to_match_set", "schema check first"
    assert "missing columns: ['device_trust_score', 'merchant_category']" in first.reason, (
        first.reason
    )
    assert "unexpected columns: ['mcc_category']" in first.reason, first.reason
    on_missing = [f for f in outcome.failures if f.column == "device_trust_score"]
    assert on_missing, "column checks on the missing column fail too"
    assert all("missing from the batch" in f.reason for f in on_missing), "and say why"


def test_cents_reason_reports_the_observed_median(
    validator: BatchValidator, clean_frame: pd.DataFrame
) -> None:
    outcome = validator.validate(_cents(clean_frame))
    median = next(f for f in outcome.failures if f.column == "amount" and "median" in f.reason)
    observed = float(median.reason.rsplit("observed ", 1)[1])
    assert observed == pytest.approx(clean_frame["amount"].median() * 100, rel=0.01), (
        f"observed value is in the reason: {median.reason}"
    )
    assert "cents" in median.guards_against, "the note names the failure it guards against"


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("scenario", ["quality_incident", "schema_break"])
def test_generated_incident_days_always_fail(
    validator: BatchValidator, scenario: str, seed: int
) -> None:
    days = 60
    incident = scenario_timeline(scenario, days).incident_day
    assert incident is not None, f"{scenario} has an incident day"
    frame = generate_day(incident, get_scenario(scenario), seed=seed, days=days)
    outcome = validator.validate(frame)
    assert not outcome.success, f"{scenario} incident day (seed {seed}) must fail"
    expected = (
        "expect_table_columns_to_match_set"
        if scenario == "schema_break"
        else "expect_column_median_to_be_between"
    )
    assert outcome.failed(expected), f"{scenario} fails {expected}: {failed_names(outcome)}"


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("quality_incident", "expect_column_median_to_be_between"),
        ("schema_break", "expect_table_columns_to_match_set"),
    ],
)
def test_committed_broken_samples_fail(
    validator: BatchValidator, folder: str, expected: str
) -> None:
    files = sorted((SAMPLE_DIR / folder).glob("*.parquet"))
    assert files, f"the committed sample has a {folder} day"
    for path in files:
        outcome = validator.validate(pd.read_parquet(path))
        assert outcome.failed(expected), f"{folder}/{path.name} fails {expected}"


@pytest.mark.e2e
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_false_rejection_over_60_clean_days(validator: BatchValidator, seed: int) -> None:
    rejected = {
        day.isoformat(): failed_names(outcome)
        for day, frame in generate("none", 60, seed)
        if not (outcome := validator.validate(frame, run_name=day.isoformat())).success
    }
    assert rejected == {}, f"clean days rejected (seed {seed}): {rejected}"


# --- the adapter: raw files to validated or quarantine --------------------------------------


@dataclass(frozen=True)
class GatedHome:
    """A home folder after one gate run, with what was seen before and during it."""

    raw: Path
    validated: Path
    quarantine: Path
    gx: Path
    raw_hashes_before: dict[str, str]
    outcomes: list[BatchOutcome]
    progress: list[str]

    def run_again(self, contract: DatasetContract) -> list[BatchOutcome]:
        return validate_pending_batches(
            self.raw, self.validated, self.quarantine, self.gx, contract
        )


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory, contract: DatasetContract) -> GatedHome:
    """Four quality_incident days (2026-01-03 in cents) and one corrupt file, gated once."""
    home = tmp_path_factory.mktemp("home")
    raw = home / "raw"
    assert scenario_timeline("quality_incident", 4).incident_day == 2, "incident on 2026-01-03"
    write_batches(generate("quality_incident", 4, 5), raw)
    (raw / "2026-01-05.parquet").write_bytes(b"PAR1 this is not a parquet file")
    before = {p.name: sha256(p) for p in raw.iterdir()}
    progress: list[str] = []
    outcomes = validate_pending_batches(
        raw,
        home / "validated",
        home / "quarantine",
        home / "gx",
        contract,
        on_progress=lambda batch_id, _: progress.append(batch_id),
    )
    return GatedHome(
        raw, home / "validated", home / "quarantine", home / "gx", before, outcomes, progress
    )


BATCH_IDS = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]


def test_adapter_checks_every_batch_in_date_order(gated: GatedHome) -> None:
    assert [o.batch_id for o in gated.outcomes] == BATCH_IDS, "every batch, in date order"
    assert gated.progress == BATCH_IDS, "progress reported after each batch"
    verdicts = [o.success for o in gated.outcomes]
    assert verdicts == [True, True, False, True, False], "cents day and corrupt file fail"


def test_adapter_never_changes_raw_files(gated: GatedHome) -> None:
    after = {p.name: sha256(p) for p in gated.raw.iterdir()}
    assert after == gated.raw_hashes_before, "raw files unchanged, none deleted, moved or added"
    for outcome in gated.outcomes:
        assert outcome.sha256 == gated.raw_hashes_before[outcome.raw_path.name], "hash reported"


def test_passing_batches_are_copied_byte_for_byte(gated: GatedHome) -> None:
    for outcome in (o for o in gated.outcomes if o.success):
        assert outcome.destination == gated.validated / f"{outcome.batch_id}.parquet", "target"
        assert sha256(outcome.destination) == outcome.sha256, "the copy has the raw bytes"
        assert outcome.failures == [], "nothing failed"
        assert not (gated.quarantine / outcome.batch_id).exists(), "not quarantined"
    assert sorted(p.name for p in gated.validated.iterdir()) == [
        f"{b}.parquet" for b in ("2026-01-01", "2026-01-02", "2026-01-04")
    ], "no temporary or extra file left in the validated folder"


def test_failing_batch_is_quarantined_with_its_result_and_data_docs(
    gated: GatedHome, contract: DatasetContract
) -> None:
    cents = gated.outcomes[2]
    folder = gated.quarantine / "2026-01-03"
    assert cents.destination == folder, "failing batch goes to its quarantine folder"
    assert not (gated.validated / "2026-01-03.parquet").exists(), "and not to validated"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["2026-01-03.parquet", VALIDATION_FILE, DATA_DOCS_FILE]
    ), "batch copy, validation result and Data Docs page"
    assert sha256(folder / "2026-01-03.parquet") == cents.sha256, "quarantined copy is intact"

    record = json.loads((folder / VALIDATION_FILE).read_text())
    assert record["batch_id"] == "2026-01-03", "batch id recorded"
    assert record["success"] is False, "verdict recorded"
    assert record["raw_file"] == str(gated.raw / "2026-01-03.parquet"), "raw path recorded"
    assert record["raw_sha256"] == cents.sha256, "raw hash recorded"
    assert record["contract_hash"] == contract.content_hash(), "contract hash recorded"
    assert datetime.datetime.fromisoformat(record["validated_at"]).tzinfo, "UTC time recorded"
    failed = [f["expectation_type"] for f in record["failures"]]
    assert "expect_column_median_to_be_between" in failed, f"the cents guard is named: {failed}"
    assert all(f["reason"] and f["guards_against"] for f in record["failures"]), "with reasons"
    assert record["gx_result"]["success"] is False, "the full GX result is kept"
    assert len(record["gx_result"]["results"]) == record["statistics"]["evaluated"], "all of it"

    assert record["data_docs"]["source"] == "great_expectations_data_docs", "real Data Docs"
    page = (folder / DATA_DOCS_FILE).read_text()
    assert "<html" in page, "an HTML page"
    assert "2026-01-03" in page, "the page of this run"
    assert "median" in page.lower(), "showing the median expectation"
    site = gated.gx / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert (site / "index.html").is_file(), "the Data Docs site is built under gx_dir"
    runs = {p.name for p in (site / "validations").glob("*/*")}
    assert {"2026-01-01", "2026-01-03"} <= runs, "passing and failing runs are both in the site"


def test_unreadable_file_is_quarantined_with_a_clear_reason(gated: GatedHome) -> None:
    corrupt = gated.outcomes[4]
    assert corrupt.destination == gated.quarantine / "2026-01-05", "quarantined, not a crash"
    assert [f.expectation_type for f in corrupt.failures] == ["read_parquet"], "read failure"
    assert "Parquet" in corrupt.failures[0].reason, corrupt.failures[0].reason
    record = json.loads((corrupt.destination / VALIDATION_FILE).read_text())
    assert record["data_docs"]["source"] == "validation_gate_summary", "says who rendered it"
    assert "read_parquet" in (corrupt.destination / DATA_DOCS_FILE).read_text(), "summary page"
    assert sha256(corrupt.destination / "2026-01-05.parquet") == corrupt.sha256, "copy kept"


def test_rerun_checks_nothing_and_rewrites_nothing(
    gated: GatedHome, contract: DatasetContract
) -> None:
    def filed() -> dict[Path, int]:
        files = [*gated.validated.rglob("*"), *gated.quarantine.rglob("*")]
        return {p: p.stat().st_mtime_ns for p in files}

    before = filed()
    assert gated.run_again(contract) == [], "a rerun checks nothing"
    assert pending_batches(gated.raw, gated.validated, gated.quarantine) == [], "none pending"
    assert filed() == before, "a rerun rewrites nothing"


def test_only_new_batches_are_checked(tmp_path: Path, contract: DatasetContract) -> None:
    raw, ok, quarantine, gx_dir = (tmp_path / n for n in ("raw", "ok", "q", "gx"))
    days = list(generate("none", 2, 3))
    write_batches(days[:1], raw)
    first = validate_pending_batches(raw, ok, quarantine, gx_dir, contract)
    assert [(o.batch_id, o.success) for o in first] == [("2026-01-01", True)], "first day"
    write_batches(days[1:], raw)
    later = validate_pending_batches(raw, ok, quarantine, gx_dir, contract)
    assert [(o.batch_id, o.success) for o in later] == [("2026-01-02", True)], "only the new day"


def test_a_file_whose_name_is_not_a_date_is_quarantined(
    tmp_path: Path, contract: DatasetContract
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "latest.parquet").write_bytes(b"whatever")
    (raw / ".2026-01-01.parquet.123.tmp").write_bytes(b"a writer's temporary file")
    outcomes = validate_pending_batches(
        raw, tmp_path / "ok", tmp_path / "q", tmp_path / "gx", contract
    )
    assert [(o.batch_id, o.success) for o in outcomes] == [("latest", False)], "only real files"
    assert outcomes[0].failures[0].expectation_type == "batch_file_name", "reason: bad name"
    assert not (tmp_path / "gx").exists(), "no GX context is opened when nothing is validated"


def test_the_raw_folder_must_exist(tmp_path: Path, contract: DatasetContract) -> None:
    with pytest.raises(ValidationInputError, match="does not exist"):
        validate_pending_batches(
            tmp_path / "absent", tmp_path / "ok", tmp_path / "q", tmp_path / "gx", contract
        )
