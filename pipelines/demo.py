"""The lifecycle demo: the whole loop replayed day by day in simulated time.

1. Bootstrap: the first days' batches are generated, validated, a model is trained on the labels
   known by then and promoted through the gate (the first model must clear the floor).
2. A real uvicorn server starts on loopback, serving ``models:/<name>@champion``.
3. Each following day: the day's batch arrives and is validated (a blocked batch is quarantined
   and never scored or trained on); its transactions are scored through HTTP; labels that have
   matured by the end of the day are delivered to ``POST /v1/labels``; the day is monitored and
   the retraining policy decides; a retrain goes through the promotion gate and a promoted model
   is picked up by the running server without a restart.

The timeline (one row per day) and the story checks are written to
``<home>/demo/summary.json``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from prefect import flow
from rich.table import Table

from data.generator import DEFAULT_START, generate_day, scenario_timeline
from data.generator import write_batches as write_raw_batches
from data.scenarios import get_scenario
from features.contract import DatasetContract, load_contract
from features.validation import BatchOutcome, ValidationGate
from monitoring.errors import EmptyWindowError
from pipelines.flows import promote_flow, train_flow, validate_pending
from pipelines.monitor import ChampionReference, MonitorResult, end_of_day, monitor_day
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
    """One simulated day of the timeline."""

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


@dataclass
class DemoSummary:
    """What the demo did, in numbers; written as JSON and printed as a table."""

    scenario: str
    days: int
    seed: int
    rows_per_day: int
    bootstrap_days: int
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
                f"lifecycle demo: scenario {self.scenario}, {self.days} days, seed {self.seed} "
                f"(bootstrap {self.bootstrap_days} days"
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
                row.action,
                str(row.champion_version),
            )
        return table


@dataclass
class PendingLabels:
    """Labels of scored transactions, waiting for their maturity time."""

    frame: pd.DataFrame | None = None

    def add(self, batch: pd.DataFrame, contract: DatasetContract) -> None:
        """Hold the labels of a scored batch until they mature."""
        cols = [contract.id_column, contract.label_column, contract.label_available_time_column]
        new = batch[cols]
        self.frame = new if self.frame is None else pd.concat([self.frame, new], ignore_index=True)

    def pop_matured(self, now: datetime, contract: DatasetContract) -> pd.DataFrame:
        """Remove and return the labels known at ``now``."""
        if self.frame is None:
            return pd.DataFrame()
        ready = self.frame[contract.label_available_time_column] <= pd.Timestamp(now)
        matured, self.frame = self.frame[ready], self.frame[~ready].reset_index(drop=True)
        return matured


def bootstrap_days_for(days: int) -> int:
    """Days of history before serving starts: enough labelled weeks to train the first model."""
    return max(14, round(days * 0.35))


def archive_home(home: Path, now: datetime) -> Path | None:
    """Move a previous run's state to ``<home>/archive/<timestamp>/`` so the demo starts clean.

    Nothing is deleted: the previous MLflow store, data and reports stay readable there.
    Prefect's own database is kept in place (it is reused, not part of a run's story).
    """
    keep = {"archive", "prefect"}
    entries = [p for p in home.iterdir() if p.name not in keep] if home.exists() else []
    if not entries:
        return None
    target = home / "archive" / now.strftime("%Y%m%dT%H%M%S")
    target.mkdir(parents=True, exist_ok=False)
    for entry in entries:
        shutil.move(str(entry), target / entry.name)
    return target


def story_checks(summary: DemoSummary) -> dict[str, Any]:
    """The facts the demo is meant to show, read off its own timeline (pure).

    Performance "recovers" when the last matured PR-AUC is above the worst one seen after the
    drift onset by at least 0.05, and a model promoted after the onset served in between.
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
    columns = [contract.id_column, *contract.features, contract.event_time_column]
    versions: set[str] = set()
    failed = 0
    for chunk in _chunks(_records(batch, columns), CHUNK):
        response = client.post("/v1/predict", json=chunk)
        if response.status_code != 200:
            failed += len(chunk)
            continue
        versions.update(str(item["model_version"]) for item in response.json())
    return versions, failed


def deliver_labels(client: httpx.Client, labels: pd.DataFrame, contract: DatasetContract) -> int:
    """POST matured labels to /v1/labels; return how many were accepted."""
    if labels.empty:
        return 0
    columns = [contract.id_column, contract.label_column, contract.label_available_time_column]
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


@flow(name="lifecycle-demo")
def demo_flow(
    settings: Settings,
    scenario: str,
    days: int,
    seed: int,
    rows_per_day: int,
    progress: Progress | None = None,
) -> DemoSummary:
    """Bootstrap a champion, then replay the remaining days through a live server."""
    say = progress or (lambda _line: None)
    started = time.monotonic()
    contract = load_contract(settings.contract_path)
    spec = get_scenario(scenario)
    timeline = scenario_timeline(scenario, days)
    bootstrap = bootstrap_days_for(days)
    summary = DemoSummary(scenario, days, seed, rows_per_day, bootstrap)
    summary.ground_truth = asdict(timeline)

    def day_frame(index: int) -> pd.DataFrame:
        return generate_day(index, spec, seed=seed, days=days, rows=rows_per_day)

    def day_date(index: int) -> date:
        return DEFAULT_START + pd.Timedelta(days=index).to_pytimedelta()

    # ---- bootstrap: history, first model, first promotion
    say(f"[bootstrap] days 0-{bootstrap - 1}: generate, validate, train, promote")
    frames = {i: day_frame(i) for i in range(bootstrap)}
    write_raw_batches(((day_date(i), f) for i, f in frames.items()), settings.paths.raw)
    gate = ValidationGate(settings.paths.gx, contract)
    summary.record_validation(validate_pending(settings, contract, gate, publish_docs=False))
    first = train_flow(settings, cutoff=end_of_day(day_date(bootstrap - 1)))
    decision = promote_flow(settings, first.version)
    summary.model_version, summary.metrics = first.version, first.metrics
    say(
        f"[bootstrap] version {first.version}: PR-AUC {first.metrics.get('pr_auc', 0):.3f}, "
        f"gate: {decision.verdict} ({decision.reason})"
    )
    if not decision.promoted:
        raise RuntimeError(f"the first model was not promoted: {decision.reason}")
    champion = first.version

    # ---- replay through a live server
    config = serving_config(settings, poll_seconds=0.5)
    app = create_app(config)
    pending = PendingLabels()
    references: dict[str, ChampionReference] = {}
    with (
        run_in_thread(app) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        say(f"[serve] uvicorn on {base_url} serving champion version {champion}")
        if not wait_for_version(client, champion, SWAP_WAIT_SECONDS):
            raise RuntimeError(f"the server did not load champion version {champion}")
        for index in range(bootstrap, days):
            today = day_date(index)
            batch = day_frame(index)
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
            if blocked:
                row.action = "batch quarantined"
            else:
                try:
                    result = monitor_day(settings, contract, today, retrain=True, cache=references)
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
        client_registry, settings.model_name, registry.CHAMPION
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
    summary.path = write_summary(settings.paths.demo, summary)
    return summary


def _record_monitoring(
    summary: DemoSummary, row: DayRow, result: MonitorResult, client: httpx.Client, index: int
) -> str:
    """Copy one window's findings into the row; returns the champion after any promotion."""
    window = result.output.summary
    row.drift_share = window.drift_share
    row.drift_detected = window.data_drift_detected
    row.matured_pr_auc = window.performance.pr_auc if window.performance else None
    champion = result.champion_version
    if result.retrained is None or result.promotion is None:
        row.action = "hold (cool-down)" if result.decision.in_cooldown else "-"
        return champion
    version, promotion = result.retrained.version, result.promotion
    summary.retrains.append(
        {
            "day": index,
            "trigger": result.decision.trigger,
            "version": version,
            "verdict": promotion.verdict,
            "reason": promotion.reason,
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
        + f"drift share {drift}  matured PR-AUC {_fmt(row.matured_pr_auc, 3)}  "
        + f"labels +{row.labels_delivered}  champion v{row.champion_version}  {row.action}"
    )


def run_demo(
    settings: Settings,
    *,
    scenario: str,
    days: int,
    seed: int,
    rows_per_day: int,
    progress: Progress | None = None,
) -> DemoSummary:
    """Archive the previous run's state, then run the demo flow (the CLI's entry point).

    Unless the user chose otherwise, Evidently's performance report is written weekly: the
    figures are in every day's summary, and each report costs ~0.6 s and ~4 MB.
    """
    if "performance_report_every_days" not in settings.model_fields_set:
        settings = settings.model_copy(update={"performance_report_every_days": 7})
    archived = archive_home(settings.home, datetime.now(UTC))
    if archived is not None and progress is not None:
        progress(f"[home] previous run moved to {archived}")
    return demo_flow(settings, scenario, days, seed, rows_per_day, progress)


def render_index(summary: DemoSummary, home: Path) -> str:
    """One HTML page for the run: the timeline, its checks and links to every artifact (pure).

    Links are relative to ``<home>/demo/`` and only name files under ``home``; what the page
    lists is read from the summary and from the paths given, not discovered on disk.
    """

    def link(path: Path, text: str) -> str:
        return f'<a href="../{escape(str(path.relative_to(home)))}">{escape(text)}</a>'

    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(cell))}</td>"
            for cell in (
                row.day,
                row.date,
                row.rows,
                "BLOCKED" if row.blocked else "",
                _fmt(row.drift_share, 2) + (" *" if row.drift_detected else ""),
                _fmt(row.matured_pr_auc, 3),
                row.action,
                row.champion_version,
            )
        )
        + (
            f"<td>{link(home / 'data' / 'quarantine' / row.date / 'data_docs.html', 'data docs')}"
            "</td>"
            if row.blocked
            else f"<td>{link(home / 'monitoring' / row.date / 'report.html', 'evidently')}</td>"
        )
        + "</tr>"
        for row in summary.timeline
    )
    docs = home / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    checks = "\n".join(
        f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in summary.checks.items()
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>lifecycle demo: {escape(summary.scenario)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px}}</style></head><body>
<h1>lifecycle demo: scenario {escape(summary.scenario)}, {summary.days} days,
seed {summary.seed}</h1>
<p>{link(home / "demo" / "summary.json", "summary.json")} ·
{link(home / "audit.jsonl", "audit log")} ·
{link(docs, "Data Docs")} ·
MLflow UI: <code>{escape(summary.paths.get("mlflow ui", ""))}</code></p>
<h2>What the run showed</h2><table>{checks}</table>
<h2>Timeline</h2><table><tr><th>day</th><th>date</th><th>rows</th><th>blocked?</th>
<th>drift share</th><th>matured PR-AUC</th><th>action</th><th>champion</th><th>report</th></tr>
{rows}</table></body></html>
"""


def write_summary(folder: Path, summary: DemoSummary) -> Path:
    """Write ``summary.json`` atomically and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "summary.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary.to_dict(), indent=2, default=str))
    tmp.replace(target)
    (folder / "index.html").write_text(render_index(summary, folder.parent))
    return target
