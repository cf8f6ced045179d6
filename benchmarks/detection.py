"""Detection benchmark: how well the loop notices a change, retrains, promotes and recovers.

Every detection-relevant scenario of a built-in use case (``none``, ``covariate_shift``,
``concept_drift``, ``prior_shift``, ``gradual_drift``, ``default``) is replayed for several seeds,
day by day, as the demo replays it, but in process: no server, no Prefect, no MLflow. What
decides is the project's own code, called the way the pipelines call it:

- each replayed day's batch is scored by the champion (``training.candidate.score``) and logged
  with the serving stage's own record builders (``serving.prediction_log``), and the labels
  that have matured by the end of the day are appended to the label log the same way;
- each monitoring window is evaluated by ``monitoring.window.monitor_window`` (Evidently drift,
  matured-label performance; ``write_html`` off), and the retraining policy
  (``monitoring.policy.decide_retraining``) decides on the summaries so far;
- a retrain is ``training.candidate.train_candidate`` on the validated days up to the window's
  end, and the promotion gate scores challenger and champion on the challenger's holdout and
  calls ``training.gate.decide_promotion`` (with the paired-bootstrap interval of the gain,
  ``training.gate.gain_interval``, where the gate has one).

The adapters that stand in for the flows are the small functions under "the loop, in process";
they mirror ``pipelines.monitor.monitor_day``, ``pipelines.flows.train_flow`` and
``pipelines.flows.compare_with_champion`` and must follow them when those change. They also run
on earlier code, whose monitoring does not keep versions apart and whose gate has no interval
(the arguments are passed only where accepted): copied with ``data/`` over an older checkout,
this file measures the older loop on the same runs. Validation
(Great Expectations) is skipped for speed: the scenario's incident day is treated as blocked,
as the gate blocks it in the demo (never scored, never trained on).

Ground truth comes from the generator's timeline. Onsets vary by seed (:func:`onset_for`), at
least :data:`MIN_CLEAN_DAYS` replayed days after the bootstrap so that every run has clean
windows, and the incident of ``default`` falls :data:`INCIDENT_BEFORE_ONSET` days before it.
Only the benchmark sees the oracle, the generator's ground truth: the served model's PR-AUC on
each day's own transactions with their true labels, known or not (recorded per day), and on a
large sample of the day's regime (:data:`ORACLE_ROWS` rows drawn from the same scenario, day
and onset with another seed), which recovery is judged on. A day's own 1,000 card-fraud rows
hold about 34 frauds: their PR-AUC swings by ±0.1 from one day to the next with the same model,
so a 90 % criterion on them would measure noise; the regime sample holds ten times as many.

What is reported, per scenario (and variant):

- **detection within 1, 2 and 5 windows**: the share of runs where a signal switches on among
  the first k windows from the onset (the window holding the onset day is the first). The two
  signals are monitoring's data-drift flag (``WindowSummary.data_drift_detected``) and the
  policy's performance rule (read from the policy itself, with the cool-down set aside). A
  signal already on before the onset detects nothing until it has gone off and on again: a
  performance alarm raised by a false alarm before the onset stays on for days, its matured
  labels being those of older predictions;
- **false alarms**: windows with either signal on, among the clean ones (every window of
  ``none``, the windows ending before the onset in the others), pooled over runs; and the
  retrains started on clean windows;
- **time to retrain / promotion / recovery**, in days from the onset (0 = the onset day): the
  first acted retrain and the first promotion decided on a window ending on or after the onset,
  and the first day from which the served model's PR-AUC on the day's regime stays at least
  :data:`RECOVERY_RATIO` of its mean over the :data:`PRE_ONSET_DAYS` days before the onset,
  until the end of the run (0 when it never fell below; none when it ends below). "Recovered"
  counts the runs back within :data:`RECOVERY_HORIZON_DAYS` days;
- **trough**: the lowest of those regime PR-AUCs after the onset, as a share of the pre-onset
  level (median over runs); **vs. first model**: the served models' mean regime PR-AUC minus
  the first model's on the same days, from the onset on (every replayed day in ``none``): what
  the retrains bought, or cost.

Variants compare settings side by side on the same data: ``--variant NAME[:SECTION.KEY=VALUE,
...]`` (repeatable) builds each variant from the settings in force (``LIFECYCLE_*`` variables
and the config file, as every entry point reads them) with the overrides applied, e.g.
``--variant current --variant immediate:retraining.cooldown_windows=0``. Without ``--variant``
one variant, ``current``, runs the settings as they are.

The figures go to ``benchmarks/results/detection-<UTC date>.json`` (a later run that day
replaces it; ``--out`` to choose) with every run's windows and days, and a Markdown table is
printed. The file is rewritten after every run (marked ``partial`` until the last), so an
interrupted benchmark keeps what it measured; ``--report-only`` recomputes a file's summary and
table from its runs. Exit status: 0 when every run completed, 1 when one failed (its error is in the
results), 130 when interrupted.

Run: ``python -m benchmarks.detection [--seeds 5] [--scenarios a,b] [--days 60] [--jobs 2]``
(as a module: run as a script, this folder would shadow the ``serving`` package), or
``make bench-detection``. About 25 s per run and core; ``--jobs`` runs that many at once.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import inspect
import json
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ValidationError
from threadpoolctl import threadpool_limits

from data.usecases import DEFAULT_START, UseCase, use_case, use_case_names
from features.contract import DatasetContract, load_contract
from features.metrics import pr_auc
from features.vocabulary import LABELS_FILE
from monitoring.config import MonitoringConfig
from monitoring.errors import EmptyWindowError
from monitoring.policy import RetrainDecision, RetrainPolicy, decide_retraining
from monitoring.summary import WindowSummary
from pipelines.pending_labels import PendingLabels
from pipelines.runtime import code_revision
from pipelines.settings import load_settings
from serving.prediction_log import ScoredBatch, append_lines, label_records, prediction_records
from training import gate as gate_module
from training.candidate import Candidate, score, scorecard, train_candidate
from training.config import TrainingConfig
from training.evaluate import evaluate, evaluate_segments
from training.fit import FitError
from training.gate import GatePolicy, PromotionDecision, decide_promotion
from training.leakage import LeakageError
from training.split import SplitError

SCENARIOS = ("none", "covariate_shift", "concept_drift", "prior_shift", "gradual_drift", "default")
DEFAULT_SEEDS = 5
DEFAULT_DAYS = 60
#: Windows from the onset within which a flag counts as a detection (the onset window is 1).
DETECTION_WINDOWS = (1, 2, 5)
#: Replayed days before the earliest onset: the clean windows every run has.
MIN_CLEAN_DAYS = 7
#: Onsets are spread over this many consecutive days, by seed.
ONSET_SPREAD_DAYS = 8
#: Days a run needs after its onset: the recovery horizon and its smoothing.
MIN_DAYS_AFTER_ONSET = 15
#: The incident of a scenario that has one comes this many days before the onset.
INCIDENT_BEFORE_ONSET = 6
PRE_ONSET_DAYS = 7
RECOVERY_RATIO = 0.9
RECOVERY_HORIZON_DAYS = 10
#: Rows of the oracle's sample of a day's regime (about 340 frauds for card fraud).
ORACLE_ROWS = 10_000
#: The oracle's samples use seed + this: rows independent of the run's own.
ORACLE_SEED_OFFSET = 1_000_000
#: Training-time figures a window is compared with (as ``pipelines.monitor.REFERENCE_FIGURES``).
REFERENCE_FIGURES = (
    "pr_auc",
    "recall_at_threshold",
    "expected_cost_per_row",
    "pr_auc_interval_low",
)
RESULTS_DIR = Path(__file__).resolve().parent / "results"


class BenchmarkError(RuntimeError):
    """A run cannot go on (e.g. the first model fails the gate's floor)."""


# --------------------------------------------------------------------------- settings, variants


@dataclass(frozen=True)
class Sections:
    """The settings sections the loop reads, one variant's worth."""

    training: TrainingConfig
    promotion: GatePolicy
    monitoring: MonitoringConfig
    retraining: RetrainPolicy

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Every section's values, JSON-ready (what the results record per variant)."""
        return {name: getattr(self, name).model_dump(mode="json") for name in SECTION_NAMES}


SECTION_NAMES = ("training", "promotion", "monitoring", "retraining")


@dataclass(frozen=True)
class Variant:
    """A named set of overrides, each ``(section, key, value)``."""

    name: str
    overrides: tuple[tuple[str, str, Any], ...] = ()

    def describe(self) -> str:
        """``name`` or ``name (section.key=value, ...)``."""
        if not self.overrides:
            return self.name
        listed = ", ".join(f"{s}.{k}={json.dumps(v)}" for s, k, v in self.overrides)
        return f"{self.name} ({listed})"


def _value(text: str) -> Any:
    """A JSON value (number, true/false, null, quoted text) or, failing that, the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_variant(text: str) -> Variant:
    """``NAME`` or ``NAME:SECTION.KEY=VALUE[,SECTION.KEY=VALUE...]``.

    Raises:
        ValueError: no name, an override that is not ``SECTION.KEY=VALUE``, or an unknown
            section (the message lists the sections).
    """
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"variant {text!r} has no name: write NAME[:SECTION.KEY=VALUE,...]")
    overrides: list[tuple[str, str, Any]] = []
    for item in filter(None, (part.strip() for part in rest.split(","))):
        target, equals, raw = item.partition("=")
        section, dot, key = target.strip().partition(".")
        if not equals or not dot or not key:
            raise ValueError(f"variant {name!r}: override {item!r} is not SECTION.KEY=VALUE")
        if section not in SECTION_NAMES:
            raise ValueError(
                f"variant {name!r}: unknown section {section!r}; sections: "
                + ", ".join(SECTION_NAMES)
            )
        overrides.append((section, key.strip(), _value(raw.strip())))
    return Variant(name, tuple(overrides))


def apply_overrides(base: Sections, variant: Variant) -> Sections:
    """``base`` with the variant's overrides, each validated by its section's own type.

    Raises:
        ValueError: an unknown key or a value the section rejects (the message names both).
    """
    changes: dict[str, dict[str, Any]] = {}
    for section, key, value in variant.overrides:
        changes.setdefault(section, {})[key] = value
    updated: dict[str, Any] = {}
    for section, values in changes.items():
        current: BaseModel = getattr(base, section)
        try:
            updated[section] = type(current).model_validate({**current.model_dump(), **values})
        except ValidationError as exc:
            problems = "; ".join(
                f"{section}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"variant {variant.name!r}: {problems}") from None
    return replace(base, **updated)


def base_sections() -> Sections:
    """The settings in force (variables, config file, defaults), Evidently HTML turned off."""
    settings = load_settings()
    return Sections(
        training=settings.training,
        promotion=settings.promotion,
        monitoring=settings.monitoring.model_copy(update={"write_html": False}),
        retraining=settings.retraining,
    )


# --------------------------------------------------------------------------- the timeline


def bootstrap_days(days: int, label_delay_days: int, holdout_days: int) -> int:
    """Days of history before serving starts, as the demo counts them.

    ``pipelines.demo.bootstrap_days_for``: a third of the run, at least two weeks, and at
    least the label delay plus a holdout.
    """
    return max(14, round(days * 0.35), label_delay_days + holdout_days)


def window_days(rows_per_day: float, min_window_rows: int) -> int:
    """Days per monitoring window, as ``pipelines.monitor.window_days`` groups them."""
    if rows_per_day <= 0:
        return 1
    return max(1, math.ceil(min_window_rows / rows_per_day))


def onset_range(bootstrap: int, days: int) -> tuple[int, int]:
    """The first and last onset day a run of ``days`` days with this bootstrap can use.

    Raises:
        ValueError: the run is too short for clean windows before the onset and the recovery
            horizon after it (the message gives the minimum).
    """
    first = bootstrap + MIN_CLEAN_DAYS
    last = days - MIN_DAYS_AFTER_ONSET
    if last < first:
        raise ValueError(
            f"a {days}-day run bootstraps on {bootstrap} days and needs {MIN_CLEAN_DAYS} clean "
            f"days before the onset and {MIN_DAYS_AFTER_ONSET} after it: use at least "
            f"{first + MIN_DAYS_AFTER_ONSET} days"
        )
    return first, min(last, first + ONSET_SPREAD_DAYS - 1)


def onset_for(seed: int, bootstrap: int, days: int) -> int:
    """The drift onset day of a run: consecutive seeds get consecutive days of the range."""
    first, last = onset_range(bootstrap, days)
    return first + seed % (last - first + 1)


def end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of ``day``: "now" when the day's window is closed."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RunSpec:
    """One run: a scenario of a use case, a seed, the run's shape and the variant.

    ``onset_day`` and ``incident_day`` are the run's ground truth (None: the scenario has no
    such event), passed to the generator as they are.
    """

    use_case: str
    scenario: str
    seed: int
    days: int
    rows_per_day: int
    variant: str
    onset_day: int | None
    incident_day: int | None
    features: int | None = None


def narrowed(contract: DatasetContract, features: int | None) -> DatasetContract:
    """The contract with only its first ``features`` features (None: as it is).

    A narrow contract, as a team's own table may be: one drifted column is then a large share of
    the features, which is what ``monitoring.min_drifted_features`` guards against. The dropped
    columns are still generated; the model, the drift tests and the log ignore them.

    Raises:
        ValueError: ``features`` is not between 1 and the contract's feature count.
    """
    if features is None:
        return contract
    if not 1 <= features <= len(contract.features):
        raise ValueError(
            f"--features must be 1..{len(contract.features)} for {contract.name}, got {features}"
        )
    kept = contract.features[:features]
    segments = tuple(s for s in contract.segments if s in kept or s not in contract.features)
    return contract.model_copy(update={"features": kept, "segments": segments})


@dataclass(frozen=True)
class WindowRecord:
    """One monitoring window: what monitoring found, what the policy decided, what came of it.

    ``day`` is the index of the window's last day. ``reason`` is the policy's sentence (kept
    in the results file for retrains only). ``drift_flag`` is the summary's verdict;
    ``performance_alarm`` whether the policy's performance rule fires on it (cool-down set
    aside); ``waiting_for_labels`` whether a scheduled retrain waits for post-onset labels
    (policies that schedule). ``gate`` is ``promote``, ``reject`` or ``train failed`` after a
    retrain.
    """

    day: int
    window_id: str
    champion: str
    drift_share: float
    drifted_features: int
    drift_flag: bool
    performance_alarm: bool
    window_pr_auc: float | None
    verdict: str
    trigger: str | None
    in_cooldown: bool
    reason: str | None
    waiting_for_labels: bool = False
    retrained: str | None = None
    gate: str | None = None
    gate_reason: str | None = None

    @property
    def flagged(self) -> bool:
        """Monitoring raised a signal: drift flag or performance alarm."""
        return self.drift_flag or self.performance_alarm

    @property
    def acted(self) -> bool:
        """The policy said retrain (and the loop retrained)."""
        return self.verdict == "retrain"

    @property
    def promoted(self) -> bool:
        """The retrain's challenger was promoted."""
        return self.gate == "promote"


@dataclass(frozen=True)
class DayRecord:
    """One replayed day: blocked or scored, by which version, and the oracle's figures.

    ``pr_auc`` is the served model's PR-AUC on the day's own rows and true labels;
    ``regime_pr_auc`` on the oracle's large sample of the day's regime;
    ``first_model_regime_pr_auc`` the first model's there, as if it had never been replaced.
    """

    day: int
    blocked: bool
    served: str | None
    pr_auc: float | None
    regime_pr_auc: float | None
    first_model_regime_pr_auc: float | None


@dataclass(frozen=True)
class Outcome:
    """What one run shows, in the report's terms (None: did not happen, or not applicable).

    Window indices count from the onset window (0); days from the onset day (0).
    ``gain_over_first_model`` is the mean regime PR-AUC of the served models minus the first
    model's on the same days, from the onset on (every replayed day without an onset): what
    the retrains bought, or cost.
    """

    has_onset: bool
    clean_windows: int
    clean_flags: int
    clean_retrains: int
    first_flag: int | None
    first_drift_flag: int | None
    first_performance_alarm: int | None
    retrain_days: int | None
    promotion_days: int | None
    recovery_days: int | None
    pre_onset_pr_auc: float | None
    trough_ratio: float | None
    retrains: int
    promotions: int
    gain_over_first_model: float | None = None

    def detected_within(self, windows: int) -> bool:
        """A flag among the first ``windows`` windows from the onset."""
        return self.first_flag is not None and self.first_flag < windows


@dataclass
class RunResult:
    """A run's spec, records, outcome and timing, or the error that stopped it."""

    spec: RunSpec
    bootstrap_days: int = 0
    windows: list[WindowRecord] = field(default_factory=list)
    days: list[DayRecord] = field(default_factory=list)
    outcome: Outcome | None = None
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, figures to 4 decimals, the policy's sentence for retrains only."""
        data: dict[str, Any] = _rounded(asdict(self))
        for window in data["windows"]:
            if window["verdict"] != "retrain":
                window["reason"] = None
        return data


def _rounded(value: Any, digits: int = 4) -> Any:
    """``value`` with every float in it rounded (dicts and lists walked through)."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return value


# --------------------------------------------------------------------------- outcome (pure)


def first_rise(flags: Sequence[bool], start: int) -> int | None:
    """Windows from ``start`` to the first one at or after it where a signal switches on.

    A signal switches on in a window where it is on and was off in the window before (or
    where it is on in the very first window). An alarm already on before ``start`` that stays
    on does not count: it was raised by something else (e.g. a false alarm before the onset
    whose evidence, matured labels of older predictions, still fills the window).
    """
    for i in range(start, len(flags)):
        if flags[i] and (i == 0 or not flags[i - 1]):
            return i - start
    return None


def _earliest(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def pre_onset_level(
    series: Sequence[tuple[int, float]], onset: int, days: int = PRE_ONSET_DAYS
) -> float | None:
    """Mean of the last ``days`` values dated before ``onset`` (None: no value there)."""
    before = [value for day, value in series if day < onset][-days:]
    return statistics.fmean(before) if before else None


def recovery(
    series: Sequence[tuple[int, float]], onset: int, level: float, *, ratio: float = RECOVERY_RATIO
) -> tuple[int | None, float | None]:
    """(days from the onset to recovery, lowest ratio to ``level`` on or after the onset).

    ``series`` is ``(day, value)``, gaps allowed (a blocked day has no value). Recovery is the
    first day after the last one below ``ratio * level``: from then on the values stay at or
    above it until the end of the series. 0 when no value after the onset is below (it never
    fell); None when the last one is. Both None when no value falls on or after the onset.
    """
    after = sorted((day, value) for day, value in series if day >= onset)
    if not after or level <= 0:
        return None, None
    trough = min(value for _, value in after) / level
    below = [day for day, value in after if value < ratio * level]
    if not below:
        return 0, trough
    later = [day for day, _ in after if day > below[-1]]
    return (later[0] - onset if later else None), trough


def first_day_from(days: Sequence[int], onset: int) -> int | None:
    """Days from ``onset`` to the first of ``days`` on or after it (None: none)."""
    later = [day for day in days if day >= onset]
    return min(later) - onset if later else None


def outcome_of(
    windows: Sequence[WindowRecord], days: Sequence[DayRecord], onset: int | None
) -> Outcome:
    """The run's outcome from its records; ``onset`` None for a scenario that never drifts."""
    clean = [w for w in windows if onset is None or w.day < onset]
    compared = [
        d.regime_pr_auc - d.first_model_regime_pr_auc
        for d in days
        if d.regime_pr_auc is not None
        and d.first_model_regime_pr_auc is not None
        and (onset is None or d.day >= onset)
    ]
    base = Outcome(
        has_onset=onset is not None,
        clean_windows=len(clean),
        clean_flags=sum(w.flagged for w in clean),
        clean_retrains=sum(w.acted for w in clean),
        first_flag=None,
        first_drift_flag=None,
        first_performance_alarm=None,
        retrain_days=None,
        promotion_days=None,
        recovery_days=None,
        pre_onset_pr_auc=None,
        trough_ratio=None,
        retrains=sum(w.acted for w in windows),
        promotions=sum(w.promoted for w in windows),
        gain_over_first_model=statistics.fmean(compared) if compared else None,
    )
    if onset is None:
        return base
    start = next((i for i, w in enumerate(windows) if w.day >= onset), len(windows))
    drift = first_rise([w.drift_flag for w in windows], start)
    performance = first_rise([w.performance_alarm for w in windows], start)
    series = [(d.day, d.regime_pr_auc) for d in days if d.regime_pr_auc is not None]
    level = pre_onset_level(series, onset)
    recovered, trough = (None, None) if level is None else recovery(series, onset, level)
    return replace(
        base,
        first_flag=_earliest(drift, performance),
        first_drift_flag=drift,
        first_performance_alarm=performance,
        retrain_days=first_day_from([w.day for w in windows if w.acted], onset),
        promotion_days=first_day_from([w.day for w in windows if w.promoted], onset),
        recovery_days=recovered,
        pre_onset_pr_auc=level,
        trough_ratio=trough,
    )


# --------------------------------------------------------------------------- the loop, in process


@dataclass(frozen=True)
class Model:
    """A trained version: its candidate (pipeline, threshold, reference) and training figures."""

    version: str
    candidate: Candidate
    interval: Mapping[str, float] = field(default_factory=dict)

    @property
    def figures(self) -> dict[str, float]:
        """The training-time figures monitoring compares a window with (as logged to MLflow)."""
        logged = {**self.candidate.metrics.loggable(), **self.interval}
        return {k: logged[k] for k in REFERENCE_FIGURES if k in logged}


def new_model(
    version: str, candidate: Candidate, contract: DatasetContract, sections: Sections
) -> Model:
    """A version with its holdout interval figures, as ``train_flow`` logs them (if it does)."""
    holdout_interval = getattr(gate_module, "holdout_interval", None)
    interval_figures = getattr(gate_module, "interval_figures", None)
    if holdout_interval is None or interval_figures is None:
        return Model(version, candidate)
    reference = candidate.reference
    interval = holdout_interval(
        reference[contract.label_column],
        reference[contract.score_name],
        sections.promotion,
        target_fpr=sections.training.target_fpr,
    )
    return Model(version, candidate, interval_figures(interval))


def _plain_records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values, missing values as None (what the API validates)."""
    rows = frame[list(columns)].astype(object).to_dict("records")
    return [{str(k): None if pd.isna(v) else v for k, v in row.items()} for row in rows]


def log_predictions(
    directory: Path,
    batch: pd.DataFrame,
    scores: npt.NDArray[np.float64],
    model: Model,
    contract: DatasetContract,
    now: dt.datetime,
) -> None:
    """Append the batch's predictions to the prediction log, as the server writes them."""
    columns = [contract.id_column, contract.event_time_column, *contract.input_columns]
    scored = ScoredBatch(
        request_id=f"bench-{now:%Y%m%d}",
        items=_plain_records(batch, columns),
        scores=[float(s) for s in scores],
        decisions=[int(s >= model.candidate.threshold) for s in scores],
        model_name=contract.model_name,
        model_version=model.version,
        threshold=model.candidate.threshold,
        received_at=now,
    )
    by_day: dict[str, list[dict[str, object]]] = {}
    for record in prediction_records(scored, contract, now):
        by_day.setdefault(str(record[contract.event_time_column])[:10], []).append(record)
    for day, records in by_day.items():
        append_lines(directory / f"{day}.jsonl", records)


def deliver_labels(
    directory: Path, labels: pd.DataFrame, contract: DatasetContract, now: dt.datetime
) -> None:
    """Append matured labels to the label log, as ``POST /v1/labels`` records them."""
    if labels.empty:
        return
    columns = [contract.id_column, contract.label_column, contract.label_available_field]
    append_lines(
        directory / LABELS_FILE, label_records(_plain_records(labels, columns), contract, now)
    )


def _accepts(function: Callable[..., Any], name: str) -> bool:
    return name in inspect.signature(function).parameters


def evaluate_window(
    paths: Mapping[str, Path],
    contract: DatasetContract,
    window: tuple[dt.date, dt.date],
    champion: Model,
    models: Mapping[str, Model],
    config: MonitoringConfig,
) -> WindowSummary:
    """One window's summary, as ``pipelines.monitor.evaluate_window`` asks monitoring for it.

    Where monitoring keeps versions apart (``champion_version``, ``version_references``), it is
    told the champion and every version's training figures.
    """
    # Imported here, not at the top: Evidently takes seconds to import, and the report's pure
    # parts (and their tests) do not need it.
    from monitoring.window import monitor_window

    extra: dict[str, Any] = {}
    if _accepts(monitor_window, "champion_version"):
        extra["champion_version"] = champion.version
    if _accepts(monitor_window, "version_references"):
        known = {v: m.figures for v, m in models.items() if m.figures}
        extra["version_references"] = known
    output = monitor_window(
        champion.candidate.reference,
        contract,
        predictions_dir=paths["predictions"],
        labels_dir=paths["labels"],
        monitoring_dir=paths["monitoring"],
        window=window,
        threshold=champion.candidate.threshold,
        config=config,
        reference_performance=champion.figures or None,
        performance_report=False,
        **extra,
    )
    return output.summary


def train(
    validated: Mapping[int, pd.DataFrame],
    up_to: int,
    contract: DatasetContract,
    cutoff: dt.datetime,
    config: TrainingConfig,
) -> Candidate:
    """``train_flow``'s candidate: every validated day up to ``up_to``, labels known at cutoff."""
    frame = pd.concat(
        [f for day, f in sorted(validated.items()) if day <= up_to], ignore_index=True
    )
    return train_candidate(frame, contract, pd.Timestamp(cutoff), config)


def gate(
    challenger: Model, champion: Model | None, contract: DatasetContract, sections: Sections
) -> PromotionDecision:
    """``compare_with_champion``: both scored on the challenger's holdout, then the gate.

    The interval of the gain is passed where the gate computes one (``gain_interval``).
    """
    policy, target_fpr = sections.promotion, sections.training.target_fpr
    reference = challenger.candidate.reference
    y_true = reference[contract.label_column].to_numpy()

    def card(model: Model, warnings: Sequence[str] = ()) -> tuple[Any, npt.NDArray[np.float64]]:
        scores = score(model.candidate.pipeline, reference, contract)
        metrics = evaluate(y_true, scores, contract.costs, target_fpr=target_fpr)
        segments = evaluate_segments(reference, scores, contract, metrics.threshold)
        return scorecard(model.version, metrics, segments, policy.metric, warnings), scores

    new_card, new_scores = card(challenger, challenger.candidate.warnings)
    if champion is None:
        return decide_promotion(new_card, None, policy)
    old_card, old_scores = card(champion)
    gain_interval = getattr(gate_module, "gain_interval", None)
    if gain_interval is None:
        return decide_promotion(new_card, old_card, policy)
    gain = gain_interval(y_true, new_scores, old_scores, policy, target_fpr=target_fpr)
    return decide_promotion(new_card, old_card, policy, gain)


@dataclass
class RegimeOracle:
    """Each version's PR-AUC on a large sample of a day's regime, computed once per regime.

    A regime is a drift weight (`ScenarioTimeline.drift_weight`): every day with the same
    weight draws from the same distribution, so one sample serves them all. ``sample`` draws
    the sample for a day.
    """

    sample: Callable[[int], pd.DataFrame]
    weight: Callable[[int], float]
    contract: DatasetContract
    samples: dict[float, tuple[pd.DataFrame, npt.NDArray[np.int64]]] = field(default_factory=dict)
    figures: dict[tuple[str, float], float | None] = field(default_factory=dict)

    def pr_auc(self, model: Model, day: int) -> float | None:
        """``model``'s PR-AUC on the sample of ``day``'s regime."""
        weight = self.weight(day)
        if weight not in self.samples:
            frame = self.sample(day)
            self.samples[weight] = (frame, _labels(frame, self.contract))
        key = (model.version, weight)
        if key not in self.figures:
            frame, y = self.samples[weight]
            self.figures[key] = pr_auc(y, score(model.candidate.pipeline, frame, self.contract))
        return self.figures[key]


def _labels(frame: pd.DataFrame, contract: DatasetContract) -> npt.NDArray[np.int64]:
    labels: npt.NDArray[np.int64] = contract.binary_labels(frame[contract.label_column]).to_numpy(
        dtype=np.int64
    )
    return labels


def _policy_arguments(holdout_days: int) -> dict[str, Any]:
    """The arguments ``monitor.decide`` passes besides the history, where the policy takes them.

    The holdout's days (a scheduled retrain counts only the labels it trains on) and the last
    retrain's trigger (a follow-up is due after a drift-started one); the trigger is filled in
    per window.
    """
    extra: dict[str, Any] = {}
    if _accepts(decide_retraining, "holdout_days"):
        extra["holdout_days"] = holdout_days
    if _accepts(decide_retraining, "last_retrain_trigger"):
        extra["last_retrain_trigger"] = None
    return extra


def _window_record(
    day: int,
    summary: WindowSummary,
    decision: RetrainDecision,
    shadow: RetrainDecision,
    champion: str,
) -> WindowRecord:
    return WindowRecord(
        day=day,
        window_id=summary.window_id,
        champion=champion,
        drift_share=summary.drift_share,
        drifted_features=summary.n_drifted_features,
        drift_flag=summary.data_drift_detected,
        performance_alarm=shadow.trigger == "performance",
        window_pr_auc=None if summary.performance is None else summary.performance.pr_auc,
        verdict=decision.verdict,
        trigger=decision.trigger,
        in_cooldown=decision.in_cooldown,
        reason=decision.reason,
        waiting_for_labels=bool(getattr(decision, "waiting_for_labels", False)),
    )


def simulate(spec: RunSpec, sections: Sections, work: Path) -> RunResult:
    """Replay one run through the loop; ``work`` holds its logs and summaries.

    Raises:
        BenchmarkError: the first model does not clear the gate's floor.
    """
    case: UseCase = use_case(spec.use_case)
    contract = narrowed(load_contract(case.contract_file), spec.features)
    timeline = case.timeline(
        spec.scenario, spec.days, incident_day=spec.incident_day, onset_day=spec.onset_day
    )
    bootstrap = bootstrap_days(spec.days, case.max_label_delay_days, sections.training.holdout_days)
    per_window = window_days(spec.rows_per_day, sections.monitoring.min_window_rows)
    dates = [DEFAULT_START + dt.timedelta(days=i) for i in range(spec.days)]
    paths = {name: work / name for name in ("predictions", "labels", "monitoring")}
    result = RunResult(spec, bootstrap_days=bootstrap)

    def make_day(index: int, seed: int = spec.seed, rows: int = spec.rows_per_day) -> pd.DataFrame:
        return case.generate_day(
            index,
            spec.scenario,
            seed=seed,
            days=spec.days,
            rows=rows,
            incident_day=spec.incident_day,
            onset_day=spec.onset_day,
        )

    oracle = RegimeOracle(
        lambda day: make_day(day, spec.seed + ORACLE_SEED_OFFSET, ORACLE_ROWS),
        timeline.drift_weight,
        contract,
    )

    validated = {i: make_day(i) for i in range(bootstrap) if not timeline.is_incident(i)}
    first = new_model(
        "1",
        train(
            validated, bootstrap - 1, contract, end_of_day(dates[bootstrap - 1]), sections.training
        ),
        contract,
        sections,
    )
    decision = gate(first, None, contract, sections)
    if not decision.promoted:
        raise BenchmarkError(f"the first model was not promoted: {decision.reason}")
    models, champion = {first.version: first}, first
    history: list[WindowSummary] = []
    last_retrain: str | None = None
    last_trigger: str | None = None
    extra = _policy_arguments(sections.training.holdout_days)
    pending = PendingLabels()
    no_cooldown = sections.retraining.model_copy(update={"cooldown_windows": 0})

    for index in range(bootstrap, spec.days):
        now = end_of_day(dates[index])
        blocked = timeline.is_incident(index)
        record_day = DayRecord(index, blocked, None, None, None, None)
        if not blocked:
            batch = make_day(index)
            validated[index] = batch
            scores = score(champion.candidate.pipeline, batch, contract)
            log_predictions(paths["predictions"], batch, scores, champion, contract, now)
            pending.add(batch, contract)
            record_day = DayRecord(
                index,
                blocked,
                champion.version,
                pr_auc(_labels(batch, contract), scores),
                oracle.pr_auc(champion, index),
                oracle.pr_auc(first, index),
            )
        deliver_labels(paths["labels"], pending.pop_matured(now, contract), contract, now)
        result.days.append(record_day)
        if (index - bootstrap + 1) % per_window and index != spec.days - 1:
            continue
        bounds = (dates[max(bootstrap, index - per_window + 1)], dates[index])
        try:
            summary = evaluate_window(
                paths, contract, bounds, champion, models, sections.monitoring
            )
        except EmptyWindowError:
            continue  # a blocked day alone: nothing was scored
        history.append(summary)
        if "last_retrain_trigger" in extra:
            extra["last_retrain_trigger"] = last_trigger
        decision_now = decide_retraining(
            history, sections.retraining, last_retrain_window=last_retrain, **extra
        )
        shadow = decide_retraining(history, no_cooldown, last_retrain_window=last_retrain, **extra)
        record = _window_record(index, summary, decision_now, shadow, champion.version)
        if decision_now.verdict == "retrain":
            last_retrain, last_trigger = summary.window_id, decision_now.trigger
            record, champion = _retrain(
                record, validated, index, now, contract, sections, models, champion
            )
        result.windows.append(record)
    result.outcome = outcome_of(result.windows, result.days, timeline.onset_day)
    return result


def _retrain(
    record: WindowRecord,
    validated: Mapping[int, pd.DataFrame],
    index: int,
    now: dt.datetime,
    contract: DatasetContract,
    sections: Sections,
    models: dict[str, Model],
    champion: Model,
) -> tuple[WindowRecord, Model]:
    """Train, register (a version number), gate; returns the record and the champion after."""
    try:
        candidate = train(validated, index, contract, now, sections.training)
    except (SplitError, LeakageError, FitError) as exc:
        return replace(record, gate="train failed", gate_reason=str(exc)), champion
    model = new_model(str(len(models) + 1), candidate, contract, sections)
    models[model.version] = model
    decision = gate(model, champion, contract, sections)
    updated = replace(
        record, retrained=model.version, gate=decision.verdict, gate_reason=decision.reason
    )
    return updated, model if decision.promoted else champion


def run_one(spec: RunSpec, sections: Sections) -> RunResult:
    """One run in its own scratch folder, one thread for the models; errors are recorded."""
    started = time.perf_counter()
    warnings.simplefilter("ignore", category=FutureWarning)
    warnings.simplefilter("ignore", category=DeprecationWarning)
    warnings.simplefilter("ignore", category=RuntimeWarning)
    try:
        with (
            threadpool_limits(1),
            tempfile.TemporaryDirectory(prefix="detection-", ignore_cleanup_errors=True) as tmp,
        ):
            result = simulate(spec, sections, Path(tmp))
    except Exception as exc:  # a failed run is a finding, recorded; the others go on
        result = RunResult(spec, error=f"{type(exc).__name__}: {exc}")
    result.seconds = round(time.perf_counter() - started, 1)
    return result


# --------------------------------------------------------------------------- aggregation (pure)


@dataclass(frozen=True)
class Spread:
    """Median, range and count of a time over the runs where it happened."""

    median: float | None
    low: int | None
    high: int | None
    happened: int
    runs: int

    def text(self) -> str:
        """``4 (3-6)``, with ``, 3/5`` when it did not happen in every run; ``never`` if none."""
        if self.median is None or self.low is None or self.high is None:
            return "never" if self.runs else "-"
        span = f"{self.median:g}" + (f" ({self.low}-{self.high})" if self.low != self.high else "")
        return span + (f", {self.happened}/{self.runs}" if self.happened < self.runs else "")


def spread(values: Sequence[int | None]) -> Spread:
    """The spread of the values that are not None."""
    known = [v for v in values if v is not None]
    if not known:
        return Spread(None, None, None, 0, len(values))
    return Spread(statistics.median(known), min(known), max(known), len(known), len(values))


@dataclass(frozen=True)
class ScenarioStats:
    """One scenario (and variant) over its runs, in the report's terms."""

    variant: str
    scenario: str
    runs: int
    failed: int
    detection: dict[int, float | None]
    first_flag: Spread
    first_drift_flag: Spread
    first_performance_alarm: Spread
    clean_windows: int
    clean_flags: int
    clean_retrains: int
    retrain: Spread
    promotion: Spread
    recovery: Spread
    recovered_within_horizon: float | None
    trough_ratio: float | None
    gain_over_first_model: float | None = None

    @property
    def false_alarm_rate(self) -> float | None:
        """Flagged clean windows over clean windows (None: no clean window)."""
        return self.clean_flags / self.clean_windows if self.clean_windows else None


def aggregate(variant: str, scenario: str, results: Sequence[RunResult]) -> ScenarioStats:
    """The runs of one scenario and variant, summed up (failed runs are counted apart)."""
    done = [r.outcome for r in results if r.outcome is not None]
    drifting = [o for o in done if o.has_onset]
    troughs = [o.trough_ratio for o in drifting if o.trough_ratio is not None]
    recovered = [o.recovery_days for o in drifting]
    gains = [o.gain_over_first_model for o in done if o.gain_over_first_model is not None]
    return ScenarioStats(
        variant=variant,
        scenario=scenario,
        runs=len(results),
        failed=len(results) - len(done),
        detection={
            k: (sum(o.detected_within(k) for o in drifting) / len(drifting) if drifting else None)
            for k in DETECTION_WINDOWS
        },
        first_flag=spread([o.first_flag for o in drifting]),
        first_drift_flag=spread([o.first_drift_flag for o in drifting]),
        first_performance_alarm=spread([o.first_performance_alarm for o in drifting]),
        clean_windows=sum(o.clean_windows for o in done),
        clean_flags=sum(o.clean_flags for o in done),
        clean_retrains=sum(o.clean_retrains for o in done),
        retrain=spread([o.retrain_days for o in drifting]),
        promotion=spread([o.promotion_days for o in drifting]),
        recovery=spread(recovered),
        recovered_within_horizon=(
            sum(d is not None and d <= RECOVERY_HORIZON_DAYS for d in recovered) / len(recovered)
            if recovered
            else None
        ),
        trough_ratio=statistics.median(troughs) if troughs else None,
        gain_over_first_model=statistics.fmean(gains) if gains else None,
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


TABLE_HEADER = (
    "variant",
    "scenario",
    "runs",
    "detected ≤1 / ≤2 / ≤5 windows",
    "first drift flag",
    "first perf. alarm",
    "false alarms (clean windows)",
    "clean-window retrains",
    "retrain (days)",
    "promotion (days)",
    "recovered ≤10 d",
    "recovery (days)",
    "trough",
    "vs. first model",
)


def table_rows(stats: Sequence[ScenarioStats]) -> list[list[str]]:
    """One row of text cells per scenario and variant (the header is `TABLE_HEADER`)."""
    rows = []
    for s in stats:
        drifts = s.detection[DETECTION_WINDOWS[0]] is not None
        alarms = (
            "-"
            if s.false_alarm_rate is None
            else f"{s.false_alarm_rate:.1%} ({s.clean_flags}/{s.clean_windows})"
        )
        rows.append(
            [
                s.variant,
                s.scenario,
                str(s.runs) + (f" ({s.failed} failed)" if s.failed else ""),
                " / ".join(_percent(s.detection[k]) for k in DETECTION_WINDOWS) if drifts else "-",
                s.first_drift_flag.text() if drifts else "-",
                s.first_performance_alarm.text() if drifts else "-",
                alarms,
                str(s.clean_retrains),
                s.retrain.text() if drifts else "-",
                s.promotion.text() if drifts else "-",
                _percent(s.recovered_within_horizon),
                s.recovery.text() if drifts else "-",
                "-" if s.trough_ratio is None else f"{s.trough_ratio:.2f}",
                "-" if s.gain_over_first_model is None else f"{s.gain_over_first_model:+.3f}",
            ]
        )
    return rows


def markdown_table(stats: Sequence[ScenarioStats]) -> str:
    """The report as a Markdown table."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(stats)]
    return "\n".join(lines)


def progress_line(done: int, total: int, result: RunResult) -> str:
    """One line per finished run: what it showed, or why it failed."""
    spec = result.spec
    head = f"[{done:>3}/{total}] {spec.variant} {spec.scenario} seed {spec.seed}"
    if result.outcome is None:
        return f"{head}: FAILED {result.error} ({result.seconds:.0f} s)"
    o = result.outcome

    def at(value: int | None) -> str:
        return "-" if value is None else f"+{value}"

    facts = [f"clean flags {o.clean_flags}/{o.clean_windows}"]
    if o.has_onset:
        facts = [
            f"onset day {spec.onset_day}",
            f"flag {at(o.first_flag)}",
            f"retrain {at(o.retrain_days)}",
            f"promotion {at(o.promotion_days)}",
            f"recovered {at(o.recovery_days)}",
            *facts,
        ]
    return f"{head}: " + ", ".join(facts) + f", {o.retrains} retrain(s) ({result.seconds:.0f} s)"


# --------------------------------------------------------------------------- command line


def run_specs(
    use_case_name: str,
    scenarios: Sequence[str],
    seeds: Sequence[int],
    days: int,
    rows_per_day: int,
    variants: Sequence[Variant],
    holdout_days: int,
    features: int | None = None,
) -> list[RunSpec]:
    """Every run, variant-major then scenario then seed (onsets from :func:`onset_for`).

    Raises:
        ValueError: ``features`` does not fit the use case's contract.
    """
    case = use_case(use_case_name)
    narrowed(load_contract(case.contract_file), features)
    bootstrap = bootstrap_days(days, case.max_label_delay_days, holdout_days)
    specs = []
    for variant in variants:
        for scenario in scenarios:
            for seed in seeds:
                onset = onset_for(seed, bootstrap, days)
                timeline = case.timeline(
                    scenario, days, incident_day=onset - INCIDENT_BEFORE_ONSET, onset_day=onset
                )
                specs.append(
                    RunSpec(
                        use_case_name,
                        scenario,
                        seed,
                        days,
                        rows_per_day,
                        variant.name,
                        timeline.onset_day,
                        timeline.incident_day,
                        features,
                    )
                )
    return specs


def execute(
    specs: Sequence[RunSpec],
    sections: Mapping[str, Sections],
    jobs: int,
    done: Callable[[list[RunResult]], None],
) -> list[RunResult]:
    """Run every spec (``jobs`` at a time, each in its own process when above 1), in order.

    ``done`` is called after each run with the runs finished so far, in the order they ended.
    """
    results: dict[int, RunResult] = {}

    def finished(index: int, result: RunResult) -> None:
        results[index] = result
        done(list(results.values()))

    if jobs == 1:
        for i, spec in enumerate(specs):
            finished(i, run_one(spec, sections[spec.variant]))
        return [results[i] for i in range(len(specs))]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures: dict[Future[RunResult], int] = {
            pool.submit(run_one, spec, sections[spec.variant]): i for i, spec in enumerate(specs)
        }
        for future in as_completed(futures):
            finished(futures[future], future.result())
    return [results[i] for i in range(len(specs))]


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, checked (a bad value exits with status 2 and says why)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.detection",
        description="Detection, false alarms and recovery of the monitoring loop over the "
        "scenario suite, in process.",
    )
    parser.add_argument("--use-case", default="card_fraud", choices=use_case_names())
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenario names (default: {','.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--seeds", type=int, default=DEFAULT_SEEDS, help="runs per scenario: seeds 1..N"
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days per run")
    parser.add_argument(
        "--rows-per-day", type=int, default=None, help="default: the use case's volume"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        metavar="NAME[:SECTION.KEY=VALUE,...]",
        help="settings to compare (repeatable); default: one variant, 'current'",
    )
    parser.add_argument(
        "--features",
        type=int,
        default=None,
        metavar="N",
        help="keep only the contract's first N features (a narrow contract; default: all)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one process each")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results file (default: benchmarks/results/detection-<UTC date>.json)",
    )
    parser.add_argument(
        "--report-only",
        type=Path,
        default=None,
        metavar="RESULTS",
        help="run nothing: recompute outcomes, summary and table of a results file's runs "
        "(written back to it, or to --out)",
    )
    args = parser.parse_args(argv)
    case = use_case(args.use_case)
    args.scenarios = _names(args.scenarios)
    unknown = [s for s in args.scenarios if s not in case.scenarios()]
    if unknown or not args.scenarios:
        parser.error(
            f"unknown scenario(s) {unknown or '(none given)'}; {case.name} has "
            + ", ".join(case.scenarios())
        )
    for name in ("seeds", "jobs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    args.rows_per_day = args.rows_per_day or case.default_rows_per_day
    try:
        args.variant = [parse_variant(text) for text in args.variant or ["current"]]
    except ValueError as exc:
        parser.error(str(exc))
    names = [v.name for v in args.variant]
    if len(set(names)) < len(names):
        parser.error(f"variant names must differ, got {names}")
    return args


def write_results(path: Path, report: Mapping[str, Any]) -> None:
    """Write the results JSON atomically: indented, except one line per run (they are many)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=1, default=str)
    runs = ",\n".join(
        "  " + json.dumps(run, separators=(",", ":"), default=str) for run in report["runs"]
    )
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f'{head[:-2]},\n "runs": [\n{runs}\n ]\n}}\n', encoding="utf-8")
    partial.replace(path)


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


@contextlib.contextmanager
def _timer() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    yield lambda: time.perf_counter() - started


def scenario_onset(spec: RunSpec) -> int | None:
    """The run's drift onset as its timeline has it (None: the scenario never drifts)."""
    timeline = use_case(spec.use_case).timeline(
        spec.scenario, spec.days, incident_day=spec.incident_day, onset_day=spec.onset_day
    )
    return timeline.onset_day


def results_from(data: Mapping[str, Any]) -> list[RunResult]:
    """The runs of a results file, their outcomes recomputed from the recorded windows and days."""
    results = []
    for run in data["runs"]:
        spec = RunSpec(**run["spec"])
        windows = [WindowRecord(**w) for w in run["windows"]]
        days = [DayRecord(**d) for d in run["days"]]
        outcome = None if run["error"] else outcome_of(windows, days, scenario_onset(spec))
        results.append(
            RunResult(
                spec, run["bootstrap_days"], windows, days, outcome, run["seconds"], run["error"]
            )
        )
    return results


def summarize(
    results: Sequence[RunResult], variants: Sequence[str], scenarios: Sequence[str]
) -> list[ScenarioStats]:
    """One `ScenarioStats` per variant and scenario, in the order given."""
    return [
        aggregate(v, s, [r for r in results if (r.spec.variant, r.spec.scenario) == (v, s)])
        for v in variants
        for s in scenarios
    ]


def report(
    path: Path,
    meta: Mapping[str, Any],
    results: Sequence[RunResult],
    variants: Sequence[str],
    scenarios: Sequence[str],
) -> str:
    """Write the results file (``meta``, the summary, the table, every run); return the table."""
    stats = summarize(results, variants, scenarios)
    table = markdown_table(stats)
    definitions = {
        "detection_windows": list(DETECTION_WINDOWS),
        "recovery_ratio": RECOVERY_RATIO,
        "oracle_rows": ORACLE_ROWS,
        "recovery_horizon_days": RECOVERY_HORIZON_DAYS,
        "pre_onset_days": PRE_ONSET_DAYS,
        "min_clean_days": MIN_CLEAN_DAYS,
        "incident_before_onset": INCIDENT_BEFORE_ONSET,
    }
    write_results(
        path,
        {
            **meta,
            "definitions": definitions,
            "summary": [asdict(s) | {"false_alarm_rate": s.false_alarm_rate} for s in stats],
            "table_markdown": table,
            "runs": [r.to_dict() for r in results],
        },
    )
    return table


def report_only(source: Path, out: Path | None) -> int:
    """Recompute outcomes, summary and table of a results file (to ``out``, else in place)."""
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        results = results_from(data)
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        print(f"error: {source} is not a readable detection results file: {exc}", file=sys.stderr)
        return 2
    meta = {
        k: v
        for k, v in data.items()
        if k not in ("definitions", "summary", "table_markdown", "runs")
    }
    target = out or source
    print(report(target, meta, results, list(data["variants"]), data["scenarios"]))
    print(f"\nresults: {target}")
    return 1 if any(r.error for r in results) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; 0 when every run completed, 1 when one failed, 130 when interrupted."""
    args = parse_args(argv)
    if args.report_only is not None:
        return report_only(args.report_only, args.out)
    base = base_sections()
    try:
        sections = {v.name: apply_overrides(base, v) for v in args.variant}
        specs = run_specs(
            args.use_case,
            args.scenarios,
            range(1, args.seeds + 1),
            args.days,
            args.rows_per_day,
            args.variant,
            base.training.holdout_days,
            args.features,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started_at = dt.datetime.now(dt.UTC)
    print(
        f"detection benchmark: {args.use_case}, {len(args.scenarios)} scenario(s) x {args.seeds} "
        f"seed(s) x {len(args.variant)} variant(s) = {len(specs)} runs of {args.days} days, "
        f"{args.jobs} at a time (load {_load()})",
        flush=True,
    )
    path = args.out or RESULTS_DIR / f"detection-{started_at:%Y-%m-%d}.json"
    meta: dict[str, Any] = {
        "benchmark": "detection",
        "code_revision": code_revision(),
        "started_at": started_at.isoformat(timespec="seconds"),
        "jobs": args.jobs,
        "cpus": os.cpu_count(),
        "use_case": args.use_case,
        "scenarios": args.scenarios,
        "seeds": list(range(1, args.seeds + 1)),
        "days": args.days,
        "rows_per_day": args.rows_per_day,
        "features": args.features,
        "variants": {
            v.name: {"description": v.describe(), "settings": sections[v.name].to_dict()}
            for v in args.variant
        },
    }
    names = [v.name for v in args.variant]

    def done(finished: list[RunResult]) -> None:
        print(progress_line(len(finished), len(specs), finished[-1]), flush=True)
        partial = {**meta, "partial": f"{len(finished)} of {len(specs)} runs"}
        report(path, partial, finished, names, args.scenarios)

    with _timer() as elapsed:
        try:
            results = execute(specs, sections, args.jobs, done)
        except KeyboardInterrupt:
            print(f"interrupted; the runs finished so far are in {path}", file=sys.stderr)
            return 130
        seconds = elapsed()
    meta |= {"seconds": round(seconds, 1), "load_at_end": _load()}
    table = report(path, meta, results, names, args.scenarios)
    print(f"\n{table}\n\nresults: {path}")
    print(f"total {seconds:.0f} s for {len(specs)} runs ({args.jobs} at a time)")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
