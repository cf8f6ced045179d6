"""The registry of built-in use cases: contracts, generators, scenarios and look-ups."""

from __future__ import annotations

import pandas as pd
import pytest

from data import churn, generator, scenarios
from data.usecases import (
    DEFAULT_USE_CASE,
    USE_CASES,
    UseCase,
    use_case,
    use_case_for_contract,
    use_case_names,
)
from features.contract import DatasetContract, RowCountGuard, load_contract

NAMES = ["card_fraud", "churn"]


@pytest.fixture(scope="module", params=NAMES)
def case(request: pytest.FixtureRequest) -> UseCase:
    return use_case(request.param)


@pytest.fixture(scope="module")
def contract(case: UseCase) -> DatasetContract:
    return load_contract(case.contract_file)


def test_the_registry_lists_both_use_cases_default_first() -> None:
    assert use_case_names() == NAMES, f"names {use_case_names()}"
    assert use_case_names()[0] == DEFAULT_USE_CASE, "the default use case comes first"


def test_each_contract_loads_and_is_named_as_its_key(case: UseCase) -> None:
    loaded = load_contract(case.contract_file)
    assert loaded.name == case.name, f"{case.contract_file}: name {loaded.name} != {case.name}"
    assert USE_CASES[loaded.name] is case, "the registry key is the contract's name"
    assert use_case_for_contract(loaded.name) is case, "found by its contract's name"


def test_each_use_case_has_a_control_and_a_demo_story(case: UseCase) -> None:
    summaries = case.scenarios()
    assert {"none", "default"} <= set(summaries), f"{case.name}: scenarios {list(summaries)}"
    assert next(iter(summaries)) == "none", f"{case.name}: the control comes first"
    for name, summary in summaries.items():
        assert summary, f"{case.name}/{name}: empty summary"
        assert "\n" not in summary, f"{case.name}/{name}: summary not one line"
        assert len(summary) <= 120, f"{case.name}/{name}: summary too long for --help"
    summaries.clear()
    assert case.scenarios(), "scenarios() hands out a copy, never the registry's own table"


def test_a_generated_day_has_exactly_the_contract_columns(
    case: UseCase, contract: DatasetContract
) -> None:
    frame = case.generate_day(3, "none", seed=5, days=10, rows=200)
    assert list(frame.columns) == contract.column_names, f"{case.name}: {list(frame.columns)}"
    assert len(frame) == 200, f"{case.name}: {len(frame)} rows"
    again = case.generate_day(3, "none", seed=5, days=10, rows=200)
    pd.testing.assert_frame_equal(frame, again, obj=f"{case.name}: same arguments, same frame")
    day = frame[contract.event_time_column].dt.normalize().unique()
    assert list(day) == [pd.Timestamp("2026-01-04")], f"{case.name}: day 3 of the run: {day}"


def test_default_volume_fits_the_contract_row_count_guard(
    case: UseCase, contract: DatasetContract
) -> None:
    (guard,) = [g for g in contract.guards if isinstance(g, RowCountGuard)]
    low, high = guard.min or 0, guard.max or float("inf")
    assert low <= case.default_rows_per_day <= high, (
        f"{case.name}: {case.default_rows_per_day} rows a day outside the guard [{low}, {high}]"
    )


def test_every_label_of_a_day_is_known_within_the_max_label_delay(
    case: UseCase, contract: DatasetContract
) -> None:
    frame = case.generate_day(0, "none", seed=1, days=1, rows=case.default_rows_per_day)
    events = frame[contract.event_time_column]
    known = contract.label_known_at(frame)
    end_of_day = pd.Timestamp("2026-01-02")
    latest = (known.max() - end_of_day) / pd.Timedelta(days=1)
    assert latest <= case.max_label_delay_days, (
        f"{case.name}: a label matures {latest:.2f} days after the day ends"
    )
    longest = ((known - events).max()) / pd.Timedelta(days=1)
    assert longest > case.max_label_delay_days - 1, (
        f"{case.name}: max_label_delay_days {case.max_label_delay_days} is loose ({longest:.2f})"
    )


def test_timelines_follow_the_shared_rules(case: UseCase) -> None:
    timeline = case.timeline("default", 60)
    assert (timeline.incident_day, timeline.onset_day) == (24, 30), f"{case.name}: {timeline}"
    moved = case.timeline("default", 30, incident_day=3, onset_day=10)
    assert (moved.incident_day, moved.onset_day) == (3, 10), f"{case.name}: overrides {moved}"
    none = case.timeline("none", 30)
    assert (none.incident_day, none.onset_day) == (None, None), f"{case.name}: {none}"


def test_the_card_fraud_adapter_gives_the_generator_s_own_frames() -> None:
    ours = use_case("card_fraud").generate_day(
        20, "default", seed=2, days=30, rows=100, onset_day=14
    )
    direct = generator.generate_day(
        20, scenarios.SCENARIOS["default"], seed=2, days=30, rows=100, onset_day=14
    )
    pd.testing.assert_frame_equal(ours, direct, obj="card_fraud adapter vs data.generator")


def test_the_churn_adapter_gives_the_generator_s_own_frames() -> None:
    ours = use_case("churn").generate_day(18, "default", seed=2, days=30, rows=100, incident_day=4)
    direct = churn.generate_day(
        18, churn.SCENARIOS["default"], seed=2, days=30, rows=100, incident_day=4
    )
    pd.testing.assert_frame_equal(ours, direct, obj="churn adapter vs data.churn")


def test_unknown_names_fail_with_the_valid_list() -> None:
    with pytest.raises(ValueError, match="unknown use case 'loans'; built-in use cases: "):
        use_case("loans")
    with pytest.raises(ValueError, match="card_fraud, churn"):
        use_case("loans")
    assert use_case_for_contract("my_own_data") is None, "a user's contract has no generator"
    for name in NAMES:
        with pytest.raises(ValueError, match="valid scenarios: none, covariate_shift"):
            use_case(name).generate_day(0, "nope", seed=1, days=5, rows=100)
        with pytest.raises(ValueError, match="valid scenarios: none, covariate_shift"):
            use_case(name).timeline("nope", 5)


def test_use_cases_are_immutable() -> None:
    with pytest.raises(TypeError):
        USE_CASES["loans"] = USE_CASES["churn"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        USE_CASES["churn"].default_rows_per_day = 1  # type: ignore[misc]
