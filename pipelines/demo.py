"""The lifecycle demo: generate, validate, train and promote, then summarise what happened.

The summary is written to ``<home>/demo/summary.json`` so that a test, a person or a CI job can
read back the batches validated and quarantined, the model version and its metrics and which
version is champion.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow
from rich.table import Table

from data.generator import generate, scenario_timeline, write_batches
from pipelines.flows import promote_flow, train_flow, validate_pending
from pipelines.settings import Settings
from training import registry

Progress = Callable[[str], None]


@dataclass
class DemoSummary:
    """What the demo did, in numbers; written as JSON and printed as a table."""

    scenario: str
    days: int
    seed: int
    batches_validated: list[str] = field(default_factory=list)
    batches_quarantined: list[str] = field(default_factory=list)
    model_version: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)
    champion_version: str | None = None
    ground_truth: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the summary's own path)."""
        data = asdict(self)
        data.pop("path")
        return data

    def table(self) -> Table:
        """The summary as a table for the terminal."""
        table = Table(title=f"lifecycle demo: scenario {self.scenario}, {self.days} days")
        table.add_column("item")
        table.add_column("value")
        table.add_row("batches validated", str(len(self.batches_validated)))
        table.add_row("batches quarantined", ", ".join(self.batches_quarantined) or "none")
        table.add_row("model version", str(self.model_version))
        for key in ("pr_auc", "roc_auc", "brier", "recall_at_fpr", "threshold"):
            value = self.metrics.get(key)
            table.add_row(key, "-" if value is None else f"{value:.4f}")
        table.add_row("gate", f"{self.decision.get('verdict')}: {self.decision.get('reason')}")
        table.add_row("champion version", str(self.champion_version))
        for name, value in self.paths.items():
            table.add_row(name, value)
        return table


@flow(name="lifecycle-demo")
def demo_flow(
    settings: Settings,
    scenario: str,
    days: int,
    seed: int,
    rows_per_day: int,
    progress: Progress | None = None,
) -> DemoSummary:
    """Generate -> validate -> train -> promote, with progress lines."""
    say = progress or (lambda _line: None)
    from features.contract import load_contract

    contract = load_contract(settings.contract_path)
    summary = DemoSummary(scenario=scenario, days=days, seed=seed)
    summary.ground_truth = asdict(scenario_timeline(scenario, days))

    say(f"[1/4] generating {days} days of scenario '{scenario}' (seed {seed})")
    write_batches(generate(scenario, days, seed, rows_per_day=rows_per_day), settings.paths.raw)

    say("[2/4] validating raw batches with the Great Expectations gate")
    for outcome in validate_pending(settings, contract):
        (summary.batches_validated if outcome.success else summary.batches_quarantined).append(
            outcome.batch_id
        )
    summary.batches_validated = sorted(p.stem for p in settings.paths.validated.glob("*.parquet"))
    summary.batches_quarantined = (
        sorted(p.name for p in settings.paths.quarantine.iterdir() if p.is_dir())
        if settings.paths.quarantine.exists()
        else []
    )
    for batch in summary.batches_quarantined:
        say(f"      blocked {batch}: see {settings.paths.quarantine / batch}")

    say("[3/4] training a candidate and registering it in MLflow")
    result = train_flow(settings)
    summary.model_version = result.version
    summary.metrics = result.metrics

    say("[4/4] running the promotion gate")
    decision = promote_flow(settings, result.version)
    summary.decision = {"verdict": decision.verdict, "reason": decision.reason}
    client = registry.connect(settings.resolved_tracking_uri)
    summary.champion_version = registry.alias_version(
        client, settings.model_name, registry.CHAMPION
    )
    summary.paths = {
        "audit log": str(settings.paths.audit_log),
        "quarantine": str(settings.paths.quarantine),
        "mlflow ui": f"mlflow ui --backend-store-uri {settings.resolved_tracking_uri}",
    }
    summary.path = write_summary(settings.paths.demo, summary)
    return summary


def run_demo(
    settings: Settings,
    *,
    scenario: str,
    days: int,
    seed: int,
    rows_per_day: int,
    progress: Progress | None = None,
) -> DemoSummary:
    """Run the demo flow (the entry point the CLI calls)."""
    return demo_flow(settings, scenario, days, seed, rows_per_day, progress)


def write_summary(folder: Path, summary: DemoSummary) -> Path:
    """Write ``summary.json`` atomically and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "summary.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary.to_dict(), indent=2, default=str))
    tmp.replace(target)
    return target
