"""The soak script's pure parts: verdict, RSS arithmetic, /proc parsing, the request mix.

The soak itself (a real server under load for a minute) is run by ``make soak``, never here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.serving import BenchmarkError
from benchmarks.soak import (
    MIX_SHARES,
    MixResult,
    RssSample,
    SoakRun,
    build_mix,
    failure_reasons,
    group_rss_kib,
    parse_vmrss_kib,
    process_group_of,
    rss_growth_percent,
    summarize,
)
from features.contract import DatasetContract, load_contract

CONTRACT_FILE = Path(__file__).resolve().parents[2] / "data" / "contracts" / "card_fraud.yaml"
RUN = SoakRun("2026-01-01T00:00:00+00:00", 60.0, 8, 5.0, "models:/m@champion (version 1)", 50)


@pytest.fixture(scope="module")
def contract() -> DatasetContract:
    return load_contract(CONTRACT_FILE)


def _mix(errors: int = 0, stopped_early: bool = False, latencies: tuple[float, ...] = (0.01,)):
    return MixResult(
        latencies={"predict_one": latencies},
        statuses={"predict_one 200": len(latencies)},
        errors=errors,
        error_samples=("one row: HTTP 500 (expected 200): boom",) if errors else (),
        wall_seconds=2.0,
        stopped_early=stopped_early,
    )


def test_rss_growth_is_relative_to_the_start():
    assert rss_growth_percent(1000, 1100) == pytest.approx(10.0)
    assert rss_growth_percent(1000, 900) == pytest.approx(-10.0)
    with pytest.raises(BenchmarkError, match="no server process"):
        rss_growth_percent(0, 10)


def test_the_bar_is_zero_errors_and_at_most_ten_percent_growth():
    assert failure_reasons(0, 0, 10.0, server_exited=False) == []
    assert failure_reasons(0, 0, 10.01, server_exited=False) == ["RSS grew 10.0 % (limit 10 %)"]
    reasons = failure_reasons(3, 1, 0.0, server_exited=True)
    assert reasons == [
        "the server exited during the soak",
        "3 error(s) during the soak",
        "1 error(s) during the warm-up",
    ]


def test_summarize_gives_the_verdict_and_the_figures():
    samples = [RssSample(1.0, 1200), RssSample(2.0, 1050)]
    report = summarize(RUN, _mix(latencies=(0.01, 0.02)), _mix(), samples, 1024, 1050)
    assert report.passed
    assert report.requests == 2
    assert report.requests_per_second == 1.0
    assert report.rss_max_mib == pytest.approx(1200 / 1024, abs=0.05)
    assert report.rss_growth_percent == pytest.approx(2.54, abs=0.01)

    failed = summarize(RUN, _mix(errors=2, latencies=()), _mix(), [], 1000, 1000)
    assert not failed.passed
    assert failed.reason == "2 error(s) during the soak"
    assert failed.p99_ms is None  # nothing answered as expected: no latency to show
    assert failed.requests == 2


def test_vmrss_and_process_group_are_read_from_proc_text():
    assert parse_vmrss_kib("Name:\tpython\nVmPeak:\t 9 kB\nVmRSS:\t  123456 kB\n") == 123456
    assert parse_vmrss_kib("Name:\tzombie\nState:\tZ\n") is None
    # The command name may hold spaces and parentheses.
    assert process_group_of("4242 (weird) name) S 1 777 777 0 -1") == 777


def test_group_rss_sums_the_processes_of_the_group(tmp_path: Path):
    def fake(pid: int, group: int, rss: int | None) -> None:
        folder = tmp_path / str(pid)
        folder.mkdir()
        (folder / "stat").write_text(f"{pid} (python) S 1 {group} {group} 0")
        status = f"Name:\tpython\nVmRSS:\t{rss} kB\n" if rss is not None else "Name:\tz\n"
        (folder / "status").write_text(status)

    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "status").write_text("Name:\tpytest\n")
    fake(10, 10, 1000)
    fake(11, 10, 500)  # a child in the server's group
    fake(12, 10, None)  # a zombie: no VmRSS
    fake(20, 20, 9999)  # another group
    assert group_rss_kib(10, proc=tmp_path) == 1500
    assert group_rss_kib(30, proc=tmp_path) == 0


def test_group_rss_needs_proc(tmp_path: Path):
    with pytest.raises(BenchmarkError, match="Linux"):
        group_rss_kib(1, proc=tmp_path)


def test_the_mix_has_every_kind_varied_rows_and_documented_statuses(contract: DatasetContract):
    rows = [
        {contract.id_column: f"row-{i}", **dict.fromkeys(contract.features, i)} for i in range(40)
    ]
    labels = [{contract.id_column: f"row-{i}", contract.label_column: 0} for i in range(40)]
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    mix = build_mix(rows, labels, contract, now, size=2000)

    kinds = Counter(request.kind for request in mix)
    assert set(kinds) == set(MIX_SHARES)
    for kind, share in MIX_SHARES.items():
        assert kinds[kind] / len(mix) == pytest.approx(share, abs=0.03)
    singles = {request.body for request in mix if request.kind == "predict_one"}
    assert len(singles) > 20  # not one identical body
    assert {r.expected for r in mix if r.kind != "invalid"} == {200}
    invalid = {r.name: r for r in mix if r.kind == "invalid"}
    assert len(invalid) == 8
    assert {r.expected for r in invalid.values()} == {415, 422}
    assert invalid["not sent as JSON"].content_type == "text/plain"
    with pytest.raises(json.JSONDecodeError):
        json.loads(invalid["truncated JSON"].body)
    assert mix == build_mix(rows, labels, contract, now, size=2000)  # seeded: reproducible


def test_the_mix_refuses_a_pool_too_small_for_a_list(contract: DatasetContract):
    rows = [{contract.id_column: "row-1"}]
    labels = [{contract.id_column: "row-1", contract.label_column: 0}]
    with pytest.raises(BenchmarkError, match="at least 20 rows"):
        build_mix(rows, labels, contract, dt.datetime.now(dt.UTC))
