"""The validation gate: the suite passes clean data, blocks each corruption by name, and the
quarantine adapter files raw batches without ever touching them."""

from __future__ import annotations

import copy
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
import yaml

from data.batches import write_batches
from data.generator import generate, generate_day
from data.scenarios import get_scenario, scenario_timeline
from features.contract import DatasetContract, load_contract, parse_contract
from features.expectations import (
    GUARD_META_KEY,
    build_suite,
    contract_expectations,
    guard_expectations,
)
from features.validation import (
    DATA_DOCS_FILE,
    INDEX_DIR,
    VALIDATION_FILE,
    BatchOutcome,
    BatchValidator,
    ValidationInputError,
    ValidationOutcome,
    batch_date,
    is_batch_id,
    pending_batches,
    stray_files,
    validate_frame,
    validate_pending_batches,
)

REPO = Path(__file__).resolve().parents[2]
CONTRACT_PATH = REPO / "data" / "contracts" / "card_fraud.yaml"
SAMPLE_DIR = REPO / "data" / "sample"


def card_fraud_raw() -> dict[str, Any]:
    """The card-fraud contract as parsed YAML, for tests that edit it before parsing."""
    loaded: dict[str, Any] = yaml.safe_load(CONTRACT_PATH.read_text())
    return loaded


def guard_of(raw: dict[str, Any], check: str, **match: Any) -> dict[str, Any]:
    """The first guard entry of kind `check` (whose keys equal `match`) in a raw contract."""
    return next(
        g
        for g in raw["guards"]
        if g["check"] == check and all(g.get(k) == v for k, v in match.items())
    )


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
        is_label_rate = (expectation.meta or {}).get(GUARD_META_KEY) == "label_rate"
        assert mostly == 1.0 or is_label_rate, (
            f"{expectation.expectation_type} is strict (mostly={mostly})"
        )
    assert suite.meta["contract_hash"] == contract.content_hash(), "suite records its contract"


def _configs(contract: DatasetContract) -> list[tuple[str, dict[str, Any], Any, dict[str, Any]]]:
    """(type, kwargs, notes, meta) of each guard expectation of `contract`."""
    return [
        (e.expectation_type, dict(e.configuration.kwargs), e.notes, dict(e.meta or {}))
        for e in guard_expectations(contract)
    ]


def test_each_guard_kind_becomes_its_expectations_with_its_catches_as_notes(
    contract: DatasetContract,
) -> None:
    by_type = {t: (k, notes, meta) for t, k, notes, meta in _configs(contract)}
    catches = {g.check: g.catches for g in contract.guards}
    rows, notes, _ = by_type["expect_table_row_count_to_be_between"]
    assert (rows["min_value"], rows["max_value"]) == (100, 100_000), "row bounds as ints"
    assert isinstance(rows["min_value"], int), "a row count bound is an int"
    assert notes == catches["row_count"], "row count notes are the guard's catches"

    low, notes, meta = by_type["expect_column_values_to_be_in_set"]
    assert (low["column"], low["value_set"], low["mostly"]) == ("is_fraud", [1], 0.005), (
        f"lower label-rate bound: at least 0.5 % of labels are the positive one: {low}"
    )
    assert notes == catches["label_rate"], "label-rate notes are the guard's catches"
    assert meta[GUARD_META_KEY] == "label_rate", "marked as the label-rate guard"
    high, _, _ = by_type["expect_column_values_to_not_be_in_set"]
    assert (high["value_set"], high["mostly"]) == ([1], pytest.approx(0.85)), (
        f"upper label-rate bound: at least 85 % of labels are not the positive one: {high}"
    )

    median, notes, _ = by_type["expect_column_median_to_be_between"]
    assert (median["column"], median["min_value"], median["max_value"]) == ("amount", 5, 500)
    assert notes == catches["median"], "median notes are the guard's catches"

    present, notes, _ = by_type["expect_column_proportion_of_non_null_values_to_be_between"]
    assert present["min_value"] == pytest.approx(0.2), "null share <= 80 % is non-null >= 20 %"
    assert present["max_value"] == pytest.approx(0.9), "null share >= 10 % is non-null <= 90 %"
    assert notes == catches["null_share"], "null-share notes are the guard's catches"

    pair, notes, _ = by_type["expect_column_pair_values_a_to_be_greater_than_b"]
    assert (pair["column_A"], pair["column_B"], pair["or_equal"]) == (
        "txn_count_24h",
        "txn_count_1h",
        True,
    ), f"upper >= lower: {pair}"
    assert pair["ignore_row_if"] == "either_value_is_missing", "rows with a gap are ignored"
    assert notes == catches["ordered"], "ordered notes are the guard's catches"

    null, notes, _ = by_type["expect_column_values_to_be_null"]
    assert null["column"] == "device_trust_score", "null where the condition holds"
    assert notes == catches["null_when"], "null-when notes are the guard's catches"
    conditional = [
        k
        for t, k, _, _ in _configs(contract)
        if t == "expect_column_values_to_not_be_null" and k.get("row_condition")
    ]
    assert len(conditional) == 1, "present where the condition does not hold"


def test_label_rate_bounds_of_0_1_or_none_add_no_check() -> None:
    raw = card_fraud_raw()
    guard_of(raw, "label_rate").update(min=0.0, max=1.0)
    types = [t for t, *_ in _configs(parse_contract(raw))]
    assert "expect_column_values_to_not_be_in_set" not in types, "max 1 bounds nothing"
    assert types.count("expect_column_values_to_be_in_set") == 0, "min 0 bounds nothing"
    raw = card_fraud_raw()
    label_rate = guard_of(raw, "label_rate")
    label_rate.pop("min")
    types = [t for t, *_ in _configs(parse_contract(raw))]
    assert "expect_column_values_to_not_be_in_set" in types, "max alone is checked"
    assert "expect_column_values_to_be_in_set" not in types, "no min, no lower check"


def test_strict_ordered_guard_and_one_sided_bounds() -> None:
    raw = card_fraud_raw()
    guard_of(raw, "ordered")["strict"] = True
    guard_of(raw, "row_count").pop("max")
    guard_of(raw, "null_share").pop("min")
    by_type = {t: k for t, k, _, _ in _configs(parse_contract(raw))}
    pair = by_type["expect_column_pair_values_a_to_be_greater_than_b"]
    assert pair["or_equal"] is False, "strict means upper > lower"
    rows = by_type["expect_table_row_count_to_be_between"]
    assert (rows["min_value"], rows.get("max_value")) == (100, None), "a missing bound is open"
    present = by_type["expect_column_proportion_of_non_null_values_to_be_between"]
    assert present.get("max_value") is None, "no min null share: no max non-null share"


def test_the_suite_follows_the_contract_guards() -> None:
    raw = card_fraud_raw()
    raw["guards"] = [g for g in raw["guards"] if g["check"] != "median"]
    guard_of(raw, "row_count").update(min=750, max=6000)
    suite = build_suite(parse_contract(raw))
    types = [e.expectation_type for e in suite.expectations]
    assert "expect_column_median_to_be_between" not in types, "a guard left out is absent"
    rows = next(
        e.configuration.kwargs
        for e in suite.expectations
        if e.expectation_type == "expect_table_row_count_to_be_between"
    )
    assert (rows["min_value"], rows["max_value"]) == (750, 6000), "bounds come from the contract"
    raw["guards"] = []
    bare = parse_contract(raw)
    assert len(build_suite(bare).expectations) == len(contract_expectations(bare)), (
        "a contract without guards gets only the per-row rules"
    )


def test_no_label_time_pair_without_a_label_available_column() -> None:
    raw = card_fraud_raw()
    raw.pop("label_available_time_column")
    raw["columns"].pop("label_available_at")
    raw["label_delay"] = "30d"
    types = [e.expectation_type for e in contract_expectations(parse_contract(raw))]
    assert "expect_column_pair_values_a_to_be_greater_than_b" not in types, (
        "with a constant label delay there is no label time to compare"
    )


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


def _device_score_on_card_present(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    row = f.index[f["channel"] == "card_present"][0]
    f.loc[row, "device_trust_score"] = 0.5
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
        "expect_column_values_to_be_in_set",
        "is_fraud",
    ),
    "every row positive": (
        lambda f: f.assign(is_fraud=1),
        "expect_column_values_to_not_be_in_set",
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
    "device score given to a card-present payment": (
        _device_score_on_card_present,
        "expect_column_values_to_be_null",
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


def test_label_rate_reason_is_a_share_of_positives(
    validator: BatchValidator, clean_frame: pd.DataFrame, contract: DatasetContract
) -> None:
    none = validator.validate(clean_frame.assign(is_fraud=0))
    low = next(f for f in none.failures if "share of" in f.reason)
    assert low.reason == "expected the share of is_fraud == 1 in [0.5%, 15%]; observed 0%", (
        low.reason
    )
    assert low.guards_against == guard_catches(contract, "label_rate"), "the contract's note"
    flagged = clean_frame.copy()
    flagged.loc[: len(flagged) // 4, "is_fraud"] = 1
    share = float((flagged["is_fraud"] == 1).mean())
    high = next(f for f in validator.validate(flagged).failures if "share of" in f.reason)
    assert high.reason.endswith(f"observed {share * 100:.3g}%"), high.reason


def test_null_share_reason_is_the_share_of_missing_values(
    validator: BatchValidator, clean_frame: pd.DataFrame
) -> None:
    filled = clean_frame.assign(device_trust_score=clean_frame["device_trust_score"].fillna(0.0))
    outcome = validator.validate(filled)
    failure = next(
        f
        for f in outcome.failures
        if f.expectation_type == "expect_column_proportion_of_non_null_values_to_be_between"
    )
    assert failure.reason == (
        "expected the share of missing device_trust_score in [10%, 80%]; observed 0%"
    ), failure.reason
    null_where = next(
        f for f in outcome.failures if f.expectation_type == "expect_column_values_to_be_null"
    )
    assert "only missing values where channel == 'card_present'" in null_where.reason, (
        null_where.reason
    )


def guard_catches(contract: DatasetContract, check: str) -> str:
    return next(g.catches for g in contract.guards if g.check == check)


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
@pytest.mark.xdist_group("clean-60-days")  # the module's longest: a worker may take it alone
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
    accepted = ("2026-01-01", "2026-01-02", "2026-01-04")
    assert sorted(p.name for p in gated.validated.iterdir()) == [
        INDEX_DIR,
        *(f"{b}.parquet" for b in accepted),
    ], "no temporary or extra file left in the validated folder"
    assert sorted(p.name for p in (gated.validated / INDEX_DIR).iterdir()) == [
        f"{b}.json" for b in accepted
    ], "one index entry per accepted batch, no temporary file"


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
    failure = outcomes[0].failures[0]
    assert failure.expectation_type == "batch_file_name", "reason: bad name"
    assert "YYYY-MM-DD.<suffix>" in failure.reason, f"the reason states the rule: {failure.reason}"
    assert not (tmp_path / "gx").exists(), "no GX context is opened when nothing is validated"


def test_the_raw_folder_must_exist(tmp_path: Path, contract: DatasetContract) -> None:
    with pytest.raises(ValidationInputError, match="does not exist; generate or ingest"):
        validate_pending_batches(
            tmp_path / "absent", tmp_path / "ok", tmp_path / "q", tmp_path / "gx", contract
        )


# --- batch ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2026-01-03", True),
        ("2026-01-03.b", True),
        ("2026-01-03.ingest2", True),
        ("2026-01-03.abcdefghijklmnop", True),
        ("2026-01-03.abcdefghijklmnopq", False),
        ("2026-01-03.B", False),
        ("2026-01-03.", False),
        ("2026-01-03.a.b", False),
        ("2026-01-03_b", False),
        ("2026-02-30", False),
        ("2026-1-3", False),
        ("latest", False),
    ],
)
def test_batch_ids_are_a_day_and_an_optional_suffix(name: str, expected: bool) -> None:
    assert is_batch_id(name) is expected, f"is_batch_id({name!r}) should be {expected}"


def test_batch_date_is_the_day_of_a_batch_with_or_without_suffix() -> None:
    day = datetime.date(2026, 1, 3)
    assert batch_date("2026-01-03") == day, "a plain batch id is its day"
    assert batch_date("2026-01-03.b2") == day, "a suffixed batch belongs to the same day"
    with pytest.raises(ValueError, match="'2026-01-03-b' is not a batch id") as error:
        batch_date("2026-01-03-b")
    assert "YYYY-MM-DD.<suffix>" in str(error.value), "the error states the rule"


def test_suffixed_batches_are_checked_after_their_day_and_filed_by_their_id(
    tmp_path: Path, contract: DatasetContract
) -> None:
    raw, ok, quarantine, gx_dir = (tmp_path / n for n in ("raw", "ok", "q", "gx"))
    raw.mkdir()
    days = [frame for _, frame in generate("none", 2, 4)]
    # A further batch of day 0: other rows of the same day, with ids of their own.
    further = generate_day(0, get_scenario("none"), seed=5, days=2)
    further = further.assign(transaction_id="b-" + further["transaction_id"])
    days[0].to_parquet(raw / "2026-01-01.parquet")
    further.to_parquet(raw / "2026-01-01.b.parquet")
    days[1].to_parquet(raw / "2026-01-02.parquet")
    _cents(further).to_parquet(raw / "2026-01-01.c.parquet")
    outcomes = validate_pending_batches(raw, ok, quarantine, gx_dir, contract)
    assert [(o.batch_id, o.success) for o in outcomes] == [
        ("2026-01-01", True),
        ("2026-01-01.b", True),
        ("2026-01-01.c", False),
        ("2026-01-02", True),
    ], "a day's batches in suffix order, before the next day"
    assert (ok / "2026-01-01.b.parquet").is_file(), "a passing suffixed batch keeps its name"
    assert (quarantine / "2026-01-01.c" / "2026-01-01.c.parquet").is_file(), (
        "a failing suffixed batch gets its own quarantine folder"
    )


def test_stray_files_are_the_visible_non_parquet_files(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("x.csv", "README.md", "2026-01-01.parquet", ".x.csv.partial"):
        (raw / name).write_text("content")
    (raw / "folder").mkdir()
    assert stray_files(raw) == [raw / "README.md", raw / "x.csv"], "what the gate never reads"
    assert pending_batches(raw, tmp_path / "ok", tmp_path / "q") == [raw / "2026-01-01.parquet"], (
        "only the Parquet file is a batch"
    )
    assert stray_files(tmp_path / "absent") == [], "a missing folder holds no stray files"


# --- a second, differently shaped contract: text label, label delay, int condition ----------

CHURN_CATCHES = {
    "row_count": "A truncated or runaway extract.",
    "label_rate": "A label feed that stopped writing cancellations, or marks everyone.",
    "median": "Charges sent in cents (the median multiplied by 100).",
    "null_share": "An outage of the support-ticket system (call counts missing).",
    "ordered": "Call counters swapped: 30 days can never hold more calls than 90 days.",
    "null_when": "A total charge on a customer with no billed month yet, or none on one billed.",
}

CHURN: dict[str, Any] = {
    "name": "churn_test",
    "id_column": "snapshot_id",
    "event_time_column": "snapshot_time",
    "label_column": "churned",
    "positive_label": "yes",
    "label_delay": "7d",
    "score_name": "churn_probability",
    "columns": {
        "snapshot_id": {"dtype": "string"},
        "snapshot_time": {"dtype": "datetime"},
        "churned": {"dtype": "category", "categories": ["no", "yes"]},
        "plan": {"dtype": "category", "categories": ["basic", "plus", "premium"]},
        "tenure_months": {"dtype": "int", "min": 0, "max": 600},
        "monthly_charge": {"dtype": "float", "min": 0, "max": 1000},
        "total_charge": {"dtype": "float", "min": 0, "nullable": True},
        "calls_30d": {"dtype": "int", "min": 0, "nullable": True},
        "calls_90d": {"dtype": "int", "min": 0},
        "senior": {"dtype": "int", "categories": [0, 1]},
    },
    "features": [
        "plan",
        "tenure_months",
        "monthly_charge",
        "total_charge",
        "calls_30d",
        "calls_90d",
    ],
    "segments": ["plan", "senior"],
    "costs": {"currency": "USD", "false_negative": 300, "false_positive": 20},
    "guards": [
        {"check": "row_count", "min": 50, "max": 5000, "catches": CHURN_CATCHES["row_count"]},
        {"check": "label_rate", "min": 0.1, "max": 0.4, "catches": CHURN_CATCHES["label_rate"]},
        {
            "check": "median",
            "column": "monthly_charge",
            "min": 20,
            "max": 200,
            "catches": CHURN_CATCHES["median"],
        },
        {
            "check": "null_share",
            "column": "calls_30d",
            "max": 0.2,
            "catches": CHURN_CATCHES["null_share"],
        },
        {
            "check": "ordered",
            "lower": "calls_30d",
            "upper": "calls_90d",
            "catches": CHURN_CATCHES["ordered"],
        },
        {
            "check": "null_when",
            "column": "total_charge",
            "when": {"column": "tenure_months", "equals": 0},
            "catches": CHURN_CATCHES["null_when"],
        },
    ],
}


def churn_contract(**changes: Any) -> DatasetContract:
    raw = copy.deepcopy(CHURN)
    raw.update(changes)
    return parse_contract(raw, source="tests/features/test_validation.py")


def churn_batch(rows: int = 400, seed: int = 0, positive_share: float = 0.25) -> pd.DataFrame:
    """A clean churn batch: exactly `positive_share` "yes", 5 % of 30-day counts missing."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    tenure[: rows // 10] = 0
    monthly = rng.uniform(20.0, 120.0, rows).round(2)
    total = np.where(tenure == 0, np.nan, monthly * tenure)
    calls_90d = rng.integers(0, 12, rows)
    calls_30d = pd.array(np.minimum(rng.integers(0, 6, rows), calls_90d), dtype="Int64")
    calls_30d[rng.choice(rows, rows // 20, replace=False)] = pd.NA
    positives = round(rows * positive_share)
    churned = rng.permutation(np.array(["yes"] * positives + ["no"] * (rows - positives)))
    start = pd.Timestamp("2026-01-01")
    return pd.DataFrame(
        {
            "snapshot_id": [f"s{seed}-{i:05d}" for i in range(rows)],
            "snapshot_time": start + pd.to_timedelta(np.sort(rng.integers(0, 86_400, rows)), "s"),
            "churned": churned.astype(object),
            "plan": rng.choice(["basic", "plus", "premium"], rows).astype(object),
            "tenure_months": tenure.astype("int64"),
            "monthly_charge": monthly,
            "total_charge": total,
            "calls_30d": calls_30d,
            "calls_90d": calls_90d.astype("int64"),
            "senior": rng.integers(0, 2, rows).astype("int64"),
        }
    )


@pytest.fixture(scope="module")
def churn_validator() -> BatchValidator:
    return BatchValidator(churn_contract())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_churn_batches_pass(churn_validator: BatchValidator, seed: int) -> None:
    batch = churn_batch(seed=seed)
    assert batch["calls_30d"].isna().any(), "the clean batch has gaps in the ordered pair"
    outcome = churn_validator.validate(batch)
    assert outcome.success, f"a clean churn batch passes: {[f.reason for f in outcome.failures]}"
    assert outcome.statistics.evaluated == len(churn_validator.suite.expectations), "all ran"


def _churn_set(
    column: str, rows: Callable[[pd.DataFrame], Any], value: Any
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def corrupt(f: pd.DataFrame) -> pd.DataFrame:
        f = f.copy()
        f.loc[rows(f), column] = value
        return f

    return corrupt


def _swap_one_pair(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    row = f.index[f["calls_30d"].notna() & (f["calls_90d"] > 0)][0]
    f.loc[row, "calls_30d"] = int(f.loc[row, "calls_90d"]) + 1
    return f


CHURN_BREAKS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str, str]] = {
    "truncated extract": (
        lambda f: f.head(20),
        "expect_table_row_count_to_be_between",
        "row_count",
    ),
    "no cancellation at all": (
        lambda f: f.assign(churned="no"),
        "expect_column_values_to_be_in_set",
        "label_rate",
    ),
    "60 % cancellations": (
        lambda f: f.assign(churned=np.where(np.arange(len(f)) < 0.6 * len(f), "yes", "no")),
        "expect_column_values_to_not_be_in_set",
        "label_rate",
    ),
    "charges in cents": (
        lambda f: f.assign(monthly_charge=f["monthly_charge"] * 100, total_charge=np.nan),
        "expect_column_median_to_be_between",
        "median",
    ),
    "support system outage": (
        _churn_set("calls_30d", lambda f: f.index[: len(f) // 2], pd.NA),
        "expect_column_proportion_of_non_null_values_to_be_between",
        "null_share",
    ),
    "counters swapped on one row": (
        _swap_one_pair,
        "expect_column_pair_values_a_to_be_greater_than_b",
        "ordered",
    ),
    "fill-na of total charge for new customers": (
        lambda f: f.assign(total_charge=f["total_charge"].fillna(0.0)),
        "expect_column_values_to_be_null",
        "null_when",
    ),
    "total charge missing for a billed customer": (
        _churn_set("total_charge", lambda f: f.index[f["tenure_months"] > 0][:1], np.nan),
        "expect_column_values_to_not_be_null",
        "null_when",
    ),
}


@pytest.mark.parametrize("kind", list(CHURN_BREAKS))
def test_broken_churn_batches_are_blocked_by_their_guard(
    churn_validator: BatchValidator, kind: str
) -> None:
    corrupt, expectation_type, check = CHURN_BREAKS[kind]
    outcome = churn_validator.validate(corrupt(churn_batch()))
    assert not outcome.success, f"{kind} must fail the gate"
    failures = [f for f in outcome.failures if f.expectation_type == expectation_type]
    assert [f.guards_against for f in failures] == [CHURN_CATCHES[check]], (
        f"{kind} fails {expectation_type} with the {check} guard's catches: "
        f"{[(f.expectation_type, f.reason) for f in outcome.failures]}"
    )
    assert failures[0].reason.startswith("expected "), failures[0].reason


def test_text_label_rate_is_reported_as_a_share_of_the_positive_value(
    churn_validator: BatchValidator,
) -> None:
    low = churn_validator.validate(churn_batch(positive_share=0.05)).failures
    assert [f.reason for f in low] == [
        "expected the share of churned == 'yes' in [10%, 40%]; observed 5%"
    ], "a rate below the guard, in the contract's own terms"
    high = churn_validator.validate(churn_batch(positive_share=0.625)).failures
    assert [f.reason for f in high] == [
        "expected the share of churned == 'yes' in [10%, 40%]; observed 62.5%"
    ], "a rate above the guard"


def test_label_rate_counts_only_labelled_rows() -> None:
    raw = copy.deepcopy(CHURN)
    raw["columns"]["churned"]["nullable"] = True
    validator = BatchValidator(parse_contract(raw))
    batch = churn_batch(positive_share=0.125)
    unlabelled = batch.index[batch["churned"] == "no"][:200]
    batch.loc[unlabelled, "churned"] = None  # 50 "yes" among 200 labelled rows: 25 %
    assert validator.validate(batch).success, "a quarter of the labelled rows are positive"
    batch.loc[batch.index[batch["churned"] == "no"][:120], "churned"] = None
    outcome = validator.validate(batch)  # 50 "yes" among 80 labelled rows: 62.5 %
    assert [f.reason for f in outcome.failures] == [
        "expected the share of churned == 'yes' in [10%, 40%]; observed 62.5%"
    ], "missing labels are left out of the share"


def test_null_when_reasons_name_the_condition_with_an_int_value(
    churn_validator: BatchValidator,
) -> None:
    filled = churn_batch().assign(total_charge=lambda f: f["total_charge"].fillna(0.0))
    (failure,) = churn_validator.validate(filled).failures
    assert failure.reason == (
        "expected only missing values where tenure_months == 0; 40 of 40 such rows violate it "
        "(100.00 %), e.g. [0, 0, 0, 0, 0, …]"
    ), failure.reason
    broken = CHURN_BREAKS["total charge missing for a billed customer"][0](churn_batch())
    (failure,) = churn_validator.validate(broken).failures
    assert failure.reason.startswith(
        "expected no missing values where tenure_months != 0; 1 of 360 such rows violate it"
    ), failure.reason


def test_ordered_guard_ignores_rows_with_a_missing_value(churn_validator: BatchValidator) -> None:
    batch = churn_batch()
    batch["calls_30d"] = batch["calls_30d"].astype("Int64")
    gaps = batch.index[batch["calls_30d"].isna()]
    assert len(gaps) == 20, "the batch has missing 30-day counts"
    assert churn_validator.validate(batch).success, "a missing value is not a violation"
    (failure,) = churn_validator.validate(_swap_one_pair(batch)).failures
    assert failure.reason.startswith("expected calls_90d >= calls_30d where both are present"), (
        failure.reason
    )
    assert "1 of 380 non-missing rows violate it (0.26 %)" in failure.reason, (
        f"counted on the 380 rows where both are present: {failure.reason}"
    )


def test_a_nullable_int_column_may_arrive_as_a_pandas_nullable_int(
    churn_validator: BatchValidator,
) -> None:
    batch = churn_batch()
    assert batch["calls_30d"].dtype == "Int64", "a nullable int column read with its gaps"
    for dtype in ("Int64", "Int32"):
        outcome = churn_validator.validate(batch.assign(calls_30d=batch["calls_30d"].astype(dtype)))
        assert outcome.success, f"{dtype} is an int column: {[f.reason for f in outcome.failures]}"
    as_float = churn_validator.validate(batch.assign(calls_30d=batch["calls_30d"].astype(float)))
    assert as_float.failed("expect_column_values_to_be_in_type_list", "calls_30d"), (
        "nulls that turned an int column into floats are a type break"
    )


def test_text_label_outside_its_categories_is_blocked_with_a_generic_note(
    churn_validator: BatchValidator,
) -> None:
    batch = churn_batch()
    batch.loc[3, "churned"] = "Yes"
    (failure,) = churn_validator.validate(batch).failures
    assert (failure.expectation_type, failure.column) == (
        "expect_column_values_to_be_in_set",
        "churned",
    ), "the label's category check"
    assert "['no', 'yes']" in failure.guards_against, failure.guards_against
    assert "0/1" not in failure.guards_against, "the note does not assume an integer label"
