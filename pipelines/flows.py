"""Prefect flows that wire the stages: validate, train, promote, roll back.

Flows only orchestrate: each task reads or writes at the edge and calls a pure core from
``features``/``training``. Tasks that talk to storage (files, the MLflow store) retry, because
those failures are often transient (a locked SQLite file, a busy tracking server); pure compute
does not, because it would fail the same way again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from features import vocabulary as vocab
from features.contract import DatasetContract, load_contract
from features.validation import BatchOutcome, ValidationGate, batch_date
from pipelines.audit import append_decision, decision_record
from pipelines.runtime import code_revision
from pipelines.settings import Settings
from training import registry
from training.candidate import (
    Candidate,
    candidate_tags,
    rescore,
    scorecard,
    segment_dict,
    train_candidate,
)
from training.config import TrainingConfig
from training.gate import PromotionDecision, decide_promotion
from training.model_card import DataWindow, ModelCardInputs, render_model_card

STORAGE_RETRIES = 2


class PipelineError(RuntimeError):
    """A flow cannot go on; the message says what is missing and what to run first."""


@dataclass(frozen=True)
class BatchLineage:
    """One validated batch a model was trained from."""

    batch: str
    sha256: str


@dataclass(frozen=True)
class TrainResult:
    """What the train flow registered."""

    model_name: str
    version: str
    run_id: str
    metrics: dict[str, Any]
    threshold: float
    train_window: tuple[str, str]
    holdout_window: tuple[str, str]
    cutoff: str
    batches: list[BatchLineage] = field(default_factory=list)
    warnings: tuple[str, ...] = ()


def contract_of(settings: Settings) -> DatasetContract:
    """The dataset contract the settings point at (loaded and checked)."""
    return load_contract(settings.contract)


# --------------------------------------------------------------------------- validate


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def validate_pending(
    settings: Settings,
    contract: DatasetContract,
    gate: ValidationGate | None = None,
    publish_docs: bool = True,
) -> list[BatchOutcome]:
    """Run the gate over every raw batch not yet checked; record each verdict.

    Pass a ``gate`` to reuse its opened context across calls (one batch a day).
    """
    paths = settings.paths
    gate = gate or ValidationGate(paths.gx, contract)
    outcomes = gate.validate_pending(
        paths.raw, paths.validated, paths.quarantine, publish_docs=publish_docs
    )
    for outcome in outcomes:
        failures = [
            f"{f.expectation_type}({f.column or 'table'}): {f.reason}" for f in outcome.failures
        ]
        append_decision(
            paths.audit_log,
            decision_record(
                "batch_passed" if outcome.success else "batch_blocked",
                "all expectations met"
                if outcome.success
                else f"{len(failures)} expectation(s) failed: " + "; ".join(failures),
                subject={"batch": outcome.batch_id, "sha256": outcome.sha256},
                numbers={"failed_expectations": len(failures)},
            ),
        )
    return outcomes


@flow(name="validate")
def validate_flow(settings: Settings) -> list[BatchOutcome]:
    """Validate pending raw batches: passing ones move on, failing ones are quarantined."""
    return validate_pending(settings, contract_of(settings))


# --------------------------------------------------------------------------- train


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def read_validated(
    folder: Path, cutoff: pd.Timestamp | None
) -> tuple[pd.DataFrame, list[BatchLineage]]:
    """All validated batches dated on or before the cutoff, with their content hashes."""
    files = sorted(folder.glob("*.parquet"))
    if cutoff is not None:
        files = [f for f in files if pd.Timestamp(batch_date(f.stem)) <= cutoff.normalize()]
    if not files:
        raise PipelineError(
            f"no validated batches in {folder}"
            + (f" up to {cutoff.date()}" if cutoff is not None else "")
            + ": bring data in with `lifecycle ingest` (or `lifecycle generate`), then run "
            "`lifecycle validate`"
        )
    frames = [pd.read_parquet(f) for f in files]
    lineage = [BatchLineage(f.stem, _sha256(f)) for f in files]
    return pd.concat(frames, ignore_index=True), lineage


@task(cache_policy=NO_CACHE)
def build_candidate(
    frame: pd.DataFrame, contract: DatasetContract, cutoff: pd.Timestamp, config: TrainingConfig
) -> Candidate:
    """Split, check for leakage, fit and evaluate (pure; no retry)."""
    return train_candidate(frame, contract, cutoff, config)


@task(retries=STORAGE_RETRIES, retry_delay_seconds=2, cache_policy=NO_CACHE)
def register_candidate(
    settings: Settings,
    contract: DatasetContract,
    candidate: Candidate,
    lineage: list[BatchLineage],
) -> registry.RegisteredVersion:
    """Log the run, register the version, attach its model card, give it the challenger alias."""
    client = registry.connect(settings.resolved_tracking_uri)
    experiment_id = registry.ensure_experiment(
        client, contract.experiment_name, _artifact_root(settings)
    )
    config = settings.training
    split = candidate.split
    revision = code_revision()
    version_tags = candidate_tags(candidate, contract, revision)
    run_tags = {
        **version_tags,
        "batches": ",".join(b.batch for b in lineage),
        "contract_name": contract.name,
    }
    params = {
        **{f"model.{k}": v for k, v in contract.model.to_dict().items()},
        **{f"training.{k}": v for k, v in config.model_dump().items()},
        "holdout_days_used": split.holdout_days,
        "n_train_rows": len(split.train),
        "n_holdout_rows": len(split.holdout),
        "features": list(contract.features),
    }
    registered = registry.log_training_run(
        client,
        experiment_id=experiment_id,
        model_name=contract.model_name,
        pipeline=candidate.pipeline,
        features=split.train[list(contract.features)],
        params=params,
        metrics=candidate.metrics.loggable(),
        segments=segment_dict(candidate.segments),
        run_tags=run_tags,
        version_tags=version_tags,
        reference=candidate.reference,
    )
    client.log_dict(
        registered.run_id,
        {
            "batches": [vars(b) for b in lineage],
            "contract_hash": contract.content_hash(),
            "code_revision": revision,
        },
        "lineage.json",
    )
    model_card_text = render_model_card(
        ModelCardInputs(
            model_name=contract.model_name,
            version=registered.version,
            created_at=datetime.now(UTC),
            contract=contract,
            data=DataWindow.from_split(split, contract),
            batches={b.batch: b.sha256 for b in lineage},
            code_revision=revision,
            metrics=candidate.metrics,
            segments=candidate.segments,
            leakage_checks=candidate.leakage_checks,
            warnings=candidate.warnings,
            min_segment_positives=settings.promotion.segment_min_positives,
        )
    )
    registry.log_model_card(client, registered.run_id, model_card_text)
    registry.set_alias(client, contract.model_name, vocab.CHALLENGER, registered.version)
    return registered


@flow(name="train")
def train_flow(settings: Settings, cutoff: datetime | None = None) -> TrainResult:
    """Train a candidate on validated batches and register it as the challenger.

    ``cutoff`` is "now" for the labels: only rows whose label was known by then are used. It
    defaults to the end of the last validated day.
    """
    contract = contract_of(settings)
    cut = pd.Timestamp(cutoff) if cutoff is not None else None
    frame, lineage = read_validated(settings.paths.validated, cut)
    if cut is None:
        cut = pd.Timestamp(frame[contract.event_time_column].max()).ceil("D")
    candidate = build_candidate(frame, contract, cut, settings.training)
    registered = register_candidate(settings, contract, candidate, lineage)
    split = candidate.split
    return TrainResult(
        model_name=registered.name,
        version=registered.version,
        run_id=registered.run_id,
        metrics=candidate.metrics.figures(),
        threshold=candidate.threshold,
        train_window=(str(split.train_window[0]), str(split.train_window[1])),
        holdout_window=(str(split.holdout_window[0]), str(split.holdout_window[1])),
        cutoff=cut.isoformat(),
        batches=lineage,
        warnings=candidate.warnings,
    )


# --------------------------------------------------------------------------- promote


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def compare_with_champion(
    settings: Settings, contract: DatasetContract, challenger: str
) -> PromotionDecision:
    """Score challenger and champion on the challenger's (most recent) holdout and decide."""
    client = registry.connect(settings.resolved_tracking_uri)
    name = contract.model_name
    policy = settings.promotion
    target_fpr = settings.training.target_fpr
    reference = registry.load_reference(client, registry.version_run_id(client, name, challenger))
    new_metrics, new_segments = rescore(
        registry.load_pipeline(name, challenger), reference, contract, target_fpr=target_fpr
    )
    warnings = registry.version_warnings(client, name, challenger)
    challenger_scores = scorecard(challenger, new_metrics, new_segments, policy.metric, warnings)
    champion = registry.alias_version(client, name, vocab.CHAMPION)
    champion_scores = None
    if champion is not None:
        old_metrics, old_segments = rescore(
            registry.load_pipeline(name, champion), reference, contract, target_fpr=target_fpr
        )
        champion_scores = scorecard(champion, old_metrics, old_segments, policy.metric)
    return decide_promotion(challenger_scores, champion_scores, policy)


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def apply_decision(
    settings: Settings, contract: DatasetContract, decision: PromotionDecision
) -> None:
    """Move the champion alias when promoted; record the decision in the log and as tags."""
    client = registry.connect(settings.resolved_tracking_uri)
    name = contract.model_name
    at = datetime.now(UTC)
    gate = vocab.GATE_TAG_PREFIX
    if decision.promoted:
        registry.set_alias(client, name, vocab.CHAMPION, decision.challenger_version)
        if decision.champion_version is not None:
            registry.tag_version(
                client,
                name,
                decision.challenger_version,
                {vocab.PREVIOUS_CHAMPION_TAG: decision.champion_version},
            )
            registry.tag_version(
                client,
                name,
                decision.champion_version,
                {vocab.REPLACED_BY_TAG: decision.challenger_version},
            )
    registry.tag_version(
        client,
        name,
        decision.challenger_version,
        {
            f"{gate}verdict": decision.verdict,
            f"{gate}reason": decision.reason,
            f"{gate}compared_with": decision.champion_version or "none",
            f"{gate}numbers": decision.numbers,
            f"{gate}warnings": list(decision.warnings),
            f"{gate}at": at.isoformat(),
        },
    )
    if registry.alias_version(client, name, vocab.CHALLENGER) == decision.challenger_version:
        client.delete_registered_model_alias(name, vocab.CHALLENGER)
    append_decision(
        settings.paths.audit_log,
        decision_record(
            decision.verdict,
            decision.reason,
            subject={
                "model": name,
                "challenger_version": decision.challenger_version,
                "champion_version": decision.champion_version,
                "champion_after": decision.challenger_version
                if decision.promoted
                else decision.champion_version,
                "warnings": list(decision.warnings),
            },
            numbers=decision.numbers,
            at=at,
        ),
    )


@flow(name="promote")
def promote_flow(settings: Settings, version: str | None = None) -> PromotionDecision:
    """Run the promotion gate on ``version`` (default: the version holding ``challenger``)."""
    contract = contract_of(settings)
    name = contract.model_name
    client = registry.connect(settings.resolved_tracking_uri)
    challenger = version or registry.alias_version(client, name, vocab.CHALLENGER)
    if challenger is None:
        raise PipelineError(
            f"model '{name}' has no '{vocab.CHALLENGER}' version waiting: "
            "run `lifecycle train` first, or pass --version"
        )
    if challenger == registry.alias_version(client, name, vocab.CHAMPION):
        raise PipelineError(f"version {challenger} is already the champion")
    decision = compare_with_champion(settings, contract, challenger)
    apply_decision(settings, contract, decision)
    return decision


@dataclass(frozen=True)
class RollbackResult:
    """Which version lost the champion alias and which got it back."""

    from_version: str
    to_version: str
    reason: str


@flow(name="rollback")
def rollback_flow(settings: Settings, reason: str) -> RollbackResult:
    """Move ``champion`` back to the version it replaced, and record why."""
    client = registry.connect(settings.resolved_tracking_uri)
    name = contract_of(settings).model_name
    current = registry.alias_version(client, name, vocab.CHAMPION)
    if current is None:
        raise PipelineError(f"model '{name}' has no champion to roll back")
    previous = registry.version_tags(client, name, current).get(vocab.PREVIOUS_CHAMPION_TAG)
    if not previous:
        raise PipelineError(
            f"champion version {current} of '{name}' replaced no earlier champion: "
            "there is nothing to roll back to"
        )
    registry.set_alias(client, name, vocab.CHAMPION, previous)
    at = datetime.now(UTC)
    registry.tag_version(
        client, name, current, {"rolled_back": "true", "rollback.reason": reason, "rollback.at": at}
    )
    append_decision(
        settings.paths.audit_log,
        decision_record(
            "rollback",
            reason,
            subject={"model": name, "from_version": current, "to_version": previous},
            at=at,
        ),
    )
    return RollbackResult(from_version=current, to_version=previous, reason=reason)


def _artifact_root(settings: Settings) -> Path | None:
    """Local artifact root only for the embedded SQLite store; a server chooses its own."""
    return settings.paths.mlflow_artifacts if settings.tracking_uri is None else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
