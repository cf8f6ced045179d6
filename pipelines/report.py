"""The run report: one self-contained HTML page that proves what a run did.

Three layers, so each is tested on its own:

- **Reading** (`gather`): the home's files and registry into plain records: the demo's
  ``summary.json`` (when a demo wrote one), every monitoring window's ``summary.json``, the
  audit log, the quarantine folder and, per registered version, its run, tags and holdout.
- **Assembling** (`assemble` and the pure functions it calls): the records into a `RunReport`:
  one `DayPoint` per simulated day, the decisions as dated `Event` markers, the evaluation
  record per version, and the failure taxonomy (`Incident`).
- **Rendering** (`render_report`): the report as HTML with static inline SVG charts.

Why static SVG rather than Plotly: the page must read offline and be the proof of the run, so
it carries everything it shows. Inlining Plotly costs ~4.6 MB of JavaScript per page and draws
nothing until that script runs; an SVG chart is a few kilobytes, is drawn by the browser (or a
printer) with no script at all, and can be checked in a unit test as plain text. The only
script on the page is the audit log's filter, a few lines inline.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from features.contract import Costs

#: Audit kinds drawn as markers on the charts, with their symbol and colour.
EVENT_STYLE: dict[str, tuple[str, str]] = {
    "retrain": ("triangle", "#6a3d9a"),
    "promote": ("circle", "#1a7f37"),
    "reject": ("cross", "#cf222e"),
    "rollback": ("diamond", "#bc4c00"),
}
#: Expectations that check the shape of a batch rather than its values: a batch failing one of
#: them is a schema incident, any other failure a data-quality incident.
SCHEMA_EXPECTATIONS = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_table_columns_to_match_ordered_list",
        "expect_column_to_exist",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_in_type_list",
    }
)
#: Calibration bins (equal counts of holdout rows) and cost-curve points per version.
CALIBRATION_BINS = 10
COST_CURVE_POINTS = 60
#: How far the old champion's gate metric on a retrain's (post-change) holdout must fall below
#: its own training figure for the report to call the change concept drift. A classification
#: of what happened, not a decision: the retraining policy's own thresholds decide.
CONCEPT_DRIFT_DROP = 0.05
#: The port `make mlflow-ui` serves the MLflow UI on.
MLFLOW_UI = "http://127.0.0.1:5000"


# ----------------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class DayPoint:
    """One day of the run as the charts draw it (None: not measured that day)."""

    date: str
    day: int | None = None
    rows: int | None = None
    blocked_rows: int = 0
    drift_share: float | None = None
    drift_threshold: float | None = None
    drift_detected: bool | None = None
    score_drift: float | None = None
    score_drift_threshold: float | None = None
    matured_pr_auc: float | None = None
    recall_at_threshold: float | None = None
    pr_auc_by_version: Mapping[str, float] = field(default_factory=dict)
    champion: str | None = None
    window_id: str | None = None
    failed_requests: int = 0
    has_performance_report: bool = False
    action: str = ""


@dataclass(frozen=True)
class Event:
    """One decision drawn as a marker: retrain, promote, reject or rollback."""

    date: str
    kind: str
    version: str | None
    text: str


@dataclass(frozen=True)
class Interval:
    """A holdout figure with its bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float


@dataclass(frozen=True)
class VersionRecord:
    """What the registry holds about one version, and what its holdout shows."""

    version: str
    run_id: str
    run_name: str
    metrics: Mapping[str, float]
    tags: Mapping[str, str]
    intervals: Mapping[str, Interval] = field(default_factory=dict)
    segments: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    calibration: Sequence[tuple[float, float, int]] = ()
    cost_curve: Sequence[tuple[float, float]] = ()
    artifacts: str | None = None
    mlflow_url: str | None = None

    @property
    def gate_numbers(self) -> Mapping[str, Any]:
        """The gate's compared numbers, as the registry tag holds them ({} when absent)."""
        try:
            loaded = json.loads(self.tags.get("gate.numbers", "{}"))
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}


@dataclass(frozen=True)
class Incident:
    """One failure of the run, classified, with when it began, was seen and was fixed."""

    kind: str
    began: str
    detected: str
    action: str
    recovered: str | None
    days_to_recovery: int | None
    evidence: str = ""


@dataclass(frozen=True)
class Link:
    """A link relative to the report's folder (or an absolute URL)."""

    text: str
    href: str


@dataclass(frozen=True)
class RunReport:
    """Everything the page shows; built by `assemble`, drawn by `render_report`."""

    title: str
    facts: Sequence[tuple[str, str]]
    days: Sequence[DayPoint]
    events: Sequence[Event]
    versions: Sequence[VersionRecord]
    incidents: Sequence[Incident]
    audit: Sequence[Mapping[str, Any]]
    links: Sequence[Link]
    day_links: Mapping[str, Sequence[Link]] = field(default_factory=dict)
    checks: Mapping[str, Any] = field(default_factory=dict)
    ground_truth: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Quarantined:
    """One quarantined batch: its id, rows and the expectations it failed."""

    batch: str
    rows: int | None
    failures: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class HomeRecords:
    """The raw records `gather` reads from a home; `assemble` turns them into a report."""

    summary: Mapping[str, Any] | None
    windows: Sequence[Mapping[str, Any]]
    audit: Sequence[Mapping[str, Any]]
    quarantine: Sequence[Quarantined]
    versions: Sequence[VersionRecord]
    performance_reports: frozenset[str] = frozenset()
    model_name: str = ""
    home_href: str = ".."
    """The home folder relative to the page's folder (links to the home's files start here)."""


# ------------------------------------------------------------------------- pure: the holdout


def calibration_curve(
    y: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], bins: int = CALIBRATION_BINS
) -> list[tuple[float, float, int]]:
    """Mean score, observed positive rate and rows per bin of equal row counts (by score)."""
    if len(y) == 0:
        return []
    order = np.argsort(scores, kind="stable")
    return [
        (float(scores[part].mean()), float(y[part].mean()), len(part))
        for part in np.array_split(order, min(bins, len(y)))
        if len(part)
    ]


def cost_curve(
    y: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    costs: Costs,
    points: int = COST_CURVE_POINTS,
) -> list[tuple[float, float]]:
    """Expected cost per row against the share of rows flagged, at score-quantile thresholds.

    Drawn against the share flagged rather than the threshold itself: scores of a rare class
    crowd near 0, where a threshold axis would squeeze the whole curve into one corner.
    """
    if len(y) == 0:
        return []
    thresholds = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, points)))
    positives = y == 1
    curve = []
    for threshold in thresholds:
        flagged = scores >= threshold
        fn = int((~flagged & positives).sum())
        fp = int((flagged & ~positives).sum())
        cost = fn * costs.false_negative + fp * costs.false_positive
        curve.append((float(flagged.mean()), cost / len(y)))
    return sorted(curve)


def recall_interval(
    y: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    threshold: float,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> Interval | None:
    """Recall at ``threshold`` with a percentile bootstrap interval (rows resampled per class)."""
    from training.evaluate import bootstrap_draws

    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        return None
    hit = ((scores >= threshold) & (y == 1)).astype(np.float64)
    figures = np.concatenate(
        [hit[draws].sum(axis=1) / positives for draws in bootstrap_draws(y, resamples, seed)]
    )
    tail = (1.0 - confidence) / 2.0
    return Interval(
        float(hit.sum() / positives),
        float(np.quantile(figures, tail)),
        float(np.quantile(figures, 1.0 - tail)),
        confidence,
    )


# ----------------------------------------------------------------------- pure: the timeline


def window_end(window_id: str) -> str:
    """The last day of a window id (``'YYYY-MM-DD'`` or ``'YYYY-MM-DD_YYYY-MM-DD'``)."""
    return window_id.rsplit("_", 1)[-1]


def _iso_date(text: object) -> str | None:
    try:
        return date.fromisoformat(str(text)).isoformat()
    except ValueError:
        return None


def dated_audit(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Audit records with the run day each belongs to (``day_date``).

    Records carry wall-clock times; the run's days are simulated. A record about a window or
    a batch is dated by it; any other (a promotion, a rollback) by the latest record before
    it that was: a promotion belongs to the retrain or the batches it followed.
    """
    current: str | None = None
    dated = []
    for record in records:
        own = record.get("window_id") or record.get("batch")
        own_date = _iso_date(window_end(str(own))) if own else None
        current = own_date or current
        dated.append({**record, "day_date": own_date or current})
    return dated


def events_from_audit(records: Iterable[Mapping[str, Any]]) -> list[Event]:
    """The marked decisions (retrain, promote, reject, rollback) of dated audit records."""
    events = []
    for record in records:
        kind = str(record.get("kind"))
        if kind not in EVENT_STYLE or not record.get("day_date"):
            continue
        version = record.get("challenger_version") or record.get("to_version")
        if kind == "retrain":
            version = None
            text = f"retrain ({record.get('trigger')})"
        elif kind == "rollback":
            text = f"rollback v{record.get('from_version')} -> v{record.get('to_version')}"
        else:
            text = f"{kind} v{version}"
        events.append(Event(str(record["day_date"]), kind, version and str(version), text))
    return events


def _day_numbers(summary: Mapping[str, Any] | None) -> tuple[date | None, dict[str, int]]:
    """The date of day 0 (when the timeline's days are consecutive) and each row's day."""
    timeline = (summary or {}).get("timeline") or []
    by_date = {str(r["date"]): int(r["day"]) for r in timeline}
    if not timeline:
        return None, by_date
    first = timeline[0]
    return date.fromisoformat(str(first["date"])) - timedelta(days=int(first["day"])), by_date


def day_date(summary: Mapping[str, Any] | None, day: int | None) -> str | None:
    """The date of day index ``day`` of a demo (None without a demo or a day)."""
    if day is None:
        return None
    start, by_date = _day_numbers(summary)
    for text, number in by_date.items():
        if number == day:
            return text
    return None if start is None else (start + timedelta(days=day)).isoformat()


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def day_points(
    summary: Mapping[str, Any] | None,
    windows: Sequence[Mapping[str, Any]],
    quarantine: Sequence[Quarantined],
    events: Sequence[Event] = (),
    performance_reports: frozenset[str] = frozenset(),
) -> list[DayPoint]:
    """One point per day: the demo's timeline row (if any) and the window closing that day.

    Without a demo summary (a home run stage by stage) the days are the windows' and the
    quarantined batches' own. Days of ``events`` are included (the first promotion happens
    before the first window), and a promotion names the champion from its day on.
    """
    extra_dates = {e.date for e in events}
    start, by_date = _day_numbers(summary)
    rows = {str(r["date"]): r for r in (summary or {}).get("timeline") or []}
    by_end = {window_end(str(w["window_id"])): w for w in windows}
    blocked = {q.batch: q.rows for q in quarantine}
    dates = sorted(
        set(rows) | set(by_end) | {d for d in blocked if _iso_date(d)} | set(extra_dates)
    )
    points = []
    for when in dates:
        row = rows.get(when, {})
        window = by_end.get(when, {})
        performance = window.get("performance") or {}
        by_version = window.get("performance_by_version") or {}
        drift = window.get("prediction_drift") or {}
        blocked_rows = blocked.get(when)
        if blocked_rows is None and row.get("blocked"):
            blocked_rows = int(row.get("rows") or 0)
        day = by_date.get(when)
        if day is None and start is not None:
            day = (date.fromisoformat(when) - start).days
        points.append(
            DayPoint(
                date=when,
                day=day,
                rows=row.get("rows", window.get("n_rows")),
                blocked_rows=blocked_rows or 0,
                drift_share=_float(window.get("drift_share", row.get("drift_share"))),
                drift_threshold=_float(window.get("drift_share_threshold")),
                drift_detected=window.get("data_drift_detected", row.get("drift_detected")),
                score_drift=_float(drift.get("score")),
                score_drift_threshold=_float(drift.get("threshold")),
                matured_pr_auc=_float(performance.get("pr_auc", row.get("matured_pr_auc"))),
                recall_at_threshold=_float(performance.get("recall_at_threshold")),
                pr_auc_by_version={
                    str(v): float(p["pr_auc"])
                    for v, p in by_version.items()
                    if p.get("evaluated") and p.get("pr_auc") is not None
                },
                champion=row.get("champion_version") or window.get("champion_version"),
                window_id=window.get("window_id") or row.get("window_id"),
                failed_requests=int(row.get("failed_requests") or 0),
                has_performance_report=str(window.get("window_id")) in performance_reports,
                action=str(row.get("action") or "").strip("-"),
            )
        )
    promoted = {e.date: e.version for e in events if e.kind in ("promote", "rollback")}
    return _carry_champion(points, promoted)


def _carry_champion(points: list[DayPoint], promoted: Mapping[str, str | None]) -> list[DayPoint]:
    """Days without a champion of their own keep the one before (or the one promoted then)."""
    carried, champion = [], None
    for point in points:
        champion = point.champion or promoted.get(point.date) or champion
        carried.append(point if point.champion else replace(point, champion=champion))
    return carried


# ------------------------------------------------------------------------- pure: incidents


def _day_label(when: str | None, points: Mapping[str, DayPoint]) -> str:
    if when is None:
        return "-"
    point = points.get(when)
    return f"day {point.day} ({when})" if point and point.day is not None else when


def _days_between(first: str | None, last: str | None) -> int | None:
    if first is None or last is None:
        return None
    return (date.fromisoformat(last) - date.fromisoformat(first)).days


def quarantine_incidents(
    quarantine: Sequence[Quarantined],
    points: Sequence[DayPoint],
    incident_date: str | None,
) -> list[Incident]:
    """One incident per quarantined batch: schema or data quality, by the expectations failed.

    It is detected the day it arrives (the validation gate runs before scoring); it is over
    when the next batch passes.
    """
    by_date = {p.date: p for p in points}
    passed = sorted(p.date for p in points if p.blocked_rows == 0 and p.rows)
    incidents = []
    for batch in quarantine:
        types = {str(f.get("expectation_type")) for f in batch.failures}
        kind = "schema" if types & SCHEMA_EXPECTATIONS else "data quality"
        when = _iso_date(batch.batch)
        began = _day_label(when, by_date) if when else batch.batch
        if when is not None and when == incident_date:
            began += " (scenario ground truth)"
        after = next((d for d in passed if when is not None and d > when), None)
        failed = "; ".join(
            f"{f.get('expectation_type')}({f.get('column') or ''}): {f.get('reason', '')}"
            for f in batch.failures
        )
        incidents.append(
            Incident(
                kind=kind,
                began=began,
                detected=f"{_day_label(when, by_date)}, by the validation gate on arrival",
                action=(
                    f"batch {batch.batch} quarantined"
                    + (f" ({batch.rows} rows)" if batch.rows is not None else "")
                    + ": never scored, never trained on"
                ),
                recovered=_day_label(after, by_date) if after else None,
                days_to_recovery=_days_between(when, after),
                evidence=failed,
            )
        )
    return incidents


def drift_episodes(points: Sequence[DayPoint]) -> list[tuple[str, str]]:
    """First and last date of each run of consecutive windows that detected data drift."""
    episodes: list[tuple[str, str]] = []
    start: str | None = None
    last: str | None = None
    for point in points:
        if point.drift_detected is None:
            continue
        if point.drift_detected:
            start, last = start or point.date, point.date
        elif start is not None and last is not None:
            episodes.append((start, last))
            start = last = None
    if start is not None and last is not None:
        episodes.append((start, last))
    return episodes


def _response(events: Sequence[Event], since: str, until: str | None) -> tuple[str, str | None]:
    """What the pipeline did between two dates, and the date a new version took over."""
    acted = [e for e in events if e.date >= since and (until is None or e.date < until)]
    done = [e.text + f" on {e.date}" for e in acted]
    promoted = next((e.date for e in acted if e.kind == "promote"), None)
    return ("; ".join(done) or "no retrain yet"), promoted


def drift_incidents(
    points: Sequence[DayPoint],
    events: Sequence[Event],
    onset_date: str | None,
    versions: Sequence[VersionRecord],
    concept_drop: float,
) -> list[Incident]:
    """Covariate drift per drift episode; concept drift where the old model lost on new labels.

    Covariate drift: the inputs' distribution moved (the windows' drift share). Concept drift:
    a retrained challenger's gate found the champion's metric on the post-drift holdout below
    its own training figure by more than ``concept_drop``: the same inputs now mean
    something else. A retrain triggered by the
    performance rule without either is performance decay.
    """
    by_date = {p.date: p for p in points}
    episodes = drift_episodes(points)
    incidents = []
    for index, (first, last) in enumerate(episodes):
        until = episodes[index + 1][0] if index + 1 < len(episodes) else None
        action, promoted = _response(events, first, until)
        false_alarm = onset_date is not None and last < onset_date
        began_date = onset_date if onset_date is not None and onset_date <= first else None
        began = (
            _day_label(began_date, by_date) + " (scenario ground truth)"
            if began_date
            else ("before the onset: a false alarm" if false_alarm else "unknown (no ground truth)")
        )
        share = max((p.drift_share or 0.0) for p in points if first <= p.date <= last)
        incidents.append(
            Incident(
                kind="covariate drift",
                began=began,
                detected=_day_label(first, by_date) + f", drift through {last}",
                action=action,
                recovered=_day_label(promoted, by_date) if promoted else None,
                days_to_recovery=_days_between(began_date or first, promoted),
                evidence=f"drift share up to {share:.2f} of features",
            )
        )
    incidents.extend(_concept_incidents(points, events, onset_date, versions, concept_drop))
    return incidents


def _concept_incidents(
    points: Sequence[DayPoint],
    events: Sequence[Event],
    onset_date: str | None,
    versions: Sequence[VersionRecord],
    concept_drop: float,
) -> list[Incident]:
    by_date = {p.date: p for p in points}
    trained = {v.version: v.metrics for v in versions}
    incidents = []
    for record in versions:
        numbers = record.gate_numbers
        old = record.tags.get("gate.compared_with")
        metric = str(numbers.get("metric", ""))
        if old in (None, "none") or "champion" not in numbers or metric not in trained.get(old, {}):
            continue
        then, now = float(trained[old][metric]), float(numbers["champion"])
        if then - now <= concept_drop:
            continue
        judged = next(
            (e for e in events if e.version == record.version and e.kind != "retrain"), None
        )
        seen = judged.date if judged else None
        promoted = seen if judged and judged.kind == "promote" else None
        began_date = (
            onset_date if onset_date is not None and (seen is None or onset_date <= seen) else None
        )
        incidents.append(
            Incident(
                kind="concept drift",
                began=(
                    _day_label(began_date, by_date) + " (scenario ground truth)"
                    if began_date
                    else "unknown (no ground truth)"
                ),
                detected=_day_label(seen, by_date) + f", by the gate judging v{record.version}",
                action=(judged.text + f" on {seen}") if judged else "-",
                recovered=_day_label(promoted, by_date) if promoted else None,
                days_to_recovery=_days_between(began_date or seen, promoted),
                evidence=(
                    f"v{old}'s {metric} fell from {then:.3f} on its own holdout to {now:.3f} on "
                    f"the labels after the change (drop {then - now:.3f} > {concept_drop:.3f})"
                ),
            )
        )
    return incidents


def decay_incidents(
    audit: Sequence[Mapping[str, Any]], events: Sequence[Event], points: Sequence[DayPoint]
) -> list[Incident]:
    """Retrains the performance rule triggered: the matured metric fell below the floor."""
    by_date = {p.date: p for p in points}
    incidents = []
    for record in audit:
        if record.get("kind") != "retrain" or record.get("trigger") != "performance":
            continue
        when = record.get("day_date")
        action, promoted = _response(events, str(when), None)
        incidents.append(
            Incident(
                kind="performance decay",
                began="unknown (labels arrive late)",
                detected=_day_label(when, by_date) + ", by the performance rule",
                action=action,
                recovered=_day_label(promoted, by_date) if promoted else None,
                days_to_recovery=_days_between(when, promoted),
                evidence=str(record.get("reason", "")),
            )
        )
    return incidents


def serving_incidents(points: Sequence[DayPoint]) -> list[Incident]:
    """Days on which scoring requests failed; over on the next day without failures."""
    by_date = {p.date: p for p in points}
    incidents = []
    for point in points:
        if not point.failed_requests:
            continue
        after = next(
            (p.date for p in points if p.date > point.date and p.rows and not p.failed_requests),
            None,
        )
        incidents.append(
            Incident(
                kind="serving fault",
                began=_day_label(point.date, by_date),
                detected=_day_label(point.date, by_date) + ", by the scoring client",
                action=f"{point.failed_requests} request(s) failed",
                recovered=_day_label(after, by_date) if after else None,
                days_to_recovery=_days_between(point.date, after),
            )
        )
    return incidents


# ------------------------------------------------------------------------ pure: assembling


def _links(
    records: HomeRecords, points: Sequence[DayPoint]
) -> tuple[list[Link], dict[str, list[Link]]]:
    def _rel(path: str) -> str:
        return f"{records.home_href}/{path}"

    links = [
        Link("summary.json", _rel("demo/summary.json")) if records.summary else None,
        Link("audit log", _rel("audit.jsonl")),
        Link("Data Docs", _rel("gx/gx/uncommitted/data_docs/local_site/index.html")),
        Link("MLflow UI (run `make mlflow-ui` first)", MLFLOW_UI),
    ]
    per_day: dict[str, list[Link]] = {}
    for point in points:
        found = []
        if point.blocked_rows:
            found.append(Link("quarantine", _rel(f"data/quarantine/{point.date}/data_docs.html")))
        if point.window_id:
            found.append(Link("evidently", _rel(f"monitoring/{point.window_id}/report.html")))
        if point.has_performance_report:
            found.append(
                Link("performance", _rel(f"monitoring/{point.window_id}/performance.html"))
            )
        if found:
            per_day[point.date] = found
    return [link for link in links if link is not None], per_day


def assemble(records: HomeRecords, concept_drop: float = CONCEPT_DRIFT_DROP) -> RunReport:
    """The report of one home's records (pure)."""
    summary = records.summary or {}
    truth = summary.get("ground_truth") or {}
    audit = dated_audit(records.audit)
    events = events_from_audit(audit)
    points = day_points(
        records.summary,
        records.windows,
        records.quarantine,
        events,
        records.performance_reports,
    )
    incident_date = day_date(records.summary, truth.get("incident_day"))
    onset_date = day_date(records.summary, truth.get("onset_day"))
    incidents = [
        *quarantine_incidents(records.quarantine, points, incident_date),
        *drift_incidents(points, events, onset_date, records.versions, concept_drop),
        *decay_incidents(audit, events, points),
        *serving_incidents(points),
    ]
    links, per_day = _links(records, points)
    use_case = summary.get("use_case") or records.model_name
    title = f"Run report: {use_case}" + (
        f", scenario {summary['scenario']}, {summary.get('days')} days, seed {summary.get('seed')}"
        if summary
        else ""
    )
    facts = [
        ("model", records.model_name),
        ("days shown", f"{points[0].date} .. {points[-1].date}" if points else "-"),
        ("versions", ", ".join(v.version for v in records.versions) or "-"),
        (
            "champion now",
            str(summary.get("champion_version") or (points[-1].champion if points else "-")),
        ),
        ("monitoring windows", str(len(records.windows))),
        ("decisions logged", str(len(audit))),
        ("batches quarantined", ", ".join(q.batch for q in records.quarantine) or "none"),
    ]
    if truth.get("incident_day") is not None:
        facts.append(
            ("incident (ground truth)", _day_label(incident_date, {p.date: p for p in points}))
        )
    if truth.get("onset_day") is not None:
        facts.append(
            ("drift onset (ground truth)", _day_label(onset_date, {p.date: p for p in points}))
        )
    return RunReport(
        title=title,
        facts=facts,
        days=points,
        events=events,
        versions=records.versions,
        incidents=incidents,
        audit=audit,
        links=links,
        day_links=per_day,
        checks=summary.get("checks") or {},
        ground_truth={"incident": incident_date, "onset": onset_date},
    )


# ------------------------------------------------------------------------- pure: rendering

#: Colours of the charts' series, in order (the versions cycle through them).
PALETTE = ("#0969da", "#bc4c00", "#1a7f37", "#8250df", "#cf222e", "#57606a", "#9a6700")
WIDTH, HEIGHT = 920, 230
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 34


@dataclass(frozen=True)
class Series:
    """One drawn series: ``line`` (gaps at None), ``step`` or ``bars``."""

    name: str
    values: Sequence[float | None]
    color: str
    style: str = "line"
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    """One chart over the run's days."""

    key: str
    title: str
    series: Sequence[Series]
    thresholds: Sequence[tuple[float, str]] = ()
    y_range: tuple[float, float] | None = None
    integer_axis: bool = False
    markers: Sequence[tuple[int, float, Event]] = ()
    note: str = ""


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _y_bounds(chart: Chart) -> tuple[float, float]:
    if chart.y_range is not None:
        return chart.y_range
    values = [v for s in chart.series for v in s.values if v is not None]
    values += [t for t, _ in chart.thresholds]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if chart.integer_axis:
        return low - 0.5, high + 0.5
    low = min(low, 0.0)
    return low, high + (high - low) * 0.08 if high > low else low + 1.0


def _tick(value: float, version: bool, high: float) -> str:
    if version:
        return f"v{value:.0f}"
    return f"{value:,.0f}" if high >= 10 else f"{value:.2g}"


def _marker(kind: str, x: float, y: float, color: str, title: str) -> str:
    shape, _ = EVENT_STYLE.get(kind, ("circle", color))
    tip = f"<title>{escape(title)}</title>"
    if shape == "triangle":
        d = f"M{x:.1f},{y - 7:.1f} L{x + 6:.1f},{y + 4:.1f} L{x - 6:.1f},{y + 4:.1f} Z"
        return f'<path class="marker" data-kind="{kind}" d="{d}" fill="{color}">{tip}</path>'
    if shape == "cross":
        d = (
            f"M{x - 5:.1f},{y - 5:.1f} L{x + 5:.1f},{y + 5:.1f} "
            f"M{x - 5:.1f},{y + 5:.1f} L{x + 5:.1f},{y - 5:.1f}"
        )
        return (
            f'<path class="marker" data-kind="{kind}" d="{d}" stroke="{color}" '
            f'stroke-width="3">{tip}</path>'
        )
    if shape == "diamond":
        d = f"M{x:.1f},{y - 7:.1f} L{x + 7:.1f},{y:.1f} L{x:.1f},{y + 7:.1f} L{x - 7:.1f},{y:.1f} Z"
        return f'<path class="marker" data-kind="{kind}" d="{d}" fill="{color}">{tip}</path>'
    return (
        f'<circle class="marker" data-kind="{kind}" cx="{x:.1f}" cy="{y:.1f}" r="6" '
        f'fill="{color}" stroke="#fff">{tip}</circle>'
    )


def _series_svg(series: Series, xs: Sequence[float], y: Any, base: float) -> tuple[str, int]:
    """SVG of one series and how many points it drew."""
    points = [(x, v) for x, v in zip(xs, series.values, strict=True) if v is not None]
    if not points:
        return "", 0
    dash = ' stroke-dasharray="6 4"' if series.dashed else ""
    name = escape(series.name)
    if series.style == "bars":
        width = max(2.0, (xs[1] - xs[0]) * 0.7 if len(xs) > 1 else 10.0)
        bars = "".join(
            f'<rect x="{x - width / 2:.1f}" y="{y(v):.1f}" width="{width:.1f}" '
            f'height="{max(0.0, base - y(v)):.1f}" fill="{series.color}"><title>{name}: {v:g}'
            "</title></rect>"
            for x, v in points
            if v
        )
        return f'<g class="series" data-series="{name}">{bars}</g>', len(points)
    parts: list[list[tuple[float, float]]] = [[]]
    for x, v in zip(xs, series.values, strict=True):
        if v is None:
            if parts[-1] and series.style != "step":
                parts.append([])
            continue
        if series.style == "step" and parts[-1]:
            parts[-1].append((x, parts[-1][-1][1]))
        parts[-1].append((x, y(v)))
    lines = "".join(
        f'<polyline fill="none" stroke="{series.color}" stroke-width="2"{dash} points="'
        + " ".join(f"{px:.1f},{py:.1f}" for px, py in part)
        + '"/>'
        for part in parts
        if part
    )
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y(v):.1f}" r="2.5" fill="{series.color}">'
        f"<title>{name}: {v:.3g}</title></circle>"
        for x, v in points
    )
    return f'<g class="series" data-series="{name}">{lines}{dots}</g>', len(points)


def chart_svg(
    chart: Chart, labels: Sequence[str], verticals: Sequence[tuple[int, str]] = ()
) -> str:
    """One chart as inline SVG; ``data-points`` counts the values drawn (the browser test's)."""
    n = len(labels)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xs = [LEFT + (i + 0.5) * plot_w / max(n, 1) for i in range(n)]
    low, high = _y_bounds(chart)

    def y(value: float) -> float:
        return TOP + plot_h - (value - low) / (high - low) * plot_h

    base = y(max(low, 0.0))
    body, drawn = [], 0
    for series in chart.series:
        svg, count = _series_svg(series, xs, y, base)
        body.append(svg)
        drawn += count
    ticks = 4 if not chart.integer_axis else int(high - low)
    grid = []
    for k in range(ticks + 1):
        value = low + (high - low) * k / max(ticks, 1)
        if chart.integer_axis:
            value = math.ceil(low) + k
            if value > high:
                break
        label = _tick(value, chart.integer_axis, high)
        grid.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#eaeef2"/><text x="{LEFT - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{label}</text>'
        )
    step = max(1, math.ceil(n / 12))
    xlabels = "".join(
        f'<text x="{xs[i]:.1f}" y="{HEIGHT - 14}" text-anchor="middle">{escape(labels[i])}</text>'
        for i in range(0, n, step)
    )
    lines = "".join(
        f'<line class="threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" '
        f'y2="{y(value):.1f}" stroke="#cf222e" stroke-dasharray="3 3"/>'
        f'<text x="{WIDTH - RIGHT - 4}" y="{y(value) - 4:.1f}" text-anchor="end" '
        f'fill="#cf222e">{escape(text)}</text>'
        for value, text in chart.thresholds
    )
    truth = "".join(
        f'<line x1="{xs[i]:.1f}" x2="{xs[i]:.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
        f'stroke="#57606a" stroke-dasharray="2 4"/><text x="{xs[i] + 3:.1f}" y="{TOP + 10}" '
        f'fill="#57606a">{escape(text)}</text>'
        for i, text in verticals
    )
    marks = "".join(
        _marker(e.kind, xs[i], y(v), EVENT_STYLE[e.kind][1], f"{e.date}: {e.text}")
        for i, v, e in chart.markers
    )
    legend = "".join(
        f'<tspan fill="{s.color}">\u25a0 {escape(s.name)}</tspan>  ' for s in chart.series
    )
    return (
        f'<figure class="chart"><svg data-chart="{chart.key}" data-points="{drawn}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(chart.title)}">'
        f'<text x="{LEFT}" y="16" class="title">{escape(chart.title)}</text>'
        f'<text x="{WIDTH - RIGHT}" y="16" text-anchor="end">{legend}</text>'
        f"{''.join(grid)}{truth}{lines}{''.join(body)}{marks}{xlabels}</svg>"
        + (f"<figcaption>{escape(chart.note)}</figcaption>" if chart.note else "")
        + "</figure>"
    )


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (10**9, version)


def run_charts(report: RunReport) -> list[Chart]:
    """The charts over the days: performance, drift, score shift, rows blocked, champion."""
    days = report.days
    versions = sorted({v for p in days for v in p.pr_auc_by_version}, key=_version_key)
    colour = {v: PALETTE[i % len(PALETTE)] for i, v in enumerate(versions)}
    index = {p.date: i for i, p in enumerate(days)}
    champion_values = [
        float(p.champion) if p.champion and p.champion.isdigit() else None for p in days
    ]
    markers = []
    for event in report.events:
        i = index.get(event.date)
        level = champion_values[i] if i is not None else None
        if i is not None and level is not None:
            offset = {"retrain": -0.25, "reject": 0.25}.get(event.kind, 0.0)
            target = float(event.version) if event.kind == "promote" and event.version else level
            markers.append((i, target + offset, event))
    drift_threshold = next((p.drift_threshold for p in days if p.drift_threshold), None)
    score_threshold = next((p.score_drift_threshold for p in days if p.score_drift_threshold), None)
    return [
        Chart(
            "pr_auc",
            "Matured PR-AUC, per version and overall",
            [
                *(
                    Series(f"v{v}", [p.pr_auc_by_version.get(v) for p in days], colour[v])
                    for v in versions
                ),
                Series("all versions", [p.matured_pr_auc for p in days], "#57606a", dashed=True),
            ],
            y_range=(0.0, 1.0),
            note="Trailing window of matured labels; a version is drawn once its own predictions "
            "hold enough positives.",
        ),
        Chart(
            "recall",
            "Matured recall at the threshold",
            [Series("recall at threshold", [p.recall_at_threshold for p in days], PALETTE[0])],
            y_range=(0.0, 1.0),
            note="Over every version that scored in the trailing window, each at its own "
            "threshold.",
        ),
        Chart(
            "drift_share",
            "Drift share of features",
            [Series("drift share", [p.drift_share for p in days], PALETTE[1])],
            thresholds=[(drift_threshold, f"threshold {drift_threshold:g}")]
            if drift_threshold
            else [],
            y_range=(0.0, 1.0),
        ),
        Chart(
            "score_drift",
            "Score distribution shift (prediction drift)",
            [Series("score drift", [p.score_drift for p in days], PALETTE[3])],
            thresholds=[(score_threshold, f"threshold {score_threshold:g}")]
            if score_threshold
            else [],
        ),
        Chart(
            "blocked",
            "Rows scored and rows blocked",
            [
                Series("rows blocked", [float(p.blocked_rows) for p in days], PALETTE[4], "bars"),
                Series(
                    "rows", [None if p.rows is None else float(p.rows) for p in days], "#8c959f"
                ),
            ],
        ),
        Chart(
            "champion",
            "Champion version, with the decisions",
            [Series("champion", champion_values, PALETTE[2], "step")],
            integer_axis=True,
            markers=markers,
            note="\u25b2 retrain  \u25cf promote  \u2716 reject  \u25c6 rollback "
            "(hover a marker for the detail)",
        ),
    ]


def _plain(value: Any) -> str:
    """A check's value for a person: floats to 3 decimals, lists without brackets."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value) or "none"
    return "-" if value is None else str(value)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """An HTML table; cells are HTML already (escape what needs it before)."""
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _a(link: Link) -> str:
    return f'<a href="{escape(link.href)}">{escape(link.text)}</a>'


def _incidents_html(report: RunReport) -> str:
    if not report.incidents:
        return "<p>No incident: no batch was blocked, no drift detected, no request failed.</p>"
    rows = [
        (
            f"<b>{escape(i.kind)}</b>",
            escape(i.began),
            escape(i.detected),
            escape(i.action),
            escape(i.recovered or "not yet"),
            "-" if i.days_to_recovery is None else f"{i.days_to_recovery} day(s)",
            f'<span class="small">{escape(i.evidence)}</span>',
        )
        for i in report.incidents
    ]
    head = (
        "class",
        "began",
        "detected",
        "what the pipeline did",
        "recovered",
        "time to recovery",
        "evidence",
    )
    return _table(head, rows, "incidents")


def _xy_svg(
    key: str,
    title: str,
    points: Sequence[tuple[float, float]],
    *,
    diagonal: bool,
    vline: float | None,
    vline_label: str,
    x_label: str,
    y_label: str,
) -> str:
    """A small scatter/line chart of (x, y) points (calibration, cost curve)."""
    w, h, left, bottom, top = 430, 240, 50, 34, 40
    if not points:
        return ""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x_hi = max(max(xs), vline or 0.0) or 1.0
    y_hi = max(max(ys), x_hi if diagonal else 0.0) or 1.0

    def px(v: float) -> float:
        return left + v / x_hi * (w - left - 12)

    def py(v: float) -> float:
        return top + (1 - v / y_hi) * (h - top - bottom)

    line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
    extra = ""
    if diagonal:
        m = min(x_hi, y_hi)
        extra += (
            f'<line x1="{px(0):.1f}" y1="{py(0):.1f}" x2="{px(m):.1f}" y2="{py(m):.1f}" '
            'stroke="#8c959f" stroke-dasharray="4 4"/>'
        )
    if vline is not None:
        extra += (
            f'<line x1="{px(vline):.1f}" x2="{px(vline):.1f}" y1="{top}" y2="{h - bottom}" '
            f'stroke="#cf222e" stroke-dasharray="3 3"/><text x="{px(vline) + 4:.1f}" '
            f'y="{top + 10}" fill="#cf222e">{escape(vline_label)}</text>'
        )
    dots = "".join(
        f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="#0969da">'
        f"<title>{x:.3g}, {y:.3g}</title></circle>"
        for x, y in points
    )
    axes = (
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - 12}" y2="{h - bottom}" stroke="#57606a"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#57606a"/>'
        f'<text x="{left}" y="{h - 8}">{escape(x_label)} (0 .. {x_hi:.3g})</text>'
        f'<text x="{left}" y="{top - 8}">{escape(y_label)} (max {y_hi:.3g})</text>'
    )
    return (
        f'<figure class="small-chart"><svg data-chart="{key}" data-points="{len(points)}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">'
        f'<text x="{left}" y="16" class="title">{escape(title)}</text>{axes}{extra}'
        f'<polyline fill="none" stroke="#0969da" stroke-width="2" points="{line}"/>{dots}'
        "</svg></figure>"
    )


SHOWN_METRICS = (
    "pr_auc",
    "roc_auc",
    "recall_at_threshold",
    "precision_at_threshold",
    "recall_at_fpr",
    "brier",
    "expected_cost_per_row",
    "threshold",
    "n_rows",
    "n_positives",
)


def _metrics_table(record: VersionRecord) -> str:
    rows = []
    for name in SHOWN_METRICS:
        if name not in record.metrics:
            continue
        interval = record.intervals.get(name)
        ci = (
            f"{interval.low:.3f} .. {interval.high:.3f} ({interval.confidence:.0%})"
            if interval
            else ""
        )
        value = record.metrics[name]
        shown = f"{value:.0f}" if name.startswith("n_") else f"{value:.4g}"
        rows.append((escape(name), shown, ci))
    return _table(("holdout metric", "value", "bootstrap interval"), rows, "metrics")


def _segments_table(record: VersionRecord) -> str:
    rows = []
    for column, values in record.segments.items():
        for value, figures in values.items():
            rows.append(
                (
                    escape(f"{column}={value}"),
                    str(figures.get("n_rows", "")),
                    str(figures.get("n_positives", "")),
                    _fmt(_float(figures.get("pr_auc"))),
                    _fmt(_float(figures.get("recall_at_threshold"))),
                    _fmt(_float(figures.get("precision_at_threshold"))),
                    _fmt(_float(figures.get("expected_cost_per_row"))),
                )
            )
    if not rows:
        return ""
    head = ("segment", "rows", "positives", "PR-AUC", "recall", "precision", "cost / row")
    return (
        "<details><summary>Per-segment holdout figures</summary>"
        + _table(head, rows, "segments")
        + "</details>"
    )


def _gate_html(record: VersionRecord) -> str:
    tags = record.tags
    verdict = tags.get("gate.verdict")
    if verdict is None:
        return "<p>Not judged by the gate yet.</p>"
    numbers = record.gate_numbers
    rows = []
    for name, value in numbers.items():
        if isinstance(value, dict):
            if {"low", "high", "estimate"} <= set(value):
                shown = (
                    f"{value['estimate']:+.4f} ({value.get('confidence', 0.95):.0%} CI "
                    f"{value['low']:+.4f} to {value['high']:+.4f}; {value.get('method', '')})"
                )
            else:
                shown = ", ".join(
                    f"{k} {v:+.3f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in value.items()
                )
        else:
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        rows.append((escape(name), escape(shown)))
    warnings = json.loads(tags.get("gate.warnings", "[]") or "[]")
    compared = tags.get("gate.compared_with", "none")
    css = "promote" if verdict == "promote" else "reject"
    return (
        f'<p class="{css}"><b>Gate: {escape(verdict)}</b> (compared with '
        f"{'no champion' if compared == 'none' else 'v' + escape(compared)}, "
        f"{escape(tags.get('gate.at', '?')[:19])}): {escape(tags.get('gate.reason', ''))}</p>"
        + _table(("compared", "value"), rows, "gate")
        + "".join(f'<p class="small">caveat: {escape(str(w))}</p>' for w in warnings)
    )


def _version_html(record: VersionRecord) -> str:
    tags = record.tags
    links = [Link("MLflow run", record.mlflow_url)] if record.mlflow_url else []
    if record.artifacts:
        links += [
            Link("model card", record.artifacts + "/model_card.md"),
            Link("run artifacts", record.artifacts),
        ]
    threshold = record.metrics.get("threshold")
    n_rows, n_flagged = record.metrics.get("n_rows"), record.metrics.get("n_flagged")
    flagged = n_flagged / n_rows if n_rows and n_flagged is not None else None
    return (
        f'<section class="version" id="v{escape(record.version)}">'
        f"<h3>Version {escape(record.version)} "
        f'<span class="small">run {escape(record.run_name)}</span></h3>'
        f"<p>Trained on {escape(tags.get('train_start', '?'))} .. "
        f"{escape(tags.get('train_end', '?'))}, holdout "
        f"{escape(tags.get('holdout_start', '?'))} .. {escape(tags.get('holdout_end', '?'))}"
        f"; {' · '.join(_a(link) for link in links)}</p>"
        + _gate_html(record)
        + '<div class="row">'
        + _metrics_table(record)
        + _xy_svg(
            f"calibration_v{record.version}",
            f"Calibration of v{record.version} (holdout)",
            [(m, o) for m, o, _ in record.calibration],
            diagonal=True,
            vline=None,
            vline_label="",
            x_label="mean score",
            y_label="positive rate",
        )
        + _xy_svg(
            f"cost_v{record.version}",
            f"Cost per row by share flagged, v{record.version}",
            list(record.cost_curve),
            diagonal=False,
            vline=flagged,
            vline_label=f"threshold {threshold:.3g}" if threshold is not None else "",
            x_label="share of rows flagged",
            y_label="cost / row",
        )
        + "</div>"
        + _segments_table(record)
        + "</section>"
    )


AUDIT_SCRIPT = """
const q = document.getElementById('audit-q'), k = document.getElementById('audit-kind'),
      r = document.getElementById('audit-routine'), n = document.getElementById('audit-count');
function filterAudit() {
  let shown = 0;
  for (const row of document.querySelectorAll('#audit tbody tr')) {
    const ok = (!k.value || row.dataset.kind === k.value)
      && (!r.checked || row.dataset.routine !== 'true')
      && row.textContent.toLowerCase().includes(q.value.toLowerCase());
    row.hidden = !ok; if (ok) shown++;
  }
  n.textContent = shown + ' shown';
}
for (const el of [q, k, r]) el.addEventListener('input', filterAudit);
filterAudit();
"""


def _audit_html(records: Sequence[Mapping[str, Any]]) -> str:
    kinds = sorted({str(r.get("kind")) for r in records})
    options = "".join(f'<option value="{escape(k)}">{escape(k)}</option>' for k in kinds)
    rows = []
    for record in records:
        kind = str(record.get("kind"))
        subject = (
            record.get("window_id")
            or record.get("batch")
            or (f"v{record['challenger_version']}" if record.get("challenger_version") else "")
            or (
                f"v{record.get('from_version')} -> v{record.get('to_version')}"
                if kind == "rollback"
                else ""
            )
        )
        routine = "true" if kind in ("batch_passed", "hold") else "false"
        rows.append(
            f'<tr data-kind="{escape(kind)}" data-routine="{routine}">'
            f"<td>{escape(str(record.get('day_date') or ''))}</td>"
            f"<td>{escape(str(record.get('at', ''))[:19])}</td><td>{escape(kind)}</td>"
            f"<td>{escape(str(subject))}</td><td>{escape(str(record.get('reason', '')))}</td></tr>"
        )
    return (
        '<p class="filters"><input id="audit-q" type="search" placeholder="filter text">'
        f'<select id="audit-kind"><option value="">every kind</option>{options}</select>'
        '<label><input id="audit-routine" type="checkbox" checked> '
        "hide routine (batch passed, hold)</label> "
        '<span id="audit-count"></span></p>'
        '<table id="audit"><thead><tr><th>run day</th><th>at (UTC)</th><th>kind</th><th>about</th>'
        f"<th>reason</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _days_html(report: RunReport) -> str:
    rows = [
        (
            "" if p.day is None else str(p.day),
            p.date,
            "" if p.rows is None else str(p.rows),
            "BLOCKED" if p.blocked_rows else "",
            _fmt(p.drift_share, 2) + (" *" if p.drift_detected else ""),
            _fmt(p.score_drift),
            _fmt(p.matured_pr_auc),
            _fmt(p.recall_at_threshold),
            escape(str(p.champion or "")),
            escape(p.action),
            " ".join(_a(link) for link in report.day_links.get(p.date, ())),
        )
        for p in report.days
    ]
    head = (
        "day",
        "date",
        "rows",
        "blocked?",
        "drift share",
        "score drift",
        "matured PR-AUC",
        "recall",
        "champion",
        "action",
        "reports",
    )
    return "<details><summary>Day by day</summary>" + _table(head, rows, "days") + "</details>"


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1180px;
padding:1.5em;color:#1f2328}
h1{font-size:1.6em;margin-bottom:.2em}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:3px 8px;
vertical-align:top;text-align:left}th{background:#f6f8fa}.small{font-size:.85em;color:#57606a}
figure{margin:.6em 0}svg{font:11px sans-serif;fill:#1f2328;max-width:100%;height:auto;
background:#fff;border:1px solid #eaeef2}svg .title{font-weight:600;font-size:13px}
.charts{display:grid;grid-template-columns:1fr;gap:.4em}.row{display:flex;flex-wrap:wrap;gap:1em;
align-items:flex-start}.small-chart svg{width:430px}.promote{color:#1a7f37}.reject{color:#cf222e}
.facts td:first-child{color:#57606a}#audit td:nth-child(5){max-width:640px}
.filters input,.filters select{margin-right:.6em}figcaption{font-size:.85em;color:#57606a}
"""


def render_report(report: RunReport) -> str:
    """The whole page (pure): self-contained, with no external asset."""
    labels = [f"d{p.day}" if p.day is not None else p.date[5:] for p in report.days]
    index = {p.date: i for i, p in enumerate(report.days)}
    verticals = [
        (index[when], what)
        for what, when in (
            ("incident", report.ground_truth.get("incident")),
            ("onset", report.ground_truth.get("onset")),
        )
        if when in index
    ]
    charts = (
        "".join(chart_svg(c, labels, verticals) for c in run_charts(report))
        if report.days
        else "<p>No day to chart yet.</p>"
    )
    facts = _table(("fact", "value"), ((escape(k), escape(v)) for k, v in report.facts), "facts")
    checks = (
        "<h2>What the run showed</h2>"
        + _table(
            ("check", "value"),
            ((escape(k), escape(_plain(v))) for k, v in report.checks.items()),
            "checks",
        )
        if report.checks
        else ""
    )
    versions = "".join(
        _version_html(v) for v in sorted(report.versions, key=lambda r: _version_key(r.version))
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{escape(report.title)}</title><style>{STYLE}</style></head><body>
<h1>{escape(report.title)}</h1>
<p>{" · ".join(_a(link) for link in report.links)}</p>
{facts}
{checks}
<h2>The run, day by day</h2>
<div class="charts">{charts}</div>
{_days_html(report)}
<h2>Failure taxonomy</h2>
{_incidents_html(report)}
<h2>Evaluation record per version</h2>
{versions or "<p>No version registered.</p>"}
<h2>Audit log</h2>
{_audit_html(report.audit)}
<script>{AUDIT_SCRIPT}</script>
</body></html>
"""


# ------------------------------------------------------------------------------ reading a home


def read_quarantine(folder: Path) -> list[Quarantined]:
    """Every quarantined batch: its rows (Parquet metadata, no data read) and failures."""
    import pyarrow.parquet as pq

    found = []
    for batch in sorted(p for p in folder.glob("*") if p.is_dir()):
        try:
            record = json.loads((batch / "validation.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in batch.glob("*.parquet"))
        failures = record.get("failures") if isinstance(record, dict) else None
        found.append(Quarantined(batch.name, rows if rows else None, list(failures or [])))
    return found


def read_windows(folder: Path) -> tuple[list[dict[str, Any]], frozenset[str]]:
    """Every window's ``summary.json`` (oldest first), and the windows with a performance report.

    Read as JSON rather than `monitoring.summary.WindowSummary` so a report can still be drawn
    for a home written by an older or newer version of the summary.
    """
    from monitoring.window import PERFORMANCE_REPORT_FILE, SUMMARY_FILE

    windows = []
    for path in sorted(folder.glob(f"*/{SUMMARY_FILE}")):
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(loaded, dict) and "window_id" in loaded:
            windows.append(loaded)
    reports = frozenset(p.parent.name for p in folder.glob(f"*/{PERFORMANCE_REPORT_FILE}"))
    return sorted(windows, key=lambda w: str(w["window_id"])), reports


def read_demo_summary(path: Path) -> dict[str, Any] | None:
    """The demo's ``summary.json`` (None: no demo wrote one in this home)."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _artifact_href(uri: str, report_dir: Path) -> str | None:
    """A run's artifact folder relative to the report's folder (None: not a local folder)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme not in ("file", ""):
        return None
    return os.path.relpath(unquote(parsed.path), report_dir)


def read_versions(settings: Any, report_dir: Path) -> list[VersionRecord]:
    """Every registered version: run metrics, tags, segments and holdout curves."""
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from features.contract import load_contract
    from training import registry

    contract = load_contract(settings.contract)
    client = registry.connect(settings.resolved_tracking_uri)
    try:
        found = client.search_model_versions(f"name = '{contract.model_name}'")
    except MlflowException:
        return []
    records = []
    for version in sorted(found, key=lambda v: int(v.version)):
        if not version.run_id:
            continue
        run_id = str(version.run_id)
        run = client.get_run(run_id)
        metrics = dict(run.data.metrics)
        holdout: pd.DataFrame | None
        try:
            holdout = registry.load_reference(client, run_id)
        except registry.RegistryError:
            holdout = None
        segments = _download_json(client, run_id, registry.SEGMENTS_ARTIFACT)
        figures = (
            holdout_figures(holdout, contract, metrics, settings) if holdout is not None else {}
        )
        records.append(
            VersionRecord(
                version=str(version.version),
                run_id=run_id,
                run_name=str(run.info.run_name or run_id),
                metrics=metrics,
                tags=dict(version.tags or {}),
                segments=segments or {},
                artifacts=_artifact_href(run.info.artifact_uri, report_dir),
                mlflow_url=(f"{MLFLOW_UI}/#/experiments/{run.info.experiment_id}/runs/{run_id}"),
                **figures,
            )
        )
    return records


def holdout_figures(
    holdout: Any, contract: Any, metrics: Mapping[str, float], settings: Any
) -> dict[str, Any]:
    """Bootstrap intervals, calibration and cost curve of one version's holdout frame."""
    from training.gate import holdout_interval

    if contract.score_name not in holdout or contract.label_column not in holdout:
        return {}
    # The stored reference already holds the label as 0/1 (training.candidate.reference_frame).
    y = holdout[contract.label_column].to_numpy(dtype=np.int64)
    scores = holdout[contract.score_name].to_numpy(dtype=np.float64)
    policy = settings.promotion
    intervals: dict[str, Interval] = {}
    for metric in ("pr_auc", "roc_auc"):
        found = holdout_interval(
            y,
            scores,
            policy.model_copy(update={"metric": metric}),
            target_fpr=settings.training.target_fpr,
        )
        if found is not None:
            intervals[metric] = Interval(found.estimate, found.low, found.high, found.confidence)
    threshold = metrics.get("threshold")
    if threshold is not None:
        recall = recall_interval(
            y,
            scores,
            threshold,
            resamples=policy.bootstrap_resamples,
            confidence=policy.bootstrap_confidence,
            seed=policy.bootstrap_seed,
        )
        if recall is not None:
            intervals["recall_at_threshold"] = recall
    return {
        "intervals": intervals,
        "calibration": calibration_curve(y, scores),
        "cost_curve": cost_curve(y, scores, contract.costs),
    }


def _download_json(client: Any, run_id: str, artifact: str) -> dict[str, Any] | None:
    import tempfile

    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, artifact, tmp)
            loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        except (MlflowException, OSError, ValueError):
            return None
    return loaded if isinstance(loaded, dict) else None


def gather(settings: Any, out: Path | None = None) -> HomeRecords:
    """Read one home into records; ``out`` is where the page goes (its links are relative)."""
    from features.contract import load_contract
    from pipelines.audit import read_decisions

    paths = settings.paths
    report_dir = (out or paths.demo / "index.html").resolve().parent
    windows, performance_reports = read_windows(paths.monitoring)
    return HomeRecords(
        summary=read_demo_summary(paths.demo / "summary.json"),
        windows=windows,
        audit=read_decisions(paths.audit_log),
        quarantine=read_quarantine(paths.quarantine),
        versions=read_versions(settings, report_dir),
        performance_reports=performance_reports,
        model_name=load_contract(settings.contract).model_name,
        home_href=Path(os.path.relpath(settings.home.resolve(), report_dir)).as_posix(),
    )


def write_report(settings: Any, out: Path | None = None) -> Path:
    """Gather the home, render the page and write it (default ``<home>/demo/index.html``)."""
    target = out or settings.paths.demo / "index.html"
    report = assemble(gather(settings, target))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(render_report(report), encoding="utf-8")
    partial.replace(target)
    return target
