"""The churn generator: determinism, its contract, realism, each scenario's effect, the gate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score
from threadpoolctl import threadpool_limits

from data.churn import (
    AGE_BANDS,
    CONTRACT_TYPES,
    DEFAULT_ROWS_PER_DAY,
    LABEL_DELAY_DAYS,
    PAYMENT_METHODS,
    PLANS,
    REGIONS,
    SCENARIOS,
    generate,
    generate_day,
    scenario_names,
    scenario_timeline,
)
from features.contract import DatasetContract, load_contract
from features.validation import BatchValidator, ValidationOutcome, validate_frame

from .conftest import REPO

CONTRACT_PATH = REPO / "data" / "contracts" / "churn.yaml"
DAYS = 40
ONSET = 24  # the onset the runs fixture sets
INCIDENT = 16  # default incident of a 40-day run
NUMERIC_FEATURES = [
    "tenure_months",
    "monthly_charges",
    "months_to_renewal",
    "support_tickets_30d",
    "usage_change_pct",
    "days_since_last_login",
]

Runs = dict[str, list[pd.DataFrame]]

_EXPECTED_DTYPE = {
    "string": "object",
    "category": "object",
    "datetime": "datetime64[ns]",
    "float": "float64",
    "int": "int64",
}


def _run(scenario: str, seed: int = 1, rows: int = DEFAULT_ROWS_PER_DAY) -> list[pd.DataFrame]:
    return [f for _, f in generate(scenario, DAYS, seed, rows_per_day=rows, onset_day=ONSET)]


@pytest.fixture(scope="module")
def contract() -> DatasetContract:
    return load_contract(CONTRACT_PATH)


@pytest.fixture(scope="module")
def runs() -> Runs:
    """40-day runs (onset day 24, incident day 16) of every scenario, seed 1, 500 rows a day."""
    return {name: _run(name) for name in scenario_names()}


def _churned(frame: pd.DataFrame) -> pd.Series:
    return frame["churned"].eq("yes").astype(int)


def _rate(frames: list[pd.DataFrame]) -> float:
    return float(_churned(pd.concat(frames, ignore_index=True)).mean())


def violations(frame: pd.DataFrame, contract: DatasetContract) -> list[str]:
    """Every way `frame` breaks the contract, as readable strings (empty when it conforms)."""
    if list(frame.columns) != contract.column_names:
        return [f"columns {list(frame.columns)} != contract {contract.column_names}"]
    problems: list[str] = []
    for name, spec in contract.columns.items():
        column = frame[name]
        if str(column.dtype) != _EXPECTED_DTYPE[spec.dtype]:
            problems.append(f"{name}: dtype {column.dtype}, expected {_EXPECTED_DTYPE[spec.dtype]}")
        if column.isna().any() and not spec.nullable:
            problems.append(f"{name}: {int(column.isna().sum())} missing values, not nullable")
        values = column.dropna()
        if spec.min is not None and (values < spec.min).any():
            problems.append(f"{name}: min {values.min()} < {spec.min}")
        if spec.max is not None and (values > spec.max).any():
            problems.append(f"{name}: max {values.max()} > {spec.max}")
        if spec.categories is not None:
            unknown = set(values.unique()) - set(spec.categories)
            if unknown:
                problems.append(f"{name}: values {sorted(unknown, key=str)} not in categories")
        if spec.dtype in ("string", "category") and not all(type(v) is str for v in values):
            problems.append(f"{name}: not all values are plain str")
    if frame[contract.id_column].duplicated().any():
        problems.append(f"{contract.id_column}: duplicated ids")
    return problems


# --- determinism ---------------------------------------------------------------------------


def test_same_arguments_give_identical_frames() -> None:
    a = generate_day(25, SCENARIOS["default"], seed=3, days=DAYS)
    b = generate_day(25, SCENARIOS["default"], seed=3, days=DAYS)
    pd.testing.assert_frame_equal(a, b, check_exact=True, obj="same seed, same day")


def test_different_seed_or_day_gives_different_data() -> None:
    a = generate_day(5, SCENARIOS["none"], seed=3, days=DAYS)
    other_seed = generate_day(5, SCENARIOS["none"], seed=4, days=DAYS)
    other_day = generate_day(6, SCENARIOS["none"], seed=3, days=DAYS)
    charges = a["monthly_charges"].to_numpy()
    assert not np.array_equal(charges, other_seed["monthly_charges"]), "seed changes the data"
    assert not np.array_equal(charges, other_day["monthly_charges"]), "each day has its draws"


def test_a_day_regenerated_alone_equals_the_same_day_of_a_run(runs: Runs) -> None:
    alone = generate_day(30, SCENARIOS["default"], seed=1, days=DAYS, onset_day=ONSET)
    pd.testing.assert_frame_equal(alone, runs["default"][30], obj="day 30 alone vs in run")


def test_a_scenario_equals_none_before_its_onset_and_off_its_incident_day(runs: Runs) -> None:
    none = runs["none"]
    for name in ("covariate_shift", "concept_drift", "quality_incident", "schema_break", "default"):
        for day_index in (0, INCIDENT - 1, INCIDENT + 1, ONSET - 1):
            pd.testing.assert_frame_equal(
                runs[name][day_index], none[day_index], obj=f"{name} day {day_index} vs none"
            )


def test_concept_drift_changes_only_the_label_after_onset(runs: Runs) -> None:
    for day_index in (ONSET, DAYS - 1):
        drifted, none = runs["concept_drift"][day_index], runs["none"][day_index]
        pd.testing.assert_frame_equal(
            drifted.drop(columns="churned"),
            none.drop(columns="churned"),
            obj=f"concept drift day {day_index}: features unchanged",
        )
        assert not drifted["churned"].equals(none["churned"]), f"day {day_index}: labels change"


def test_covariate_shift_keeps_ids_and_times_and_moves_the_population(runs: Runs) -> None:
    shifted, none = runs["covariate_shift"][ONSET], runs["none"][ONSET]
    for column in ("snapshot_id", "customer_id", "snapshot_time", "region"):
        pd.testing.assert_series_equal(shifted[column], none[column], obj=column)
    assert not shifted["age_band"].equals(none["age_band"]), "the promotion changes who arrives"


# --- the contract --------------------------------------------------------------------------


def test_the_contract_loads_with_its_use_case_shape(contract: DatasetContract) -> None:
    assert contract.name == "churn", f"name {contract.name}"
    assert contract.label_values == ("no", "yes"), f"text label, got {contract.label_values}"
    assert contract.positive == "yes", f"positive label {contract.positive!r}"
    assert contract.label_available_time_column is None, "no label-available column"
    assert contract.label_delay is not None, "a constant label delay"
    assert contract.label_delay.days == LABEL_DELAY_DAYS == 7, f"delay {contract.label_delay}"
    assert contract.score_name == "churn_probability", f"score {contract.score_name}"
    assert "age_band" in contract.segments, "age_band is a segment"
    assert "age_band" not in contract.features, "age_band must never feed the model"
    assert contract.extra_segments == ["age_band"], f"extra segments {contract.extra_segments}"
    assert contract.costs.false_negative > contract.costs.false_positive, "a miss costs more"
    checks = {guard.check for guard in contract.guards}
    assert {"row_count", "label_rate", "median", "null_when"} <= checks, f"guards: {checks}"
    assert all(guard.catches.strip() for guard in contract.guards), "every guard says why"


def test_generator_vocabularies_match_the_contract(contract: DatasetContract) -> None:
    for column, values in (
        ("plan", PLANS),
        ("contract_type", CONTRACT_TYPES),
        ("payment_method", PAYMENT_METHODS),
        ("region", REGIONS),
        ("age_band", AGE_BANDS),
    ):
        declared = contract.columns[column].categories
        assert tuple(declared or ()) == values, f"{column}: {declared} != {values}"


@pytest.mark.parametrize("scenario", ["none", "covariate_shift", "concept_drift", "default"])
def test_clean_days_conform_to_the_contract(
    contract: DatasetContract, runs: Runs, scenario: str
) -> None:
    for day_index in (0, ONSET - 1, ONSET, DAYS - 1):
        problems = violations(runs[scenario][day_index], contract)
        assert problems == [], f"{scenario} day {day_index}: {problems}"


def test_ids_are_unique_across_days_and_snapshots_fall_on_their_day(runs: Runs) -> None:
    run = pd.concat(runs["none"], ignore_index=True)
    assert run["snapshot_id"].is_unique, "snapshot ids must be unique across days"
    for day_index, frame in enumerate(runs["none"][:3]):
        day = pd.Timestamp("2026-01-01") + pd.Timedelta(days=day_index)
        times = frame["snapshot_time"]
        assert times.is_monotonic_increasing, f"day {day_index}: rows sorted by snapshot time"
        assert times.min() >= day, f"day {day_index}: snapshot before its day"
        assert times.max() < day + pd.Timedelta(days=1), f"day {day_index}: after its day"
        assert frame["customer_id"].is_unique, f"day {day_index}: one snapshot per customer"


# --- realism -------------------------------------------------------------------------------


def test_daily_churn_rate_stays_between_15_and_25_percent() -> None:
    for seed in (1, 2, 3):
        frames = _run("none", seed=seed, rows=1500)
        rates = np.array([_churned(frame).mean() for frame in frames])
        assert rates.min() >= 0.15, f"seed {seed}: lowest daily rate {rates.min():.1%}"
        assert rates.max() <= 0.25, f"seed {seed}: highest daily rate {rates.max():.1%}"
        assert 0.18 <= rates.mean() <= 0.22, f"seed {seed}: mean rate {rates.mean():.1%}"


def test_every_scenario_keeps_the_rate_near_20_percent(runs: Runs) -> None:
    for name in ("none", "covariate_shift", "concept_drift", "default"):
        after = _rate(runs[name][ONSET:])
        assert 0.15 <= after <= 0.27, f"{name}: churn rate after onset {after:.1%}"


def test_churn_depends_on_several_features_not_one(runs: Runs) -> None:
    run = pd.concat(runs["none"], ignore_index=True)
    y = _churned(run)
    aucs = {}
    for column in NUMERIC_FEATURES:
        auc = roc_auc_score(y, run[column].fillna(-1))
        aucs[column] = max(auc, 1 - auc)
    for column in ("plan", "contract_type", "payment_method", "region"):
        aucs[column] = roc_auc_score(y, run[column].map(y.groupby(run[column]).mean()))
    assert max(aucs.values()) < 0.75, f"one feature nearly decides churn: {aucs}"
    assert sum(auc > 0.6 for auc in aucs.values()) >= 4, f"too few informative features: {aucs}"
    by_contract = y.groupby(run["contract_type"]).mean()
    assert by_contract["month_to_month"] > 3 * by_contract["two_year"], f"{by_contract}"


def test_age_band_is_modestly_associated_with_churn(runs: Runs) -> None:
    run = pd.concat(runs["none"], ignore_index=True)
    by_age = _churned(run).groupby(run["age_band"]).mean()
    ratio = by_age["18-29"] / by_age["65+"]
    assert 1.2 <= ratio <= 2.0, f"young vs old churn ratio {ratio:.2f} should be modest: {by_age}"


def test_months_to_renewal_is_missing_exactly_for_month_to_month(runs: Runs) -> None:
    run = pd.concat(runs["none"], ignore_index=True)
    monthly = run["contract_type"] == "month_to_month"
    assert run.loc[monthly, "months_to_renewal"].isna().all(), "no renewal on month-to-month"
    assert run.loc[~monthly, "months_to_renewal"].notna().all(), "fixed terms have a renewal"
    one_year = run["contract_type"] == "one_year"
    assert run.loc[one_year, "months_to_renewal"].max() <= 12, "a one-year term has <= 12 left"
    assert (run["usage_change_pct"] < 0).mean() > 0.3, "usage often falls (negative change)"


# --- scenario effects ----------------------------------------------------------------------


def test_quality_incident_puts_charges_in_cents_on_the_incident_day_only(runs: Runs) -> None:
    frames = runs["quality_incident"]
    medians = np.array([frame["monthly_charges"].median() for frame in frames])
    others = np.delete(medians, INCIDENT)
    ratio = medians[INCIDENT] / np.median(others)
    assert 70 <= ratio <= 140, f"incident-day median should be ~100x, got {ratio:.0f}x"
    clean, broken = runs["none"][INCIDENT], frames[INCIDENT]
    np.testing.assert_allclose(broken["monthly_charges"], clean["monthly_charges"] * 100, atol=0.5)
    pd.testing.assert_frame_equal(
        broken.drop(columns="monthly_charges"),
        clean.drop(columns="monthly_charges"),
        obj="the rest of the incident day is clean",
    )


def test_schema_break_renames_and_drops_columns_on_the_incident_day_only(
    contract: DatasetContract, runs: Runs
) -> None:
    frames = runs["schema_break"]
    broken = set(frames[INCIDENT].columns)
    assert "plan_tier" in broken, "plan renamed plan_tier"
    assert "plan" not in broken, "old name gone"
    assert "days_since_last_login" not in broken, "days_since_last_login missing"
    for day_index in (INCIDENT - 1, INCIDENT + 1):
        assert list(frames[day_index].columns) == contract.column_names, f"day {day_index}"


def test_covariate_shift_brings_younger_cheaper_month_to_month_customers(runs: Runs) -> None:
    def profile(frames: list[pd.DataFrame]) -> pd.Series:
        run = pd.concat(frames, ignore_index=True)
        return pd.Series(
            {
                "young": run["age_band"].eq("18-29").mean(),
                "basic": run["plan"].eq("basic").mean(),
                "monthly": run["contract_type"].eq("month_to_month").mean(),
                "tenure": run["tenure_months"].median(),
                "charges": run["monthly_charges"].median(),
            }
        )

    shifted = runs["covariate_shift"]
    before, after = profile(shifted[:ONSET]), profile(shifted[ONSET:])
    assert after["young"] > before["young"] + 0.1, f"younger: {before} -> {after}"
    assert after["basic"] > before["basic"] + 0.1, f"cheaper plans: {before} -> {after}"
    assert after["monthly"] > before["monthly"] + 0.1, f"month-to-month: {before} -> {after}"
    assert after["tenure"] < before["tenure"] * 0.8, f"newcomers: {before} -> {after}"
    assert after["charges"] < before["charges"] * 0.85, f"promo prices: {before} -> {after}"


def _model_input(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    x = frame[list(contract.features)].copy()
    for column in contract.categorical_features:
        x[column] = pd.Categorical(x[column], categories=contract.columns[column].categories)
    return x


def _fit(frames: list[pd.DataFrame], contract: DatasetContract) -> HistGradientBoostingClassifier:
    train = pd.concat(frames, ignore_index=True)
    model = HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_iter=100, random_state=0
    )
    return model.fit(_model_input(train, contract), _churned(train))


def _pr_auc(
    model: HistGradientBoostingClassifier, frames: list[pd.DataFrame], contract: DatasetContract
) -> float:
    test = pd.concat(frames, ignore_index=True)
    proba = model.predict_proba(_model_input(test, contract))[:, 1]
    return float(average_precision_score(_churned(test), proba))


def test_a_model_trained_before_onset_goes_stale_under_concept_drift_only(
    contract: DatasetContract, runs: Runs
) -> None:
    pre_onset = slice(ONSET - 7, ONSET)
    late = slice(ONSET + 8, None)  # after the 8 days a fresh model is trained on
    scores = {}
    # One thread: OpenMP threads fighting over shared cores make HGB ~15x slower.
    with threadpool_limits(1):
        for name in ("concept_drift", "covariate_shift"):
            frames = runs[name]
            stale = _fit(frames[: ONSET - 7], contract)
            scores[name] = {
                "pre": _pr_auc(stale, frames[pre_onset], contract),
                "post": _pr_auc(stale, frames[ONSET:], contract),
                "late": _pr_auc(stale, frames[late], contract),
            }
        drifted = runs["concept_drift"]
        fresh = _fit(drifted[ONSET : ONSET + 8], contract)
        late_fresh = _pr_auc(fresh, drifted[late], contract)
    drift, shift = scores["concept_drift"], scores["covariate_shift"]
    assert drift["pre"] > 0.35, f"pre-onset PR-AUC should be useful: {drift}"
    assert drift["post"] < drift["pre"] - 0.07, f"concept drift should cost PR-AUC: {drift}"
    assert late_fresh > drift["late"] + 0.2, f"retraining recovers ({late_fresh:.3f}): {drift}"
    assert shift["post"] > shift["pre"] - 0.05, f"P(churn | x) unchanged under shift: {shift}"


def test_concept_drift_makes_price_dominate(runs: Runs) -> None:
    frames = runs["concept_drift"]
    before = pd.concat(frames[:ONSET], ignore_index=True)
    after = pd.concat(frames[ONSET:], ignore_index=True)
    auc_before = roc_auc_score(_churned(before), before["monthly_charges"])
    auc_after = roc_auc_score(_churned(after), after["monthly_charges"])
    assert auc_before < 0.6, f"price is a weak signal before onset (AUC {auc_before:.3f})"
    assert auc_after > 0.85, f"price dominates after onset (AUC {auc_after:.3f})"


# --- the validation gate -------------------------------------------------------------------


def _failed(outcome: ValidationOutcome) -> set[tuple[str, str | None]]:
    failed = {(f.expectation_type, f.column) for f in outcome.failures}
    assert outcome.success == (not failed), f"success {outcome.success} but failed {failed}"
    return failed


def test_the_gate_passes_clean_days(contract: DatasetContract) -> None:
    # One validator for every batch: building the suite costs about a second each time.
    validator = BatchValidator(contract)
    incident = scenario_timeline("default", 20, onset_day=10).incident_day
    for seed in (1, 2):
        for day_index, (_, frame) in enumerate(generate("default", 20, seed, onset_day=10)):
            if day_index == incident:
                continue
            failed = _failed(validator.validate(frame))
            assert failed == set(), f"seed {seed} day {day_index}: clean day blocked by {failed}"


def test_the_gate_blocks_the_incident_days(contract: DatasetContract, runs: Runs) -> None:
    cents = _failed(validate_frame(runs["quality_incident"][INCIDENT], contract))
    assert ("expect_column_median_to_be_between", "monthly_charges") in cents, f"{cents}"
    broken = _failed(validate_frame(runs["schema_break"][INCIDENT], contract))
    assert ("expect_table_columns_to_match_set", None) in broken, f"{broken}"


# --- invalid arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenario": "nope"}, "unknown churn scenario 'nope'; valid scenarios: none, "),
        ({"days": 0}, "days must be at least 1"),
        ({"rows_per_day": 49}, "rows per day must be at least 50"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"scenario": "default", "incident_day": 5, "onset_day": 5}, "incident_day < onset_day"),
    ],
)
def test_generate_rejects_bad_arguments_before_producing_anything(
    kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, object] = {"scenario": "concept_drift", "days": 10, "seed": 1}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        generate(**arguments)  # type: ignore[arg-type]


def test_every_scenario_has_a_one_line_summary() -> None:
    assert scenario_names()[0] == "none", "the control comes first"
    assert {"none", "default"} <= set(SCENARIOS), "the demo needs none and default"
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name, f"{name}: registered under {scenario.name}"
        assert scenario.summary, f"{name}: empty summary"
        assert "\n" not in scenario.summary, f"{name}: summary not one line"
        assert len(scenario.summary) <= 120, f"{name}: summary too long for --help"
