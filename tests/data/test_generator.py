"""The generator: determinism, contract conformance, realism bands and each scenario's effect."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score
from threadpoolctl import threadpool_limits

from data.generator import (
    CATEGORIES,
    CHANNELS,
    COUNTRIES,
    DEFAULT_START,
    SCENARIOS,
    generate,
    generate_day,
)
from features.contract import DatasetContract

from .checks import contract_violations
from .conftest import Runs

ONSET = 24  # the onset the drift_runs fixture sets for its 40-day runs
INCIDENT = 16  # default incident of a 40-day run


# --- determinism ---------------------------------------------------------------------------


def test_same_arguments_give_identical_frames() -> None:
    a = generate_day(5, SCENARIOS["default"], seed=3, days=40, rows=200)
    b = generate_day(5, SCENARIOS["default"], seed=3, days=40, rows=200)
    pd.testing.assert_frame_equal(a, b, check_exact=True, obj="same seed, same day")


def test_different_seed_or_day_gives_different_data() -> None:
    a = generate_day(5, SCENARIOS["none"], seed=3, days=40, rows=200)
    other_seed = generate_day(5, SCENARIOS["none"], seed=4, days=40, rows=200)
    other_day = generate_day(6, SCENARIOS["none"], seed=3, days=40, rows=200)
    assert not np.array_equal(a["amount"], other_seed["amount"]), "seed must change the data"
    assert not np.array_equal(a["amount"], other_day["amount"]), "each day has its own draws"


def test_a_day_regenerated_alone_equals_the_same_day_of_a_run(drift_runs: Runs) -> None:
    alone = generate_day(30, SCENARIOS["default"], seed=1, days=40, rows=1500)
    pd.testing.assert_frame_equal(alone, drift_runs["default"][30], obj="day 30 alone vs in run")


def test_run_dates_start_at_start_and_are_consecutive() -> None:
    dates = [day for day, _ in generate("none", 3, 1, start=datetime.date(2025, 12, 31))]
    assert dates == [
        datetime.date(2025, 12, 31),
        datetime.date(2026, 1, 1),
        datetime.date(2026, 1, 2),
    ], f"dates: {dates}"
    assert datetime.date(2026, 1, 1) == DEFAULT_START, "documented default start"


# --- contract conformance ------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["none", "covariate_shift", "concept_drift", "default"])
def test_clean_days_conform_to_the_contract(
    contract: DatasetContract, drift_runs: Runs, scenario: str
) -> None:
    frames = drift_runs[scenario]
    for day_index in (0, ONSET - 1, ONSET, 39):
        problems = contract_violations(frames[day_index], contract)
        assert problems == [], f"{scenario} day {day_index}: {problems}"


def test_generator_vocabularies_match_the_contract(contract: DatasetContract) -> None:
    assert set(CATEGORIES) == set(contract.columns["merchant_category"].categories or ())
    assert set(CHANNELS) == set(contract.columns["channel"].categories or ()), "channels"
    assert set(COUNTRIES) == set(contract.columns["country"].categories or ()), "countries"


def test_ids_are_unique_across_days_and_events_fall_on_their_day(
    none_run: list[pd.DataFrame],
) -> None:
    run = pd.concat(none_run, ignore_index=True)
    assert run["transaction_id"].is_unique, "transaction ids must be unique across days"
    for day_index, frame in enumerate(none_run[:3]):
        day = pd.Timestamp(DEFAULT_START) + pd.Timedelta(days=day_index)
        times = frame["event_time"]
        assert times.is_monotonic_increasing, f"day {day_index}: rows sorted by event time"
        assert times.min() >= day, f"day {day_index}: event before its day"
        assert times.max() < day + pd.Timedelta(days=1), f"day {day_index}: event after its day"
    assert run["customer_id"].nunique() < len(run), "customers come back (drawn from a pool)"


def test_labels_mature_3_to_10_days_later_independently_of_the_label(
    none_run: list[pd.DataFrame],
) -> None:
    run = pd.concat(none_run, ignore_index=True)
    delay_days = (run["label_available_at"] - run["event_time"]).dt.total_seconds() / 86_400
    assert delay_days.min() >= 3.0, f"min delay {delay_days.min():.2f} days"
    assert delay_days.max() <= 10.0, f"max delay {delay_days.max():.2f} days"
    by_label = delay_days.groupby(run["is_fraud"]).mean()
    assert abs(by_label[1] - by_label[0]) < 0.5, f"delay depends on the label: {by_label}"


# --- realism -------------------------------------------------------------------------------


def test_fraud_rate_is_between_2_and_5_percent_in_every_scenario(
    none_run: list[pd.DataFrame], drift_runs: Runs
) -> None:
    rates = {"none (28 days)": pd.concat(none_run)["is_fraud"].mean()}
    for name, frames in drift_runs.items():
        rates[name] = pd.concat(frames)["is_fraud"].mean()
    for name, rate in rates.items():
        assert 0.02 <= rate <= 0.05, f"{name}: fraud rate {rate:.2%} outside 2-5 %"


def test_distributions_look_like_card_traffic(none_run: list[pd.DataFrame]) -> None:
    run = pd.concat(none_run, ignore_index=True)
    medians = run.groupby("merchant_category")["amount"].median()
    assert 20 <= medians["grocery"] <= 45, f"grocery median {medians['grocery']:.0f}"
    assert 250 <= medians["travel"] <= 600, f"travel median {medians['travel']:.0f}"
    assert medians["electronics"] > 4 * medians["grocery"], "electronics costs more than grocery"
    domestic = run["country"].isin(["DE", "FR", "ES", "IT", "NL"]).mean()
    assert 0.85 <= domestic <= 0.97, f"domestic EU share {domestic:.2%}"
    assert run["customer_age"].between(18, 95).all(), "ages within 18-95"
    assert (run["txn_count_1h"] <= run["txn_count_24h"]).all(), "1h count within 24h count"
    corr = run["txn_count_1h"].corr(run["txn_count_24h"])
    assert corr > 0.3, f"1h and 24h counts should correlate, got {corr:.2f}"
    distance = run["distance_from_home_km"]
    assert distance.median() < 20, f"median distance {distance.median():.0f} km should be small"
    assert distance.quantile(0.99) > 1000, "distance needs a heavy tail"
    card_present = run["channel"] == "card_present"
    assert run.loc[card_present, "device_trust_score"].isna().all(), "NaN for card_present"
    assert run.loc[~card_present, "device_trust_score"].notna().all(), "scored otherwise"


def test_fraud_depends_on_several_features_not_one(none_run: list[pd.DataFrame]) -> None:
    run = pd.concat(none_run, ignore_index=True)
    fraud = run["is_fraud"] == 1
    online_lift = run.loc[fraud, "channel"].eq("online").mean() / run["channel"].eq("online").mean()
    assert online_lift > 1.5, f"fraud should over-represent online ({online_lift:.2f}x)"
    trust = run["device_trust_score"]
    assert trust[fraud].median() < trust[~fraud].median() - 0.1, "fraud has lower device trust"
    assert run.loc[fraud, "amount"].median() > run["amount"].median(), "fraud amounts higher"
    # Not one feature decides: a third or more of the fraud sits outside the online channel.
    assert run.loc[fraud, "channel"].ne("online").mean() > 0.2, "some fraud is not online"


# --- scenario effects ----------------------------------------------------------------------


def test_a_scenario_equals_none_before_its_onset_and_off_its_incident_day(drift_runs: Runs) -> None:
    none = drift_runs["none"]
    for name in ("covariate_shift", "concept_drift", "quality_incident", "default"):
        frames = drift_runs[name]
        for day_index in (0, INCIDENT - 1, INCIDENT + 1, ONSET - 1):
            pd.testing.assert_frame_equal(
                frames[day_index], none[day_index], obj=f"{name} day {day_index} vs none"
            )


def test_quality_incident_puts_amounts_in_cents_on_the_incident_day_only(drift_runs: Runs) -> None:
    frames = drift_runs["quality_incident"]
    medians = np.array([frame["amount"].median() for frame in frames])
    others = np.delete(medians, INCIDENT)
    ratio = medians[INCIDENT] / np.median(others)
    assert 70 <= ratio <= 140, f"incident-day median should be ~100x, got {ratio:.0f}x"
    assert others.max() < 3 * np.median(others), "no other day is inflated"
    clean = drift_runs["none"][INCIDENT]
    broken = frames[INCIDENT]
    np.testing.assert_allclose(broken["amount"], clean["amount"] * 100, atol=0.5)
    pd.testing.assert_frame_equal(
        broken.drop(columns="amount"), clean.drop(columns="amount"), obj="rest is clean"
    )


def test_schema_break_renames_and_drops_columns_on_the_incident_day_only(
    contract: DatasetContract, drift_runs: Runs
) -> None:
    frames = drift_runs["schema_break"]
    broken = set(frames[INCIDENT].columns)
    assert "mcc_category" in broken, "merchant_category renamed mcc_category"
    assert "merchant_category" not in broken, "old name gone"
    assert "device_trust_score" not in broken, "device_trust_score missing"
    for day_index in (INCIDENT - 1, INCIDENT + 1):
        assert list(frames[day_index].columns) == contract.column_names, f"day {day_index}"


def test_covariate_shift_moves_the_population_after_onset_not_before(drift_runs: Runs) -> None:
    def profile(frames: list[pd.DataFrame]) -> pd.Series:
        run = pd.concat(frames, ignore_index=True)
        return pd.Series(
            {
                "online": run["channel"].eq("online").mean(),
                "age": run["customer_age"].mean(),
                "amount": np.log(run["amount"]).mean(),
                "foreign": (~run["country"].isin(["DE", "FR", "ES", "IT", "NL"])).mean(),
            }
        )

    shifted, none = drift_runs["covariate_shift"], drift_runs["none"]
    before, after, control = profile(shifted[:ONSET]), profile(shifted[ONSET:]), profile(none)
    assert abs(before["online"] - control["online"]) < 0.02, "no channel shift before onset"
    assert after["online"] > before["online"] + 0.06, f"online share {before} -> {after}"
    assert after["age"] < before["age"] - 5, f"customers should get younger: {before} -> {after}"
    assert after["amount"] > before["amount"] + 0.1, f"amounts should rise: {before} -> {after}"
    assert after["foreign"] > before["foreign"] * 1.2, f"more foreign: {before} -> {after}"


def _card_testing(frame: pd.DataFrame) -> pd.Series:
    return (
        frame["channel"].isin(["card_present", "contactless"])
        & frame["merchant_category"].isin(["grocery", "fuel", "pharmacy"])
        & (frame["amount"] < 12)
        & (frame["txn_count_1h"] >= 4)
    )


def test_concept_drift_changes_the_fraud_profile_after_onset(drift_runs: Runs) -> None:
    frames = drift_runs["concept_drift"]
    before = pd.concat(frames[:ONSET], ignore_index=True)
    after = pd.concat(frames[ONSET:], ignore_index=True)
    fraud_before = before[before["is_fraud"] == 1]
    fraud_after = after[after["is_fraud"] == 1]
    share_before = _card_testing(fraud_before).mean()
    share_after = _card_testing(fraud_after).mean()
    assert share_before < 0.05, f"card testing is not fraud before onset ({share_before:.2%})"
    assert share_after > 0.4, f"card testing dominates fraud after onset ({share_after:.2%})"
    assert fraud_after["amount"].median() < fraud_before["amount"].median() / 2, "smaller fraud"
    # Feature drift is visible too: more such rows and higher 1-hour counts.
    assert _card_testing(after).mean() > 5 * _card_testing(before).mean(), "share rises"
    assert after["txn_count_1h"].mean() > before["txn_count_1h"].mean() + 0.3, "bursts rise"


def _pr_auc(model: HistGradientBoostingClassifier, frames: list[pd.DataFrame]) -> float:
    test = pd.concat(frames, ignore_index=True)
    proba = model.predict_proba(_model_input(test))[:, 1]
    return float(average_precision_score(test["is_fraud"], proba))


def _model_input(frame: pd.DataFrame) -> pd.DataFrame:
    x = frame.drop(
        columns=["transaction_id", "customer_id", "event_time", "label_available_at", "is_fraud"]
    )
    for column, categories in (
        ("merchant_category", CATEGORIES),
        ("channel", CHANNELS),
        ("country", COUNTRIES),
    ):
        x[column] = pd.Categorical(x[column], categories=list(categories))
    return x


def _stale_model(frames: list[pd.DataFrame]) -> HistGradientBoostingClassifier:
    train = pd.concat(frames[: ONSET - 7], ignore_index=True)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(_model_input(train), train["is_fraud"])
    return model


def test_a_model_trained_before_onset_goes_stale_under_concept_drift_only(drift_runs: Runs) -> None:
    drops = {}
    for name in ("concept_drift", "covariate_shift"):
        frames = drift_runs[name]
        # One thread: OpenMP threads fighting over shared cores make HGB ~15x slower.
        with threadpool_limits(1):
            model = _stale_model(frames)
            pre = _pr_auc(model, frames[ONSET - 7 : ONSET])
            post = _pr_auc(model, frames[ONSET:])
        assert pre > 0.35, f"{name}: pre-onset PR-AUC {pre:.3f} should be useful"
        drops[name] = pre - post
    assert drops["concept_drift"] >= 0.15, f"concept drift should hurt: {drops}"
    assert abs(drops["covariate_shift"]) < 0.1, f"P(fraud | x) unchanged under shift: {drops}"


# --- invalid arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenario": "nope"}, "unknown scenario 'nope'; valid scenarios: none, "),
        ({"days": 0}, "days must be at least 1"),
        ({"rows_per_day": 49}, "rows per day must be at least 50"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"scenario": "default", "incident_day": 5, "onset_day": 5}, "incident_day < onset_day"),
        ({"onset_day": 10}, r"onset_day must be .* \[0, 9\]"),
    ],
)
def test_generate_rejects_bad_arguments_before_producing_anything(
    kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, object] = {"scenario": "concept_drift", "days": 10, "seed": 1}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        generate(**arguments)  # type: ignore[arg-type]


def test_generate_day_rejects_a_day_outside_the_run() -> None:
    with pytest.raises(ValueError, match=r"day_index must be in \[0, 9\]"):
        generate_day(10, SCENARIOS["none"], seed=1, days=10)
