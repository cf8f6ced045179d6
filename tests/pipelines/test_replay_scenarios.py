"""Replay scenarios on any contract: plans made once, days transformed, the gate's verdicts.

Two contracts: the card-fraud one (0/1 labels, a label-available column, a median guard) with
frames from its generator, and a small text-label one built here ("no"/"yes", a constant label
delay, a nullable feature and a segment that is not a feature).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from data.generator import generate_day
from data.scenarios import get_scenario
from features.contract import DatasetContract, load_contract, parse_contract
from features.validation import validate_frame
from pipelines.replay_scenarios import (
    DEFAULT_FLIP_SHARE,
    DEFAULT_SHIFT_SDS,
    ConceptDrift,
    CovariateShift,
    DropColumn,
    RenameCategory,
    ScaleColumn,
    ScenarioError,
    ScenarioPlan,
    apply_scenario,
    plan_scenario,
    scenario_summaries,
)

CARD_CONTRACT = Path(__file__).resolve().parents[2] / "data" / "contracts" / "card_fraud.yaml"
DAYS = 20
HISTORY_DAYS = 8  # replayed days 0-7 are the history; incident 8 (40 %), onset 10 (50 %)
INCIDENT = 8
ONSET = 10
SEED = 11

# --- the two contracts and their days -----------------------------------------------------------


def churn_raw(**changes: Any) -> dict[str, Any]:
    """A text-label contract: "yes" is positive, labels known 7 days later, a nullable feature."""
    raw: dict[str, Any] = {
        "name": "churn_test",
        "id_column": "customer_id",
        "event_time_column": "event_time",
        "label_column": "churned",
        "positive_label": "yes",
        "label_delay": "7d",
        "columns": {
            "customer_id": {"dtype": "string"},
            "event_time": {"dtype": "datetime"},
            "monthly_charges": {"dtype": "float", "min": 0, "max": 500, "nullable": True},
            "tenure_months": {"dtype": "int", "min": 0, "max": 120},
            "plan": {"dtype": "category", "categories": ["basic", "plus", "pro"]},
            "region": {"dtype": "category", "categories": ["north", "south", "east", "west"]},
            "churned": {"dtype": "category", "categories": ["no", "yes"]},
        },
        "features": ["monthly_charges", "tenure_months", "plan"],
        "segments": ["region"],
        "costs": {"false_negative": 50, "false_positive": 5},
        "guards": [
            {"check": "row_count", "min": 50, "catches": "a truncated extract"},
            {"check": "label_rate", "min": 0.05, "max": 0.5, "catches": "a broken label feed"},
        ],
    }
    raw.update(changes)
    return raw


CHURN = parse_contract(churn_raw(), "churn_test")
CARD = load_contract(CARD_CONTRACT)


def churn_day(index: int, rows: int = 300) -> pd.DataFrame:
    """One day of the text-label contract: about 20 % "yes", 5 % of charges missing."""
    rng = np.random.default_rng([SEED, index])
    start = np.datetime64("2026-03-01", "ns") + np.timedelta64(index, "D")
    seconds = np.sort(rng.integers(0, 86_400, rows)).astype("timedelta64[s]")
    charges = np.round(20 + rng.gamma(2.0, 25.0, rows), 2)
    charges[rng.random(rows) < 0.05] = np.nan
    tenure = rng.integers(0, 73, rows).astype("int64")
    logit = -1.4 + 0.02 * (np.nan_to_num(charges, nan=70) - 70) - 0.04 * (tenure - 36)
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customer_id": np.array([f"c-{index:03d}-{i:05d}" for i in range(rows)], dtype=object),
            "event_time": (start + seconds).astype("datetime64[ns]"),
            "monthly_charges": charges,
            "tenure_months": tenure,
            "plan": rng.choice(
                np.array(["basic", "plus", "pro"], dtype=object), rows, p=[0.5, 0.3, 0.2]
            ),
            "region": rng.choice(
                np.array(["north", "south", "east", "west"], dtype=object),
                rows,
                p=[0.4, 0.3, 0.2, 0.1],
            ),
            "churned": np.where(churned, "yes", "no").astype(object),
        }
    )


@pytest.fixture(scope="module")
def card_days() -> list[pd.DataFrame]:
    scenario = get_scenario("none")
    return [generate_day(i, scenario, seed=SEED, days=DAYS, rows=300) for i in range(DAYS)]


@pytest.fixture(scope="module")
def churn_days() -> list[pd.DataFrame]:
    return [churn_day(i) for i in range(DAYS)]


@pytest.fixture(scope="module", params=["card", "churn"])
def case(
    request: pytest.FixtureRequest,
    card_days: list[pd.DataFrame],
    churn_days: list[pd.DataFrame],
) -> tuple[DatasetContract, list[pd.DataFrame]]:
    """Each contract with its replayed days."""
    return (CARD, card_days) if request.param == "card" else (CHURN, churn_days)


def history_of(days: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(days[:HISTORY_DAYS], ignore_index=True)


def plan(name: str, contract: DatasetContract, days: list[pd.DataFrame], **kw: Any) -> ScenarioPlan:
    return plan_scenario(name, contract, history_of(days), days=DAYS, seed=SEED, **kw)


def assert_same(left: pd.DataFrame, right: pd.DataFrame, what: str) -> None:
    try:
        pd.testing.assert_frame_equal(left, right)
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}") from None


# --- names ----------------------------------------------------------------------------------------


def test_scenarios_are_listed_in_order_each_with_one_short_line() -> None:
    summaries = scenario_summaries()
    assert list(summaries) == [
        "none",
        "quality_incident",
        "covariate_shift",
        "concept_drift",
        "schema_break",
        "default",
    ], f"names or order: {list(summaries)}"
    for name, line in summaries.items():
        assert line, f"{name}: empty summary"
        assert "\n" not in line, f"{name}: summary on several lines"
        assert len(line) <= 120, f"{name}: summary too long for --help: {line!r}"


def test_an_unknown_name_fails_listing_the_valid_ones(card_days: list[pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'gradual'") as raised:
        plan("gradual", CARD, card_days)
    for name in scenario_summaries():
        assert name in str(raised.value), f"{name} missing from: {raised.value}"


# --- none -----------------------------------------------------------------------------------------


def test_none_changes_nothing_and_returns_a_new_frame(
    case: tuple[DatasetContract, list[pd.DataFrame]],
) -> None:
    contract, days = case
    none = plan("none", contract, days)
    assert (none.incident_day, none.onset_day) == (None, None), f"timeline {none.timeline}"
    for index in (0, INCIDENT, ONSET, DAYS - 1):
        out = apply_scenario(days[index], none, index, contract)
        assert out is not days[index], f"day {index}: the input itself was returned"
        assert_same(out, days[index], f"day {index} of scenario none")
        assert none.changes_on(index) == (), f"day {index}: {none.changes_on(index)}"


# --- quality incident -----------------------------------------------------------------------------


def test_card_quality_incident_scales_the_median_guarded_feature_and_the_gate_blocks_it(
    card_days: list[pd.DataFrame],
) -> None:
    incident = plan("quality_incident", CARD, card_days)
    assert incident.incident_day == INCIDENT, f"default incident day {incident.incident_day}"
    scaled = incident.incident
    assert isinstance(scaled, ScaleColumn), f"incident {scaled}"
    assert (scaled.column, scaled.factor) == ("amount", 100), f"incident {scaled}"
    assert "median" in scaled.reason, f"reason: {scaled.reason}"
    assert incident.warnings == (), f"warnings: {incident.warnings}"

    broken = apply_scenario(card_days[INCIDENT], incident, INCIDENT, CARD)
    expected = card_days[INCIDENT]["amount"] * 100
    pd.testing.assert_series_equal(broken["amount"], expected, obj="amount on the incident day")
    outcome = validate_frame(broken, CARD)
    assert not outcome.success, "the gate let the x100 day through"
    assert outcome.failed("expect_column_median_to_be_between", "amount"), outcome.summary()
    for index in (INCIDENT - 1, INCIDENT + 1, DAYS - 1):
        out = apply_scenario(card_days[index], incident, index, CARD)
        assert_same(out, card_days[index], f"day {index} is not the incident")
    clean = apply_scenario(card_days[INCIDENT - 1], incident, INCIDENT - 1, CARD)
    assert validate_frame(clean, CARD).success, "a day before the incident was blocked"


def test_text_label_quality_incident_keeps_missing_values_and_is_blocked(
    churn_days: list[pd.DataFrame],
) -> None:
    incident = plan("quality_incident", CHURN, churn_days)
    scaled = incident.incident
    assert isinstance(scaled, ScaleColumn), f"incident {scaled}"
    assert scaled.column == "monthly_charges", f"largest median: {scaled}"
    assert "largest median" in scaled.reason, f"reason: {scaled.reason}"
    day = churn_days[INCIDENT]
    broken = apply_scenario(day, incident, INCIDENT, CHURN)
    assert broken["monthly_charges"].dtype == "float64", f"dtype {broken['monthly_charges'].dtype}"
    assert broken["monthly_charges"].isna().equals(day["monthly_charges"].isna()), "nulls moved"
    assert day["monthly_charges"].max() < 500 < broken["monthly_charges"].max(), "no value left"
    outcome = validate_frame(broken, CHURN)
    assert outcome.failed("expect_column_values_to_be_between", "monthly_charges"), (
        outcome.summary()
    )
    assert validate_frame(churn_days[INCIDENT], CHURN).success, "the untouched day is blocked"


def test_quality_incident_warns_when_nothing_in_the_contract_would_see_it(
    churn_days: list[pd.DataFrame],
) -> None:
    raw = churn_raw()
    raw["columns"]["monthly_charges"] = {"dtype": "float", "min": 0, "nullable": True}
    unbounded = parse_contract(raw, "no max")
    incident = plan("quality_incident", unbounded, churn_days)
    assert any("let the incident day through" in w for w in incident.warnings), incident.warnings


@pytest.mark.parametrize(
    ("categories", "renamed_to"),
    [(["basic", "plus", "pro"], "BASIC"), (["BASIC", "PLUS", "PRO"], "basic")],
)
def test_without_numeric_features_the_incident_renames_the_most_frequent_category(
    churn_days: list[pd.DataFrame], categories: list[str], renamed_to: str
) -> None:
    raw = churn_raw(features=["plan"])
    raw["columns"]["plan"] = {"dtype": "category", "categories": categories}
    categorical_only = parse_contract(raw, "categories only")
    spelled = {"basic": categories[0], "plus": categories[1], "pro": categories[2]}
    days = [day.assign(plan=day["plan"].map(spelled)) for day in churn_days]
    incident = plan("quality_incident", categorical_only, days)
    renamed = incident.incident
    assert isinstance(renamed, RenameCategory), f"incident {renamed}"
    assert (renamed.column, renamed.category) == ("plan", categories[0]), f"rename {renamed}"
    assert renamed.renamed_to == renamed_to, f"renamed to {renamed.renamed_to!r}"
    day = days[INCIDENT]
    broken = apply_scenario(day, incident, INCIDENT, categorical_only)
    was_renamed = day["plan"] == categories[0]
    assert (broken.loc[was_renamed, "plan"] == renamed_to).all(), "a row was not renamed"
    assert broken.loc[~was_renamed, "plan"].equals(day.loc[~was_renamed, "plan"]), "others changed"
    assert broken["plan"].dtype == object, f"dtype {broken['plan'].dtype}"
    assert not validate_frame(broken, categorical_only).success, "the gate let a new code through"


# --- covariate shift ------------------------------------------------------------------------------


def test_covariate_shift_moves_one_feature_by_about_k_sd_and_stays_in_range(
    case: tuple[DatasetContract, list[pd.DataFrame]],
) -> None:
    contract, days = case
    drift = plan("covariate_shift", contract, days)
    shift = drift.covariate_shift
    assert isinstance(shift, CovariateShift), f"plan {drift}"
    assert drift.onset_day == ONSET, f"default onset {drift.onset_day}"
    assert shift.k == DEFAULT_SHIFT_SDS, f"k {shift.k}"
    spec = contract.columns[shift.column]
    history = history_of(days)[shift.column]
    assert shift.history_sd == pytest.approx(history.std()), "sd not measured on the history"
    for index in (ONSET, DAYS - 1):
        before, after = days[index], apply_scenario(days[index], drift, index, contract)
        moved = (after[shift.column].mean() - before[shift.column].mean()) / shift.history_sd
        assert moved == pytest.approx(DEFAULT_SHIFT_SDS, rel=0.15), f"day {index}: {moved} SD"
        values = after[shift.column].dropna()
        assert spec.min is None or values.min() >= spec.min, f"day {index}: below min"
        assert spec.max is None or values.max() <= spec.max, f"day {index}: above max"
        assert after[shift.column].dtype == before[shift.column].dtype, "dtype changed"
        assert after[shift.column].isna().equals(before[shift.column].isna()), "nulls moved"
        others = [c for c in before.columns if c != shift.column]
        assert_same(after[others], before[others], f"day {index}: other columns")
    assert_same(
        apply_scenario(days[ONSET - 1], drift, ONSET - 1, contract), days[ONSET - 1], "pre-onset"
    )


def test_covariate_shift_clips_to_the_range_and_says_how_much_of_it_is_lost(
    churn_days: list[pd.DataFrame],
) -> None:
    raw = churn_raw(features=["tenure_months", "plan"])
    raw["columns"]["tenure_months"] = {"dtype": "int", "min": 0, "max": 80}
    narrow = parse_contract(raw, "narrow range")
    drift = plan("covariate_shift", narrow, churn_days)
    shift = drift.covariate_shift
    assert shift is not None, "no covariate shift planned"
    assert shift.column == "tenure_months", f"shifted {shift.column}"
    assert abs(shift.history_move_sds) < 0.9 * DEFAULT_SHIFT_SDS, f"plan {shift}"
    assert any("moves its mean by" in w for w in drift.warnings), drift.warnings
    before = churn_days[ONSET]["tenure_months"]
    after = apply_scenario(churn_days[ONSET], drift, ONSET, narrow)["tenure_months"]
    assert after.between(0, 80).all(), f"range left: {after.min()}..{after.max()}"
    assert after.isin([0, 80]).sum() > before.isin([0, 80]).sum(), "nothing was clipped"
    assert after.dtype == "int64", f"dtype {after.dtype}"
    moved = (after.mean() - before.mean()) / shift.history_sd
    assert moved == pytest.approx(shift.history_move_sds, rel=0.15), f"moved {moved} SD"


def test_covariate_shift_avoids_a_feature_whose_median_guard_would_block_it(
    churn_days: list[pd.DataFrame],
) -> None:
    guard = {"check": "median", "column": "monthly_charges", "min": 10, "max": 80, "catches": "x"}
    guarded = parse_contract(churn_raw(guards=[guard]), "median guard")
    shift = plan("covariate_shift", guarded, churn_days).covariate_shift
    assert shift is not None, "no covariate shift planned"
    assert shift.column == "tenure_months", f"shifted {shift.column}, whose guard would block it"
    assert shift.integer, "tenure_months is an int column"
    assert float(shift.shift).is_integer(), f"int column shifted by {shift.shift}"


def test_drifted_days_pass_the_gate_drift_is_not_corruption(
    case: tuple[DatasetContract, list[pd.DataFrame]],
) -> None:
    contract, days = case
    story = plan("default", contract, days)
    for index in (ONSET, DAYS - 1):
        outcome = validate_frame(apply_scenario(days[index], story, index, contract), contract)
        assert outcome.success, f"day {index} of default blocked: {outcome.summary()}"


# --- concept drift --------------------------------------------------------------------------------


def test_concept_drift_swaps_the_planned_share_of_labels_only_in_its_group(
    case: tuple[DatasetContract, list[pd.DataFrame]],
) -> None:
    contract, days = case
    drift = plan("concept_drift", contract, days)
    swap = drift.concept_drift
    assert isinstance(swap, ConceptDrift), f"plan {drift}"
    assert swap.column in contract.segments, f"group column {swap.column}"
    assert (swap.positive, swap.negative, swap.share) == (
        contract.positive,
        contract.negative_label,
        DEFAULT_FLIP_SHARE,
    ), f"swap {swap}"
    label = contract.label_column
    for index in (ONSET, ONSET + 3, DAYS - 1):
        before, after = days[index], apply_scenario(days[index], drift, index, contract)
        changed = before[label] != after[label]
        in_group = before[swap.column] == swap.value
        assert not (changed & ~in_group).any(), f"day {index}: a label changed outside the group"
        positives = int((in_group & (before[label] == contract.positive)).sum())
        negatives = int((in_group & (before[label] == contract.negative_label)).sum())
        expected = round(DEFAULT_FLIP_SHARE * min(positives, negatives) + 1e-9)
        to_negative = int((changed & (before[label] == contract.positive)).sum())
        to_positive = int((changed & (before[label] == contract.negative_label)).sum())
        assert expected > 0, f"day {index}: the group has nothing to swap ({positives} pos)"
        assert (to_negative, to_positive) == (expected, expected), (
            f"day {index}: {to_negative} to negative, {to_positive} to positive, not {expected}"
        )
        assert set(after[label]) <= set(contract.label_values), f"labels {set(after[label])}"
        assert after[label].dtype == before[label].dtype, f"label dtype {after[label].dtype}"
        assert (after[label] == contract.positive).sum() == (
            before[label] == contract.positive
        ).sum()
        others = [c for c in before.columns if c != label]
        assert_same(after[others], before[others], f"day {index}: other columns")
    for index in (0, ONSET - 1):
        assert_same(apply_scenario(days[index], drift, index, contract), days[index], "pre-onset")


def test_concept_drift_without_segments_uses_a_categorical_feature(
    churn_days: list[pd.DataFrame],
) -> None:
    no_segments = parse_contract(churn_raw(segments=[]), "no segments")
    swap = plan("concept_drift", no_segments, churn_days).concept_drift
    assert swap is not None, "no concept drift planned"
    assert swap.column == "plan", f"group column {swap.column}"


# --- schema break ---------------------------------------------------------------------------------


def test_schema_break_drops_one_feature_only_on_its_day(
    case: tuple[DatasetContract, list[pd.DataFrame]],
) -> None:
    contract, days = case
    broken_plan = plan("schema_break", contract, days)
    dropped = broken_plan.incident
    assert isinstance(dropped, DropColumn), f"incident {dropped}"
    assert dropped.column == contract.features[0], f"dropped {dropped.column}"
    broken = apply_scenario(days[INCIDENT], broken_plan, INCIDENT, contract)
    assert list(broken.columns) == [c for c in days[INCIDENT].columns if c != dropped.column], (
        f"columns {list(broken.columns)}"
    )
    assert not validate_frame(broken, contract).success, "the gate let a missing column through"
    for index in (INCIDENT - 1, INCIDENT + 1):
        out = apply_scenario(days[index], broken_plan, index, contract)
        assert_same(out, days[index], f"day {index}")


# --- plans: deterministic, JSON-ready, checked ----------------------------------------------------


def test_plans_are_deterministic_and_json_ready(
    case: tuple[DatasetContract, list[pd.DataFrame]],
) -> None:
    contract, days = case
    first, second = plan("default", contract, days), plan("default", contract, days)
    assert first == second, "two plans from the same inputs differ"
    as_json = json.loads(json.dumps(first.to_dict()))
    assert as_json == first.to_dict(), "to_dict is not plain JSON"
    assert (as_json["incident_day"], as_json["onset_day"]) == (INCIDENT, ONSET), as_json
    assert as_json["incident"]["kind"] == "scale_column", as_json["incident"]
    for index in (INCIDENT, ONSET, DAYS - 1):
        again = apply_scenario(days[index], second, index, contract)
        assert_same(apply_scenario(days[index], first, index, contract), again, f"day {index}")
    assert first.changes_on(INCIDENT)[0].startswith("incident:"), first.changes_on(INCIDENT)
    assert len(first.changes_on(ONSET)) == 2, first.changes_on(ONSET)


def test_the_seed_chooses_which_rows_are_swapped_not_what_is_planned(
    card_days: list[pd.DataFrame],
) -> None:
    history = history_of(card_days)
    one = plan_scenario("concept_drift", CARD, history, days=DAYS, seed=1)
    two = plan_scenario("concept_drift", CARD, history, days=DAYS, seed=2)
    assert one.concept_drift == two.concept_drift, "the group depends on the seed"
    day = card_days[ONSET]
    labels_one = apply_scenario(day, one, ONSET, CARD)[CARD.label_column]
    labels_two = apply_scenario(day, two, ONSET, CARD)[CARD.label_column]
    assert not labels_one.equals(labels_two), "two seeds swapped the same rows"


def test_apply_never_changes_its_input(case: tuple[DatasetContract, list[pd.DataFrame]]) -> None:
    contract, days = case
    story = plan("default", contract, days)
    for index in (INCIDENT, ONSET):
        original = days[index].copy(deep=True)
        apply_scenario(days[index], story, index, contract)
        assert_same(days[index], original, f"day {index} input after apply")


def test_impossible_scenarios_say_why(churn_days: list[pd.DataFrame]) -> None:
    categorical_only = parse_contract(churn_raw(features=["plan"]), "categories only")
    with pytest.raises(ScenarioError, match="no numeric feature"):
        plan("covariate_shift", categorical_only, churn_days)
    flat = [day.assign(tenure_months=12, monthly_charges=60.0) for day in churn_days]
    with pytest.raises(ScenarioError, match="no spread in the history"):
        plan("covariate_shift", CHURN, flat)
    numbers_only = parse_contract(
        churn_raw(features=["monthly_charges", "tenure_months"], segments=[]), "numbers only"
    )
    with pytest.raises(ScenarioError, match="needs a segment or a categorical feature"):
        plan("concept_drift", numbers_only, churn_days)
    story = plan("default", numbers_only, churn_days)
    assert story.concept_drift is None, f"concept drift planned anyway: {story.concept_drift}"
    assert story.covariate_shift is not None, "default dropped the part that applies"
    assert any(w.startswith("concept drift left out") for w in story.warnings), story.warnings


def test_bad_days_and_foreign_contracts_are_refused(card_days: list[pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match="incident_day < onset_day"):
        plan("default", CARD, card_days, incident_day=12, onset_day=12)
    with pytest.raises(ValueError, match=r"onset_day must be a 0-based day index in \[0, 19\]"):
        plan("covariate_shift", CARD, card_days, onset_day=DAYS)
    with pytest.raises(ValueError, match="seed must be a non-negative"):
        plan_scenario("none", CARD, history_of(card_days), days=DAYS, seed=-1)
    story = plan("default", CARD, card_days)
    with pytest.raises(ValueError, match=r"day_index must be in \[0, 19\]"):
        apply_scenario(card_days[0], story, DAYS, CARD)
    with pytest.raises(ValueError, match="plan was made for contract 'card_fraud'"):
        apply_scenario(card_days[0], story, 0, CHURN)
    with pytest.raises(ValueError, match="lack column"):
        apply_scenario(card_days[INCIDENT].drop(columns=["amount"]), story, INCIDENT, CARD)
