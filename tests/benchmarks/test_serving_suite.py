"""``make bench`` as one run: its options, the servers it starts, 503s, the sub-benchmarks.

No server, no BentoML and no sub-benchmark is started: the child runner is tried on a module
written here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks import peers, serving, suite
from benchmarks.goals import BENTOML, OURS, OURS_TWO_WORKERS, Goal
from benchmarks.loadgen import WRK_SCRIPT, LoadSummary, median_summary, wrk_summary
from features.contract import load_contract
from pipelines.settings import Settings

# --- 503s ----------------------------------------------------------------------------------------


def wrk_line(**figures: int) -> str:
    base = {"requests": 1000, "micros": 2_000_000, "non_ok": 30, "socket_errors": 2}
    base |= {"p50_us": 5000, "p99_us": 90000}
    return "Running 2s test\nWRK_RESULT " + json.dumps(base | figures) + "\n"


def test_wrk_answers_503_count_as_errors_and_as_shed() -> None:
    result = wrk_summary(wrk_line(shed=30), cpu_seconds=0.1)
    assert (result.errors, result.shed, result.unexpected_errors) == (32, 30, 2), result
    assert result.requests_per_second == pytest.approx(485.0), "970 answered 200 in 2 s"


def test_a_wrk_line_without_the_shed_count_reads_as_none_shed() -> None:
    result = wrk_summary(wrk_line(), cpu_seconds=0.1)
    assert (result.shed, result.unexpected_errors) == (0, 32), result


def test_the_wrk_script_counts_503_per_thread_and_prints_it() -> None:
    script = WRK_SCRIPT.format(body='{"a": 1}')
    assert "function response(status, headers, body)" in script, script
    assert "status == 503" in script, script
    assert 'thread:get("shed")' in script, script
    assert '"shed": %d}' in script, "the result line carries the count"


def test_rounds_sum_their_503s() -> None:
    rounds = [LoadSummary(10, 3, 5.0, 1.0, 2.0, 0.1, 3), LoadSummary(10, 1, 7.0, 1.0, 2.0, 0.1, 0)]
    merged = median_summary(rounds)
    assert (merged.errors, merged.shed, merged.unexpected_errors) == (4, 3, 1), merged


# --- options and servers -------------------------------------------------------------------------


def test_by_default_every_part_runs_with_the_issues_sizes() -> None:
    args = serving.parse_args([])
    assert args.concurrency == [1, 8, 64], args.concurrency
    left_out = [args.no_bentoml, args.no_two_workers, args.no_scoring, args.no_monitoring]
    assert left_out == [False] * 4, left_out
    assert (args.scoring_rows, args.monitoring_rows) == (500_000, 1_000_000)
    assert args.results_dir == Path(serving.__file__).parent / "results", args.results_dir


@pytest.mark.parametrize("flag", ["--scoring-rows", "--scoring-repeats", "--monitoring-rows"])
def test_a_zero_size_is_refused(flag: str) -> None:
    with pytest.raises(SystemExit):
        serving.parse_args([flag, "0"])


def specs_for(argv: list[str], tmp_path: Path) -> list[serving.ServerSpec]:
    args = serving.parse_args(argv)
    settings = Settings.model_construct(home=tmp_path)
    contract = load_contract(settings.contract)
    row: dict[str, Any] = {contract.id_column: "tx-1", **dict.fromkeys(contract.features, 1)}
    env = {"PATH": "/usr/bin"}
    return serving.server_specs(args, "lifecycle", "mlflow", env, row, contract, "sqlite:///x")


def test_ours_runs_with_one_and_with_two_workers(tmp_path: Path) -> None:
    specs = {spec.name: spec for spec in specs_for(["--no-mlflow"], tmp_path)}
    assert list(specs) == [OURS, OURS_TWO_WORKERS], list(specs)
    assert "LIFECYCLE_SERVING__WORKERS" not in specs[OURS].env, "one worker: the default"
    assert specs[OURS_TWO_WORKERS].env["LIFECYCLE_SERVING__WORKERS"] == "2"
    assert specs[OURS_TWO_WORKERS].command == specs[OURS].command, "same command, same body"
    assert specs[OURS_TWO_WORKERS].body == specs[OURS].body


def test_mlflow_scores_on_one_thread_unless_told_otherwise(tmp_path: Path) -> None:
    mlflow = specs_for([], tmp_path)[-1]
    assert mlflow.name == "mlflow", mlflow.name
    assert mlflow.env["OMP_NUM_THREADS"] == "1", "one core per worker, as ours"
    shipped = specs_for(["--peer-threads", "default"], tmp_path)[-1]
    assert "OMP_NUM_THREADS" not in shipped.env, "the library default"


def test_no_two_workers_leaves_the_second_server_out(tmp_path: Path) -> None:
    names = [spec.name for spec in specs_for(["--no-mlflow", "--no-two-workers"], tmp_path)]
    assert names == [OURS], names


def test_bentoml_without_uv_to_make_its_environment_is_an_error_the_run_survives(
    tmp_path: Path,
) -> None:
    args = serving.parse_args(["--uv", "/nonexistent/uv", "--bench-env-root", str(tmp_path)])
    contract = load_contract(Settings.model_construct(home=tmp_path).contract)
    row: dict[str, Any] = dict.fromkeys(contract.features, 1)
    with pytest.raises(peers.PeerEnvError, match="uv not found"):
        serving.bentoml_spec(args, {}, tmp_path, "models:/m@champion", row, contract)
    assert list(tmp_path.iterdir()) == [], "nothing made"


def test_bentoml_is_the_only_server_the_run_goes_on_without() -> None:
    assert frozenset({BENTOML}) == serving.OPTIONAL_SERVERS


def test_the_markdown_has_every_table_and_says_why_a_part_is_missing() -> None:
    floor = serving.Floor(0.004, 0.006, 0.008)
    measured = serving.Run("models:/m@champion", "3", floor, {1: 0.005, 8: 0.0055, 64: 0.006}, {})
    measured.load = {8: {OURS: LoadSummary(100, 0, 50.0, 5.0, 9.0, 0.04, 0)}}
    measured.notes = {BENTOML: "left out: --no-bentoml"}
    measured.scoring = {
        "rows": 500_000,
        "rows_per_second": {"flow_1_worker": 60_000, "flow_2_workers": 110_000, "raw": 100_000},
        "flow_1_worker_vs_raw": 0.6,
    }
    curves = {serving.PIPELINE_PATH: {1: 5.0, 8: 5.5, 64: 6.0}}
    lines = serving.markdown(measured, curves, [Goal("g", False, "x")])
    text = "\n".join(lines)
    assert "| 8 | ours, 1 worker | 50.0 |" in text, text
    assert f"| {serving.PIPELINE_PATH} | 5.00 | 5.50 | 6.00 |" in text, text
    assert "flow with 1 worker 60,000 rows/s" in text, text
    assert "bentoml: left out: --no-bentoml" in text, text
    assert lines[-1] == "| g | x | no |", lines[-1]
    assert "Monitoring" not in text, "not measured, not printed"


def test_the_floor_is_the_servers_fast_path_when_it_compiles() -> None:
    floor = serving.Floor(0.004, 0.006, 0.008)
    pipeline_only = serving.Run("m", "1", floor, {1: 0.005}, {})
    name, ms = serving.floor_of(pipeline_only)
    assert name == "predict_proba, 1 row", name
    assert ms == pytest.approx(4.0), "the Pipeline's, one thread"
    fast = serving.Run("m", "1", floor, {1: 0.005}, {}, fast_curve={1: 0.00015, 8: 0.0004})
    name, ms = serving.floor_of(fast)
    assert name.startswith(serving.FAST_PATH), name
    assert ms == pytest.approx(0.15), "what the server itself does for one row"


# --- sub-benchmarks ------------------------------------------------------------------------------

FAKE_BENCHMARK = """
import json
from pathlib import Path

RESULTS_DIR = Path("/nonexistent")


def main(argv):
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "fake-2026-01-01.json").write_text(json.dumps({"argv": argv}))
    return 0
"""


def test_the_child_writes_the_results_where_it_is_told(tmp_path: Path) -> None:
    (tmp_path / "fake_benchmark.py").write_text(FAKE_BENCHMARK)
    out = tmp_path / "out"
    command = suite.child_command("fake_benchmark", ["--rows", "5"], out)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert suite.single_result(out) == {"argv": ["--rows", "5"]}


def test_a_module_without_results_dir_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "plain_module.py").write_text("def main(argv):\n    return 0\n")
    command = suite.child_command("plain_module", [], tmp_path / "out")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0, "a renamed RESULTS_DIR must not write into benchmarks/results"
    assert "has no RESULTS_DIR" in done.stderr, done.stderr


def test_exactly_one_results_file_is_expected(tmp_path: Path) -> None:
    with pytest.raises(suite.SuiteError, match="found 0"):
        suite.single_result(tmp_path)
    (tmp_path / "a.json").write_text("[1]")
    with pytest.raises(suite.SuiteError, match="no JSON object"):
        suite.single_result(tmp_path)
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(suite.SuiteError, match="found 2"):
        suite.single_result(tmp_path)


def test_the_sub_benchmarks_get_their_sizes() -> None:
    assert suite.scoring_argv(20_000, 1) == ["--rows", "20000", "--repeats", "1"]
    assert suite.monitoring_argv(1_000_000) == ["--rows", "1000000"]
