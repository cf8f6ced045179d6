"""Issue 9's goals judged on the benchmark's figures, and the tables ``make bench`` prints."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks import goals
from benchmarks.goals import BENTOML, MLFLOW, OURS, OURS_TWO_WORKERS, Goal
from benchmarks.loadgen import LoadSummary


def summary(
    rps: float, p50: float = 5.0, p99: float = 10.0, errors: int = 0, shed: int = 0
) -> LoadSummary:
    return LoadSummary(100, errors, rps, p50, p99, 0.04, shed)


def by_name(verdicts: list[Goal]) -> dict[str, Goal]:
    return {goal.name: goal for goal in verdicts}


def test_mlflow_goals_need_five_times_the_throughput_and_a_fifth_of_the_p99() -> None:
    met = goals.mlflow_goals({8: {OURS: summary(500, p99=20), MLFLOW: summary(100, p99=100)}})
    assert [g.met for g in met] == [True, True], met
    short = goals.mlflow_goals({8: {OURS: summary(499, p99=21), MLFLOW: summary(100, p99=100)}})
    assert [g.met for g in short] == [False, False], short
    assert "4.99x" in short[0].detail, short[0].detail


def test_a_peer_that_did_not_run_leaves_its_goals_not_judged() -> None:
    load = {8: {OURS: summary(500)}, 64: {OURS: summary(500)}}
    verdicts = goals.mlflow_goals(load) + goals.bentoml_goals(load)
    assert [g.met for g in verdicts] == [None] * 4, verdicts
    assert all(g.mark == "not judged" for g in verdicts)


def test_ours_must_be_strictly_ahead_of_bentoml_at_8_and_64() -> None:
    load = {
        8: {OURS: summary(200), BENTOML: summary(180)},
        64: {OURS: summary(300), BENTOML: summary(300)},
    }
    verdicts = goals.bentoml_goals(load)
    assert [(g.name.split(":")[0], g.met) for g in verdicts] == [
        ("8 connections", True),
        ("64 connections", False),
    ], verdicts


@pytest.mark.parametrize(
    ("p50", "met"), [(7.0, True), (7.01, False), (math.nan, False)], ids=["at", "over", "nan"]
)
def test_single_connection_p50_is_bounded_by_the_floor(p50: float, met: bool) -> None:
    goal = goals.latency_goal({1: {OURS: summary(100, p50=p50)}}, 4.0, "fast path")
    assert goal.met is met, goal  # 1.5 x 4 + 1 = 7 ms
    assert "bound 7.00 ms (fast path 4.00 ms)" in goal.detail, goal.detail
    assert goals.latency_goal({1: {OURS: summary(100)}}, None).met is None, "no floor"


def test_only_503s_are_allowed_at_64_connections() -> None:
    shed = goals.shedding_goal({64: {OURS: summary(100, errors=7, shed=7)}})
    assert shed.met is True, shed
    broken = goals.shedding_goal({64: {OURS: summary(100, errors=8, shed=7)}})
    assert broken.met is False, broken
    assert "8 errors, 7 of them 503" in broken.detail, broken.detail


def test_batch_scoring_needs_four_fifths_of_raw() -> None:
    assert goals.scoring_goal({"rows": 500_000, "flow_1_worker_vs_raw": 0.8}).met is True
    assert goals.scoring_goal({"rows": 500_000, "flow_1_worker_vs_raw": 0.67}).met is False
    assert goals.scoring_goal(None).met is None


def test_monitoring_is_judged_only_on_a_million_rows() -> None:
    within = {"rows": 1_000_000, "seconds": 19.6, "peak_rss_mb": 1679.3}
    assert goals.monitoring_goal(within).met is True
    assert goals.monitoring_goal({**within, "seconds": 30.5}).met is False, "too slow"
    assert goals.monitoring_goal({**within, "peak_rss_mb": 2049.0}).met is False, "too big"
    small = goals.monitoring_goal({**within, "rows": 20_000})
    assert small.met is None, small
    assert "fewer rows" in small.detail, small.detail


def test_all_goals_come_in_the_issues_order() -> None:
    verdicts = goals.all_goals({}, None, None, None)
    assert len(verdicts) == 8, verdicts
    assert verdicts[0].name.startswith("8 connections: req/s >= 5x mlflow"), verdicts[0]
    assert verdicts[-1].name.startswith("monitoring"), verdicts[-1]
    assert {g.met for g in verdicts} == {None}, "nothing measured, nothing judged"


def test_the_load_table_gives_ratios_that_read_as_ours_ahead_above_one() -> None:
    load = {8: {OURS: summary(400, p99=20), MLFLOW: summary(50, p99=200)}}
    lines = goals.load_table(load)
    assert lines[0].count("|") == lines[1].count("|") == 11, "10 columns in header and rule"
    ours, mlflow = lines[2], lines[3]
    assert ours.startswith("| 8 | ours, 1 worker | 400.0 |"), ours
    cells = [cell.strip() for cell in mlflow.strip("|").split("|")]
    assert cells[1] == "`mlflow models serve`", cells
    assert cells[7:10] == ["8.00", "10.00", "4 %"], cells


def test_the_load_table_shows_nan_as_a_dash() -> None:
    line = goals.load_table({64: {OURS: summary(0.0, p50=math.nan, p99=math.nan)}})[2]
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[3:5] == ["-", "-"], cells
    assert cells[7:9] == ["-", "-"], "no ratio without throughput"


def test_the_floor_table_has_a_row_per_path_and_the_sizes_all_measured() -> None:
    curves = {"pipeline": {1: 5.55, 8: 5.37, 64: 6.32, 256: 8.8}, "fast": {1: 0.15, 8: 0.4}}
    lines = goals.floor_table(curves)
    assert lines[0] == "| in-process ms per call | 1 row | 8 rows |", "64: not measured by both"
    assert lines[2:] == ["| pipeline | 5.55 | 5.37 |", "| fast | 0.15 | 0.40 |"], lines


def test_the_goals_table_marks_each_goal() -> None:
    lines = goals.goals_table([Goal("a", True, "x"), Goal("b", False, "y"), Goal("c", None, "z")])
    assert lines[2:] == ["| a | x | yes |", "| b | y | no |", "| c | z | not judged |"], lines


def test_workers_line_compares_two_workers_with_one() -> None:
    load = {1: {OURS: summary(100)}, 8: {OURS: summary(100), OURS_TWO_WORKERS: summary(150)}}
    assert goals.workers_line(load) == "ours, 2 workers ÷ 1 worker, req/s: 8 connections 1.50x"
    assert goals.workers_line({8: {OURS: summary(100)}}) is None


def test_jsonable_makes_strict_json_of_the_figures() -> None:
    document = {
        8: {OURS: summary(100, p99=math.nan, errors=3, shed=2)},
        "goal": Goal("g", None, ""),
    }
    text = json.dumps(goals.jsonable(document), allow_nan=False)
    decoded = json.loads(text)
    figures = decoded["8"][OURS]
    assert figures["p99_ms"] is None, "NaN becomes null"
    assert figures["unexpected_errors"] == 1, figures
    assert decoded["goal"]["mark"] == "not judged", decoded["goal"]
