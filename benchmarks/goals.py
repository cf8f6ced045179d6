"""What ``make bench`` concludes: issue 9's goals judged on the figures, and the README tables.

Pure functions over the figures :mod:`benchmarks.serving` gathers (load summaries per
concurrency and server, the in-process floor, the batch-scoring and monitoring results as their
own benchmarks write them): nothing here measures. A goal whose figures are missing (a peer that
did not run, a benchmark left out) is reported as not judged, never as met.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.loadgen import LoadSummary

OURS, OURS_TWO_WORKERS, MLFLOW, BENTOML = "ours", "ours-2w", "mlflow", "bentoml"
#: Issue 9's goals, as numbers.
MLFLOW_RPS_FACTOR = 5.0
MLFLOW_P99_FACTOR = 5.0
FLOOR_P50_FACTOR = 1.5
FLOOR_P50_SLACK_MS = 1.0
BATCH_VS_RAW = 0.80
MONITORING_ROWS = 1_000_000
MONITORING_SECONDS = 30.0
MONITORING_RSS_MB = 2048.0
SERVER_LABELS = {
    OURS: "ours, 1 worker",
    OURS_TWO_WORKERS: "ours, 2 workers",
    MLFLOW: "`mlflow models serve`",
    BENTOML: "BentoML, adaptive batching",
}


@dataclass(frozen=True)
class Goal:
    """One goal's verdict: ``met`` is None when its figures were not measured."""

    name: str
    met: bool | None
    detail: str

    @property
    def mark(self) -> str:
        """``yes``, ``no`` or ``not judged``."""
        return "not judged" if self.met is None else ("yes" if self.met else "no")


Load = Mapping[int, Mapping[str, LoadSummary]]


def _pair(load: Load, connections: int, other: str) -> tuple[LoadSummary, LoadSummary] | None:
    """Ours and ``other`` at ``connections``, or None if either did not run."""
    row = load.get(connections, {})
    ours, theirs = row.get(OURS), row.get(other)
    return None if ours is None or theirs is None else (ours, theirs)


def _at_least(value: float, bound: float) -> bool:
    """``value >= bound``, False when either is NaN."""
    return not (math.isnan(value) or math.isnan(bound)) and value >= bound


def mlflow_goals(load: Load) -> list[Goal]:
    """8 connections: req/s at least 5x ``mlflow models serve``'s, p99 at most a fifth of it."""
    names = (
        f"8 connections: req/s >= {MLFLOW_RPS_FACTOR:g}x mlflow's",
        f"8 connections: p99 <= 1/{MLFLOW_P99_FACTOR:g} of mlflow's",
    )
    pair = _pair(load, 8, MLFLOW)
    if pair is None:
        return [Goal(name, None, "mlflow or ours not measured at 8") for name in names]
    ours, theirs = pair
    rps = (
        ours.requests_per_second / theirs.requests_per_second if theirs.requests_per_second else 0.0
    )
    p99 = theirs.p99_ms / ours.p99_ms if ours.p99_ms else math.nan
    return [
        Goal(
            names[0],
            _at_least(rps, MLFLOW_RPS_FACTOR),
            f"{ours.requests_per_second:.0f} vs {theirs.requests_per_second:.0f} req/s: {rps:.2f}x",
        ),
        Goal(
            names[1],
            _at_least(p99, MLFLOW_P99_FACTOR),
            f"p99 {ours.p99_ms:.1f} vs {theirs.p99_ms:.1f} ms: 1/{p99:.2f}",
        ),
    ]


def bentoml_goals(load: Load, concurrencies: Sequence[int] = (8, 64)) -> list[Goal]:
    """At each of ``concurrencies``, more req/s than BentoML's."""
    goals = []
    for connections in concurrencies:
        name = f"{connections} connections: req/s ahead of BentoML's"
        pair = _pair(load, connections, BENTOML)
        if pair is None:
            goals.append(Goal(name, None, f"BentoML or ours not measured at {connections}"))
            continue
        ours, theirs = pair
        goals.append(
            Goal(
                name,
                ours.requests_per_second > theirs.requests_per_second,
                f"{ours.requests_per_second:.0f} vs {theirs.requests_per_second:.0f} req/s",
            )
        )
    return goals


def latency_goal(load: Load, floor_ms: float | None, floor_name: str = "floor") -> Goal:
    """1 connection: p50 at most 1.5x the in-process single-row floor plus 1 ms.

    ``floor_name`` says which in-process path the floor was measured on.
    """
    name = f"1 connection: p50 <= {FLOOR_P50_FACTOR:g} x floor + {FLOOR_P50_SLACK_MS:g} ms"
    ours = load.get(1, {}).get(OURS)
    if ours is None or floor_ms is None:
        return Goal(name, None, "ours at 1 connection or the floor not measured")
    bound = FLOOR_P50_FACTOR * floor_ms + FLOOR_P50_SLACK_MS
    return Goal(
        name,
        _at_least(bound, ours.p50_ms),
        f"p50 {ours.p50_ms:.2f} ms, bound {bound:.2f} ms ({floor_name} {floor_ms:.2f} ms)",
    )


def shedding_goal(load: Load) -> Goal:
    """64 connections: no error but deliberate 503s."""
    name = "64 connections: 0 errors other than 503"
    ours = load.get(64, {}).get(OURS)
    if ours is None:
        return Goal(name, None, "ours not measured at 64")
    return Goal(
        name,
        ours.unexpected_errors == 0,
        f"{ours.errors} errors, {ours.shed} of them 503, p99 {ours.p99_ms:.1f} ms",
    )


def scoring_goal(scoring: Mapping[str, Any] | None) -> Goal:
    """Batch scoring with one worker at least 80 % of raw ``predict_proba``'s rows/s."""
    name = f"batch scoring, 1 worker: >= {BATCH_VS_RAW:.2f} of raw predict_proba"
    if not scoring or "flow_1_worker_vs_raw" not in scoring:
        return Goal(name, None, "batch scoring not measured")
    share = float(scoring["flow_1_worker_vs_raw"])
    return Goal(name, _at_least(share, BATCH_VS_RAW), f"{share:.2f} on {scoring['rows']:,} rows")


def monitoring_goal(monitoring: Mapping[str, Any] | None) -> Goal:
    """One window of 1,000,000 logged predictions in at most 30 s and 2 GB peak RSS."""
    name = (
        f"monitoring {MONITORING_ROWS:,} rows: <= {MONITORING_SECONDS:g} s, "
        f"<= {MONITORING_RSS_MB:g} MB"
    )
    if not monitoring or "seconds" not in monitoring:
        return Goal(name, None, "monitoring not measured")
    rows, seconds = int(monitoring["rows"]), float(monitoring["seconds"])
    rss = float(monitoring["peak_rss_mb"])
    detail = f"{seconds:.1f} s, {rss:.0f} MB on {rows:,} rows"
    if rows < MONITORING_ROWS:
        return Goal(name, None, detail + " (fewer rows than the goal's)")
    return Goal(name, seconds <= MONITORING_SECONDS and rss <= MONITORING_RSS_MB, detail)


def all_goals(
    load: Load,
    floor_ms: float | None,
    scoring: Mapping[str, Any] | None,
    monitoring: Mapping[str, Any] | None,
    floor_name: str = "floor",
) -> list[Goal]:
    """Every goal of issue 9 that ``make bench`` measures, in the issue's order."""
    return [
        *mlflow_goals(load),
        *bentoml_goals(load),
        latency_goal(load, floor_ms, floor_name),
        shedding_goal(load),
        scoring_goal(scoring),
        monitoring_goal(monitoring),
    ]


def _number(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def load_table(load: Load, labels: Mapping[str, str] = SERVER_LABELS) -> list[str]:
    """Markdown: per concurrency and server, medians, errors and the ratios to ours.

    ``ours ÷ it`` divides our req/s by the server's, ``it ÷ ours`` its p99 by ours: above 1,
    ours is ahead by that factor. ``wrk CPU`` is the load generator's share of one core.
    """
    lines = [
        "| connections | server | req/s | p50 ms | p99 ms | errors | of which 503 "
        "| req/s: ours ÷ it | p99: it ÷ ours | wrk CPU |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for connections, by_server in load.items():
        ours = by_server.get(OURS)
        for name, summary in by_server.items():
            rps_ratio = p99_ratio = math.nan
            if ours is not None and summary.requests_per_second and ours.p99_ms:
                rps_ratio = ours.requests_per_second / summary.requests_per_second
                p99_ratio = summary.p99_ms / ours.p99_ms
            lines.append(
                f"| {connections} | {labels.get(name, name)} "
                f"| {_number(summary.requests_per_second, 1)} | {_number(summary.p50_ms, 2)} "
                f"| {_number(summary.p99_ms, 1)} | {summary.errors} | {summary.shed} "
                f"| {_number(rps_ratio, 2)} | {_number(p99_ratio, 2)} "
                f"| {_number(100 * summary.client_cpu_share, 0)} % |"
            )
    return lines


def floor_table(
    curves: Mapping[str, Mapping[int, float]], sizes: Sequence[int] = (1, 8, 64)
) -> list[str]:
    """Markdown: in-process milliseconds of one model call per batch size, one row per path.

    A size is a column when every path measured it.
    """
    shown = [size for size in sizes if all(size in curve for curve in curves.values())]
    lines = [
        "| in-process ms per call | " + " | ".join(_rows(size) for size in shown) + " |",
        "| --- |" + " ---: |" * len(shown),
    ]
    for name, curve in curves.items():
        lines.append(f"| {name} | " + " | ".join(f"{curve[size]:.2f}" for size in shown) + " |")
    return lines


def _rows(size: int) -> str:
    return "1 row" if size == 1 else f"{size} rows"


def goals_table(goals: Sequence[Goal]) -> list[str]:
    """Markdown: each goal, its figures and whether it is met."""
    lines = ["| goal | measured | met |", "| --- | --- | --- |"]
    lines += [f"| {goal.name} | {goal.detail} | {goal.mark} |" for goal in goals]
    return lines


def workers_line(load: Load) -> str | None:
    """Two workers against one: the req/s ratio at every concurrency both ran, or None."""
    parts = []
    for connections, row in load.items():
        one, two = row.get(OURS), row.get(OURS_TWO_WORKERS)
        if one is not None and two is not None and one.requests_per_second:
            ratio = two.requests_per_second / one.requests_per_second
            parts.append(f"{connections} connections {ratio:.2f}x")
    return "ours, 2 workers ÷ 1 worker, req/s: " + ", ".join(parts) if parts else None


def jsonable(value: Any) -> Any:
    """``value`` with dataclasses as dicts, int keys as strings and NaN as None (strict JSON)."""
    if isinstance(value, LoadSummary):
        return jsonable({**asdict(value), "unexpected_errors": value.unexpected_errors})
    if isinstance(value, Goal):
        return {**asdict(value), "mark": value.mark}
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
