"""Handoff notes for a run home: what is deployed, what is open, how to act, where to look.

:func:`gather` reads the home (registry, audit log, latest monitoring window, quarantine) into
:class:`HandoffFacts`; :func:`render` turns them into Markdown and is pure, so what the notes say
is tested on hand-made facts. `lifecycle handoff` prints or writes the result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from features import vocabulary as vocab
from features.contract import load_contract
from pipelines.audit import intent_log, read_decisions, unfinished_intents
from pipelines.settings import Settings

#: How many of the latest audit records the notes list.
RECENT_DECISIONS = 12
#: Audit kinds that are routine (one per batch or window) and left out of "recent decisions"
#: unless they are all there is.
ROUTINE_KINDS = frozenset({"batch_passed", "hold"})
#: Run metrics the notes show for the champion, in this order, when present.
SHOWN_METRICS = ("pr_auc", "roc_auc", "recall_at_threshold", "precision_at_threshold", "threshold")


@dataclass(frozen=True)
class VersionFacts:
    """One registered version as the notes describe it."""

    version: str
    tags: dict[str, str]
    metrics: dict[str, float]
    description: str | None = None


@dataclass(frozen=True)
class HandoffFacts:
    """Everything the notes say, read from one home."""

    home: Path
    contract_name: str
    model_name: str
    tracking_uri: str
    champion: VersionFacts | None
    challenger: str | None
    abandoned: dict[str, str]
    decisions: list[dict[str, Any]]
    window: dict[str, Any] | None
    quarantined: list[str]
    unfinished_intents: int
    model_card: str | None
    logs: dict[str, Path] = field(default_factory=dict)


def gather(settings: Settings) -> HandoffFacts:
    """Read the home's registry, audit log, latest window and quarantine."""
    from training import registry

    contract = load_contract(settings.contract)
    name = contract.model_name
    client = registry.connect(settings.resolved_tracking_uri)
    champion_version = registry.alias_version(client, name, vocab.CHAMPION)
    champion = None
    model_card_md = None
    if champion_version is not None:
        found = client.get_model_version(name, champion_version)
        run_id = registry.version_run_id(client, name, champion_version)
        metrics = dict(client.get_run(run_id).data.metrics)
        champion = VersionFacts(champion_version, dict(found.tags), metrics, found.description)
        model_card_md = _model_card(client, run_id)
    abandoned = {
        str(v.version): v.tags[vocab.ABANDONED_TAG]
        for v in client.search_model_versions(f"name = '{name}'")
        if vocab.ABANDONED_TAG in (v.tags or {})
    }
    audit = settings.paths.audit_log
    records = read_decisions(audit)
    paths = settings.paths
    return HandoffFacts(
        home=settings.home,
        contract_name=contract.name,
        model_name=name,
        tracking_uri=settings.resolved_tracking_uri,
        champion=champion,
        challenger=registry.alias_version(client, name, vocab.CHALLENGER),
        abandoned=abandoned,
        decisions=records,
        window=_latest_window(paths.monitoring),
        quarantined=sorted(p.name for p in paths.quarantine.glob("*") if p.is_dir()),
        unfinished_intents=len(
            unfinished_intents(read_decisions(intent_log(audit)), records, name)
        ),
        model_card=model_card_md,
        logs={
            "audit log (every decision, JSON lines)": audit,
            "promotion intents (crash recovery)": intent_log(audit),
            "prediction log (one file per event day)": paths.predictions,
            "label log": paths.labels,
            "monitoring windows (report.html, summary.json)": paths.monitoring,
            "quarantined batches (validation.json, data_docs.html)": paths.quarantine,
            "validated batches": paths.validated,
            "MLflow store (`make mlflow-ui`)": paths.mlflow,
            "Prefect database and local API log": paths.prefect,
        },
    )


def render(facts: HandoffFacts) -> str:
    """The handoff notes as Markdown (pure)."""
    sections = [
        f"# Handoff: {facts.contract_name}\n\nRun home `{facts.home}`; registry "
        f"`{facts.tracking_uri}`; model `{facts.model_name}`.",
        _deployed(facts),
        _open_risks(facts),
        _recent_decisions(facts.decisions),
        _rollback(facts),
        "## Where every log is\n\n"
        + "\n".join(f"- {what}: `{path}`" for what, path in facts.logs.items()),
    ]
    if facts.model_card:
        sections.append("## The champion's model card\n\n" + _demoted(facts.model_card))
    return "\n\n".join(sections) + "\n"


def _deployed(facts: HandoffFacts) -> str:
    champion = facts.champion
    if champion is None:
        return (
            "## What is deployed\n\nNothing: no version holds `champion` yet "
            "(`lifecycle train`, then `lifecycle promote`)."
        )
    tags = champion.tags
    lines = [
        f"## What is deployed\n\nVersion **{champion.version}** holds `champion`.",
        "",
        f"- trained on {_span(tags, vocab.TRAIN_START_TAG, vocab.TRAIN_END_TAG)}, holdout "
        f"{_span(tags, vocab.HOLDOUT_START_TAG, vocab.HOLDOUT_END_TAG)}, labels read at "
        f"{tags.get(vocab.CUTOFF_TAG, '?')}",
        f"- code revision `{tags.get(vocab.CODE_REVISION_TAG, '?')}`, contract hash "
        f"`{tags.get(vocab.CONTRACT_HASH_TAG, '?')[:12]}`",
    ]
    shown = [f"{m} {champion.metrics[m]:.3f}" for m in SHOWN_METRICS if m in champion.metrics]
    if shown:
        lines.append("- holdout: " + ", ".join(shown))
    reason = tags.get(f"{vocab.GATE_TAG_PREFIX}reason")
    if reason:
        lines.append(f"- gate ({tags.get(f'{vocab.GATE_TAG_PREFIX}at', '?')}): {reason}")
    if facts.challenger is not None:
        lines.append(f"- version {facts.challenger} waits as `challenger` (`lifecycle promote`)")
    return "\n".join(lines)


def _span(tags: dict[str, str], start: str, end: str) -> str:
    return f"{tags.get(start, '?')} .. {tags.get(end, '?')}"


def _open_risks(facts: HandoffFacts) -> str:
    risks = []
    if facts.unfinished_intents:
        risks.append(
            f"{facts.unfinished_intents} promotion or rollback was interrupted: run "
            "`lifecycle doctor` before anything else"
        )
    window = facts.window
    if window is not None:
        drift = window.get("drift_share")
        if window.get("data_drift_detected"):
            risks.append(
                f"drift in the latest window {window.get('window_id')}: share {drift} of features "
                f"drifted (threshold {window.get('drift_share_threshold')})"
            )
        risks.extend(f"window {window.get('window_id')}: {w}" for w in window.get("warnings", []))
        if window.get("performance_note"):
            risks.append(f"latest performance: {window['performance_note']}")
    if facts.champion is not None:
        caveats = vocab.warnings_from_tag(facts.champion.tags.get(vocab.WARNINGS_TAG)) or ()
        risks.extend(f"champion caveat: {c}" for c in caveats)
    if facts.quarantined:
        risks.append(
            f"{len(facts.quarantined)} batch(es) in quarantine, never trained on: "
            + ", ".join(facts.quarantined)
        )
    risks.extend(f"version {v} is abandoned: {why}" for v, why in facts.abandoned.items())
    body = "\n".join(f"- {r}" for r in risks) if risks else "None recorded."
    return "## Open risks\n\n" + body


def _recent_decisions(records: list[dict[str, Any]]) -> str:
    notable = [r for r in records if r.get("kind") not in ROUTINE_KINDS] or records
    latest = notable[-RECENT_DECISIONS:]
    if not latest:
        return "## Recent decisions\n\nNone yet."
    rows = [
        f"| {r.get('at', '?')[:19]} | {r.get('kind', '?')} | "
        f"{str(r.get('reason', '')).replace('|', '/')[:160]} |"
        for r in reversed(latest)
    ]
    return (
        f"## Recent decisions (latest {len(latest)}, routine ones left out)\n\n"
        "| at (UTC) | decision | reason |\n| --- | --- | --- |\n" + "\n".join(rows)
    )


def _rollback(facts: HandoffFacts) -> str:
    previous = facts.champion.tags.get(vocab.PREVIOUS_CHAMPION_TAG) if facts.champion else None
    if previous is None:
        return "## How to roll back\n\nNothing to roll back to: the champion replaced no version."
    return (
        f'## How to roll back\n\n`lifecycle promote --rollback --reason "..."` moves `champion` '
        f"back to version {previous} (the version it replaced); the running server follows "
        "within its poll interval. The reason goes to the audit log."
    )


def _model_card(client: Any, run_id: str) -> str | None:
    """The card logged with the run, or None for a version registered without one."""
    import tempfile

    from mlflow.exceptions import MlflowException

    from training.registry import MODEL_CARD_ARTIFACT

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, MODEL_CARD_ARTIFACT, tmp)
        except (MlflowException, OSError):
            return None
        return Path(path).read_text(encoding="utf-8")


def _latest_window(folder: Path) -> dict[str, Any] | None:
    summaries = sorted(folder.glob("*/summary.json"))
    if not summaries:
        return None
    try:
        loaded = json.loads(summaries[-1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _demoted(markdown: str) -> str:
    """Headings one level down, so the card nests under the notes' own section."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())
