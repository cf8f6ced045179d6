"""The lifecycle demo: the whole loop replayed day by day in simulated time, on any contract.

The days come from a `DaySource`: the built-in generator of the contract's use case (card fraud,
churn), or a file of the user's own rows (`--data`) with a generic scenario injected into it
(`pipelines.replay_scenarios`).

1. Bootstrap: the first days' batches are written, validated, a model is trained on the labels
   known by then and promoted through the gate (the first model must clear the floor).
2. A real uvicorn server starts on loopback, serving ``models:/<name>@champion``.
3. Each following day: the day's batch arrives and is validated (a blocked batch is quarantined
   and never scored or trained on); its rows are scored through HTTP; labels that have matured
   by the end of the day are delivered to ``POST /v1/labels``; when a monitoring window closes
   (days are grouped into windows of at least ``monitoring.min_window_rows`` rows) it is
   monitored and the retraining policy decides; a retrain goes through the promotion gate and
   a promoted model is picked up by the running server without a restart.

The timeline (one row per day) and the story checks are written to
``<home>/demo/summary.json`` and ``<home>/demo/index.html``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from prefect import flow
from rich.table import Table

from data.batches import write_batches as write_raw_batches
from data.generator import DEFAULT_START
from data.usecases import UseCase, use_case_for_contract, use_case_names
from features import vocabulary as vocab
from features.contract import DatasetContract, load_contract
from features.validation import BatchOutcome, ValidationGate
from monitoring.errors import EmptyWindowError
from pipelines.flows import PipelineError, promote_flow, train_flow, validate_pending
from pipelines.ingest import (
    IngestError,
    parse_files,
    rejection_message,
    source_files,
    split_by_day,
)
from pipelines.monitor import (
    MonitorResult,
    ReferenceCache,
    end_of_day,
    monitor_day,
    window_days,
)
from pipelines.pending_labels import PendingLabels
from pipelines.relocate import relocate_store
from pipelines.replay_scenarios import ScenarioPlan, apply_scenario, plan_scenario
from pipelines.serve import serving_config
from pipelines.settings import Settings
from serving.app import create_app
from serving.runner import run_in_thread
from training import registry

Progress = Callable[[str], None]
CHUNK = 1000
SWAP_WAIT_SECONDS = 60.0


@dataclass
class DayRow:
    """One simulated day of the timeline.

    ``matured_pr_auc`` is the trailing window's figure over every version's predictions;
    ``champion_pr_auc`` the champion's on its own matured predictions (None until they hold
    enough positives: ``champion_positives`` says how many they hold).
    """

    day: int
    date: str
    rows: int
    blocked: bool
    drift_share: float | None = None
    drift_detected: bool | None = None
    matured_pr_auc: float | None = None
    labels_delivered: int = 0
    action: str = "-"
    champion_version: str | None = None
    served_version: str | None = None
    failed_requests: int = 0
    window_id: str | None = None
    champion_pr_auc: float | None = None
    champion_positives: int | None = None


@dataclass
class DemoSummary:
    """What the demo did, in numbers; written as JSON and printed as a table."""

    scenario: str
    days: int
    seed: int
    rows_per_day: int
    bootstrap_days: int
    use_case: str = ""
    source: str = "generator"
    window_days: int = 1
    ground_truth: dict[str, Any] = field(default_factory=dict)
    batches_validated: list[str] = field(default_factory=list)
    batches_quarantined: list[str] = field(default_factory=list)
    model_version: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    champion_version: str | None = None
    timeline: list[DayRow] = field(default_factory=list)
    retrains: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    paths: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the summary's own path)."""
        data = asdict(self)
        data.pop("path")
        return data

    def record_validation(self, outcomes: list[BatchOutcome]) -> None:
        """File each checked batch under validated or quarantined."""
        for outcome in outcomes:
            target = self.batches_validated if outcome.success else self.batches_quarantined
            target.append(outcome.batch_id)

    def table(self) -> Table:
        """The timeline as a table for the terminal."""
        onset = self.ground_truth.get("onset_day")
        table = Table(
            title=(
                f"lifecycle demo: {self.use_case}, scenario {self.scenario}, {self.days} days, "
                f"seed {self.seed} (bootstrap {self.bootstrap_days} days"
                + (f", {self.window_days}-day windows" if self.window_days > 1 else "")
                + (f", drift onset day {onset}" if onset is not None else "")
                + ")"
            )
        )
        for name, justify in (
            ("day", "right"),
            ("date", "left"),
            ("rows", "right"),
            ("blocked?", "left"),
            ("drift share", "right"),
            ("matured PR-AUC", "right"),
            ("champion's own", "right"),
            ("action", "left"),
            ("champion", "right"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in self.timeline:
            table.add_row(
                str(row.day),
                row.date,
                str(row.rows),
                "BLOCKED" if row.blocked else "",
                _fmt(row.drift_share, 2) + (" *" if row.drift_detected else ""),
                _fmt(row.matured_pr_auc, 3),
                _fmt(row.champion_pr_auc, 3),
                row.action,
                str(row.champion_version),
            )
        return table


def bootstrap_days_for(days: int, label_delay_days: int = 0, holdout_days: int = 5) -> int:
    """Days of history before serving starts: enough labelled weeks to train the first model.

    A third of the run, at least two weeks, and at least the label delay plus a holdout, so
    that the labels of a holdout and of the days before it have matured.
    """
    return max(14, round(days * 0.35), label_delay_days + holdout_days)


def archive_home(home: Path, now: datetime) -> Path | None:
    """Move a previous run's state to ``<home>/archive/<timestamp>/`` so the demo starts clean.

    Nothing is deleted: the previous MLflow store, data and reports stay readable there, its
    stored paths rewritten to the archive (otherwise they would name the new run's artifacts).
    Prefect's own database is kept in place (it is reused, not part of a run's story).

    Raises:
        RelocationError: the archived MLflow store cannot be rewritten (it is moved already).
    """
    keep = {"archive", "prefect"}
    entries = [p for p in home.iterdir() if p.name not in keep] if home.exists() else []
    if not entries:
        return None
    target = home / "archive" / now.strftime("%Y%m%dT%H%M%S")
    target.mkdir(parents=True, exist_ok=False)
    for entry in entries:
        shutil.move(str(entry), target / entry.name)
    relocate_store(target)
    return target


#: Share of the pre-onset matured PR-AUC that counts as recovered.
RECOVERED_SHARE = 0.9


def _recovery(
    rows: list[DayRow], onset: int | None, trough_day: int | None
) -> tuple[float | None, int | None]:
    """Mean matured PR-AUC before the onset, and the first day after the trough back at 90 %."""
    if onset is None or trough_day is None:
        return None, None
    before = [r.matured_pr_auc for r in rows if r.matured_pr_auc is not None and r.day < onset]
    if not before:
        return None, None
    level = sum(before) / len(before)
    back = [
        r.day
        for r in rows
        if r.day > trough_day
        and r.matured_pr_auc is not None
        and r.matured_pr_auc >= RECOVERED_SHARE * level
    ]
    return level, back[0] if back else None


def story_checks(summary: DemoSummary) -> dict[str, Any]:
    """The facts the demo is meant to show, read off its own timeline (pure).

    Performance "recovers" when the last matured PR-AUC is above the worst one seen after the
    drift onset by at least 0.05, and a model promoted after the onset served in between.
    ``matured_pr_auc_recovered_day`` is the first day after that trough whose matured PR-AUC is
    back to 90 % of the mean before the onset (the trailing matured figure lags by design:
    labels arrive late, and it covers ``monitoring.performance_days`` days).
    """
    onset = summary.ground_truth.get("onset_day")
    rows = summary.timeline
    drift_days = [r.day for r in rows if r.drift_detected]
    promoted = [r for r in summary.retrains if r["verdict"] == "promote"]
    served = {v for r in rows if r.served_version for v in r.served_version.split(",")}
    after_onset = [
        (r.day, r.matured_pr_auc)
        for r in rows
        if r.matured_pr_auc is not None and (onset is None or r.day >= onset)
    ]
    trough_day, trough = min(after_onset, key=lambda pair: pair[1]) if after_onset else (None, None)
    last = after_onset[-1][1] if after_onset else None
    swapped_after_onset = any(onset is None or p["day"] >= onset for p in promoted)
    level, recovered_day = _recovery(rows, onset, trough_day)
    return {
        "blocked_batches": summary.batches_quarantined,
        "blocked_batches_never_trained_on": all(
            b not in summary.batches_validated for b in summary.batches_quarantined
        ),
        "first_drift_day": drift_days[0] if drift_days else None,
        "drift_days_before_onset": [d for d in drift_days if onset is not None and d < onset],
        "retrains": len(summary.retrains),
        "promotions": len(promoted),
        "served_versions": sorted(served, key=int),
        "served_new_version_without_restart": len(served) > 1,
        "failed_requests": sum(r.failed_requests for r in rows),
        "matured_pr_auc_trough": trough,
        "matured_pr_auc_trough_day": trough_day,
        "matured_pr_auc_last": last,
        "matured_pr_auc_before_onset": level,
        "matured_pr_auc_recovered_day": recovered_day,
        "retrain_days": [r["day"] for r in summary.retrains],
        "promotion_days": [p["day"] for p in promoted],
        "performance_recovered": bool(
            swapped_after_onset
            and trough is not None
            and last is not None
            and last >= trough + 0.05
        ),
    }


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN becomes null, timestamps ISO strings (pandas' own JSON writer)."""
    rows: list[dict[str, Any]] = json.loads(
        frame[columns].to_json(orient="records", date_format="iso", date_unit="us")
    )
    return rows


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def score_batch(
    client: httpx.Client, batch: pd.DataFrame, contract: DatasetContract
) -> tuple[set[str], int]:
    """POST the batch to /v1/predict; return the versions that answered and the failures."""
    columns = [contract.id_column, *contract.input_columns, contract.event_time_column]
    columns = [c for c in columns if c in batch.columns]
    versions: set[str] = set()
    failed = 0
    for chunk in _chunks(_records(batch, columns), CHUNK):
        response = client.post("/v1/predict", json=chunk)
        if response.status_code != 200:
            failed += len(chunk)
            continue
        versions.update(str(item[vocab.MODEL_VERSION]) for item in response.json())
    return versions, failed


def deliver_labels(client: httpx.Client, labels: pd.DataFrame, contract: DatasetContract) -> int:
    """POST matured labels to /v1/labels; return how many were accepted."""
    if labels.empty:
        return 0
    columns = [contract.id_column, contract.label_column, contract.label_available_field]
    delivered = 0
    for chunk in _chunks(_records(labels, columns), CHUNK):
        response = client.post("/v1/labels", json=chunk)
        response.raise_for_status()
        delivered += len(chunk)
    return delivered


def wait_for_version(client: httpx.Client, version: str, timeout: float) -> bool:
    """Poll /v1/model until the server reports ``version`` (True) or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/v1/model")
        if response.status_code == 200 and str(response.json().get("version")) == version:
            return True
        time.sleep(0.2)
    return False


class SimulatedClock:
    """The demo's "now": moved to the end of each replayed day; reads as naive UTC."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        """The simulated time, as the gate's and the server's clocks read it."""
        return self.now


@dataclass(frozen=True)
class DaySource:
    """The days a demo replays, and the ground truth of what was injected into them.

    Attributes:
        name: "generator", or the data file replayed.
        scenario: The scenario's name.
        dates: The date of each day, by day index.
        rows_per_day: The typical daily volume (sizes the monitoring windows).
        label_delay_days: Days until a day's labels are all known (sizes the bootstrap).
        ground_truth: ``incident_day`` and ``onset_day`` (day indices, or None), and what was
            injected.
        make_day: Builds day ``index``'s frame (deterministic).
    """

    name: str
    scenario: str
    dates: tuple[date, ...]
    rows_per_day: int
    label_delay_days: int
    ground_truth: dict[str, Any]
    make_day: Callable[[int], pd.DataFrame]

    @property
    def days(self) -> int:
        """Number of days replayed."""
        return len(self.dates)


def synthetic_source(
    use_case: UseCase, scenario: str, days: int, seed: int, rows_per_day: int
) -> DaySource:
    """Days from the use case's built-in generator (scenario ground truth from its timeline)."""
    timeline = use_case.timeline(scenario, days)

    def make_day(index: int) -> pd.DataFrame:
        return use_case.generate_day(index, scenario, seed=seed, days=days, rows=rows_per_day)

    return DaySource(
        name="generator",
        scenario=scenario,
        dates=tuple(DEFAULT_START + timedelta(days=i) for i in range(days)),
        rows_per_day=rows_per_day,
        label_delay_days=use_case.max_label_delay_days,
        ground_truth=asdict(timeline),
        make_day=make_day,
    )


def _label_delay_days(frame: pd.DataFrame, contract: DatasetContract) -> int:
    """Whole days until nearly every label is known (95th percentile of the delays)."""
    if contract.label_delay is not None:
        return math.ceil(contract.label_delay / timedelta(days=1))
    delays = (contract.label_known_at(frame) - frame[contract.event_time_column]).dropna()
    if delays.empty:
        return 0
    quantile = pd.Timedelta(delays.quantile(0.95))
    return max(0, math.ceil(quantile / pd.Timedelta(days=1)))


def replay_source(
    contract: DatasetContract,
    data: Path,
    scenario: str,
    *,
    days: int | None,
    seed: int,
    holdout_days: int,
    skip_bad_rows: bool = False,
) -> DaySource:
    """The user's own rows, one day per date of event time, with a generic scenario injected.

    The incident and the drift onset fall in the replayed part (after the bootstrap): the
    incident a sixth of the way into it, the onset a third.

    Raises:
        IngestError: rows that cannot be parsed (unless ``skip_bad_rows``).
        PipelineError: too few days to bootstrap a model and replay some.
    """
    parsed = parse_files(source_files(data), contract)
    if len(parsed.rejected) and not skip_bad_rows:
        message = rejection_message(len(parsed.rejected), parsed.rows_read, parsed.rejections, data)
        raise IngestError(message.replace(f"the rejected rows are in {data}", f"in {data}"))
    by_day = dict(split_by_day(parsed.frame, contract))
    dates = tuple(sorted(by_day))[: days or None]
    delay = _label_delay_days(parsed.frame, contract)
    bootstrap = bootstrap_days_for(len(dates), delay, holdout_days)
    replayed = len(dates) - bootstrap
    if replayed < 6:
        raise PipelineError(
            f"{data} covers {len(dates)} day(s) of event time; the demo needs {bootstrap} to "
            f"bootstrap a model (labels known after ~{delay} day(s), a {holdout_days}-day "
            "holdout) and at least 6 more to replay"
        )
    history = pd.concat([by_day[d] for d in dates[:bootstrap]], ignore_index=True)
    plan: ScenarioPlan = plan_scenario(
        scenario,
        contract,
        history,
        days=len(dates),
        seed=seed,
        incident_day=bootstrap + replayed // 6,
        onset_day=bootstrap + replayed // 3,
    )

    def make_day(index: int) -> pd.DataFrame:
        return apply_scenario(by_day[dates[index]], plan, index, contract)

    counts = sorted(len(by_day[d]) for d in dates)
    return DaySource(
        name=str(data),
        scenario=scenario,
        dates=dates,
        rows_per_day=counts[len(counts) // 2],
        label_delay_days=delay,
        ground_truth=plan.to_dict(),
        make_day=make_day,
    )


@flow(name="lifecycle-demo")
def demo_flow(
    settings: Settings,
    contract: DatasetContract,
    source: DaySource,
    seed: int,
    progress: Progress | None = None,
) -> DemoSummary:
    """Bootstrap a champion, then replay the remaining days through a live server."""
    say = progress or (lambda _line: None)
    started = time.monotonic()
    bootstrap = bootstrap_days_for(
        source.days, source.label_delay_days, settings.training.holdout_days
    )
    window = window_days(source.rows_per_day, settings.monitoring.min_window_rows)
    summary = DemoSummary(
        source.scenario,
        source.days,
        seed,
        source.rows_per_day,
        bootstrap,
        use_case=contract.name,
        source=source.name,
        window_days=window,
        ground_truth=source.ground_truth,
    )
    if window > 1:
        say(
            f"[monitor] about {source.rows_per_day} rows a day: days are grouped into "
            f"{window}-day windows of at least {settings.monitoring.min_window_rows} rows "
            "(monitoring.min_window_rows)"
        )

    # ---- bootstrap: history, first model, first promotion
    say(f"[bootstrap] days 0-{bootstrap - 1}: validate, train, promote ({contract.name})")
    frames = {i: source.make_day(i) for i in range(bootstrap)}
    write_raw_batches(((source.dates[i], f) for i, f in frames.items()), settings.paths.raw)
    # Simulated time: "now" is the end of the day being replayed, for the gate's time checks
    # and the server's event-time window alike. The generators write each row's eventual label
    # with the batch, so the gate lets label times run ahead of the simulated now.
    clock = SimulatedClock(end_of_day(source.dates[bootstrap - 1]))
    gate = ValidationGate(settings.paths.gx, contract, now=clock, labels_ahead=True)
    summary.record_validation(validate_pending(settings, contract, gate, publish_docs=False))
    first = train_flow(settings, cutoff=end_of_day(source.dates[bootstrap - 1]))
    for warning in first.warnings:
        say(f"[bootstrap] warning: {warning}")
    decision = promote_flow(settings, first.version)
    summary.model_version, summary.metrics = first.version, first.metrics
    say(
        f"[bootstrap] version {first.version}: PR-AUC {first.metrics.get('pr_auc') or 0:.3f}, "
        f"gate: {decision.verdict} ({decision.reason})"
    )
    if not decision.promoted:
        raise PipelineError(f"the first model was not promoted: {decision.reason}")
    champion = first.version

    # ---- replay through a live server
    config = serving_config(settings, contract, poll_seconds=0.5)
    app = create_app(config, clock=clock)
    pending = PendingLabels()
    references = ReferenceCache()
    with (
        run_in_thread(app) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        say(f"[serve] uvicorn on {base_url} serving champion version {champion}")
        if not wait_for_version(client, champion, SWAP_WAIT_SECONDS):
            raise PipelineError(f"the server did not load champion version {champion}")
        for index in range(bootstrap, source.days):
            today = source.dates[index]
            clock.now = end_of_day(today)
            batch = source.make_day(index)
            write_raw_batches([(today, batch)], settings.paths.raw)
            outcomes = validate_pending(settings, contract, gate, publish_docs=False)
            blocked = any(not o.success for o in outcomes)
            summary.record_validation(outcomes)
            row = DayRow(index, today.isoformat(), len(batch), blocked, champion_version=champion)
            if not blocked:
                versions, row.failed_requests = score_batch(client, batch, contract)
                # The server logs predictions off the request path; wait until the day's lines
                # are on disk before monitoring reads them.
                app.state.services.prediction_log.flush()
                row.served_version = ",".join(sorted(versions, key=int)) or None
                pending.add(batch, contract)
            row.labels_delivered = deliver_labels(
                client, pending.pop_matured(end_of_day(today), contract), contract
            )
            row.action = "batch quarantined" if blocked else "-"
            if (index - bootstrap + 1) % window == 0 or index == source.days - 1:
                first_day = source.dates[max(bootstrap, index - window + 1)]
                try:
                    result = monitor_day(
                        settings, contract, (first_day, today), retrain=True, cache=references
                    )
                except EmptyWindowError:
                    result = None
                if result is not None:
                    champion = _record_monitoring(summary, row, result, client, index)
            row.champion_version = champion
            summary.timeline.append(row)
            say(_progress_line(row))

    gate.publish_docs()
    client_registry = registry.connect(settings.resolved_tracking_uri)
    summary.champion_version = registry.alias_version(
        client_registry, contract.model_name, vocab.CHAMPION
    )
    summary.checks = story_checks(summary)
    summary.seconds = round(time.monotonic() - started, 1)
    summary.paths = {
        "summary": str(settings.paths.demo / "summary.json"),
        "index": str(settings.paths.demo / "index.html"),
        "audit log": str(settings.paths.audit_log),
        "monitoring reports": str(settings.paths.monitoring),
        "quarantine": str(settings.paths.quarantine),
        "mlflow ui": f"mlflow ui --backend-store-uri {settings.resolved_tracking_uri}",
    }
    summary.path = write_summary(settings.paths.demo, summary, settings)
    return summary


def _record_monitoring(
    summary: DemoSummary, row: DayRow, result: MonitorResult, client: httpx.Client, index: int
) -> str:
    """Copy one window's findings into the row; returns the champion after any promotion."""
    window = result.output.summary
    row.window_id = window.window_id
    row.drift_share = window.drift_share
    row.drift_detected = window.data_drift_detected
    row.matured_pr_auc = window.performance.pr_auc if window.performance else None
    own = window.champion_performance
    row.champion_positives = None if own is None else own.n_positives
    row.champion_pr_auc = own.pr_auc if own is not None and own.evaluated else None
    champion = result.champion_version
    if result.retrained is None or result.promotion is None:
        numbers = result.decision.numbers
        if result.decision.waiting_for_labels:
            row.action = (
                f"hold (retrain scheduled: {numbers.get('post_onset_positives')}/"
                f"{numbers.get('min_post_onset_positives')} post-onset positives)"
            )
        elif result.decision.in_cooldown:
            row.action = "hold (cool-down)"
        return champion
    version, promotion = result.retrained.version, result.promotion
    summary.retrains.append(
        {
            "day": index,
            "trigger": result.decision.trigger,
            "version": version,
            "verdict": promotion.verdict,
            "reason": promotion.reason,
            "decision": result.decision.reason,
        }
    )
    if not promotion.promoted:
        row.action = f"retrain ({result.decision.trigger}) -> v{version} rejected"
        return champion
    swapped = wait_for_version(client, version, SWAP_WAIT_SECONDS)
    row.action = f"retrain ({result.decision.trigger}) -> v{version} promoted, " + (
        "server swapped" if swapped else "SERVER DID NOT SWAP"
    )
    return version


def _progress_line(row: DayRow) -> str:
    drift = _fmt(row.drift_share, 2) + (" drift!" if row.drift_detected else "")
    return (
        f"[day {row.day:>2} {row.date}] rows {row.rows} "
        + ("BLOCKED " if row.blocked else "")
        + f"drift share {drift}  matured PR-AUC {_fmt(row.matured_pr_auc, 3)} "
        + f"(champion's own {_fmt(row.champion_pr_auc, 3)})  "
        + f"labels +{row.labels_delivered}  champion v{row.champion_version}  {row.action}"
    )


def run_demo(
    settings: Settings,
    *,
    scenario: str,
    days: int | None = None,
    seed: int = 42,
    rows_per_day: int | None = None,
    data: Path | None = None,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
) -> DemoSummary:
    """Build the day source, archive the previous run's state, then run the demo flow.

    Without ``data`` the days come from the contract's built-in generator (``days`` default 60,
    ``rows_per_day`` the use case's volume); with it, the file's days are replayed (all of them
    unless ``days`` is given) with ``scenario`` injected. Unless the user chose otherwise,
    Evidently's performance report is written weekly: the figures are in every window's
    summary, and each report costs ~0.6 s and ~4 MB.

    Raises:
        PipelineError: no built-in generator for the contract and no ``data``, or too few days.
        IngestError: ``data`` holds rows that cannot be parsed (unless ``skip_bad_rows``).
    """
    contract = load_contract(settings.contract)
    if data is not None:
        source = replay_source(
            contract,
            data,
            scenario,
            days=days,
            seed=seed,
            holdout_days=settings.training.holdout_days,
            skip_bad_rows=skip_bad_rows,
        )
    else:
        use_case = use_case_for_contract(contract.name)
        if use_case is None:
            raise PipelineError(
                f"contract '{contract.name}' has no built-in generator (built-in use cases: "
                f"{', '.join(use_case_names())}): replay your own data with --data FILE"
            )
        rows = rows_per_day or use_case.default_rows_per_day
        source = synthetic_source(use_case, scenario, days or 60, seed, rows)
    if "performance_report_every_days" not in settings.monitoring.model_fields_set:
        weekly = settings.monitoring.model_copy(update={"performance_report_every_days": 7})
        settings = settings.model_copy(update={"monitoring": weekly})
    archived = archive_home(settings.home, datetime.now(UTC))
    if archived is not None and progress is not None:
        progress(f"[home] previous run moved to {archived}")
    return demo_flow(settings, contract, source, seed, progress)


def render_index(summary: DemoSummary, home: Path) -> str:
    """The run report drawn from the summary alone (pure): timeline charts, checks, links.

    Links are relative to ``<home>/demo/`` and only name files under ``home``. The full
    report, which also reads the monitoring windows, the audit log, the quarantine and the
    registry, is what `write_summary` writes when it is given the run's settings
    (`pipelines.report`).
    """
    from pipelines import report

    records = report.HomeRecords(
        summary=summary.to_dict(),
        windows=[],
        audit=[],
        quarantine=[],
        versions=[],
        model_name=summary.use_case,
    )
    return report.render_report(report.assemble(records))


def write_summary(folder: Path, summary: DemoSummary, settings: Settings | None = None) -> Path:
    """Write ``summary.json`` atomically, then the run report as ``index.html``; return the first.

    With the run's ``settings`` the report reads the whole home (`pipelines.report`);
    without, it is drawn from the summary alone (`render_index`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "summary.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary.to_dict(), indent=2, default=str))
    tmp.replace(target)
    if settings is not None:
        from pipelines.report import write_report

        write_report(settings, folder / "index.html")
    else:
        (folder / "index.html").write_text(render_index(summary, folder.parent))
    return target
