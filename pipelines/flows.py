"""Prefect flows that wire the stages: validate, train, promote, roll back.

Flows only orchestrate: each task reads or writes at the edge and calls a pure core from
``features``/``training``. Tasks that talk to storage (files, the MLflow store) retry, because
those failures are often transient (a locked SQLite file, a busy tracking server); pure compute
does not, because it would fail the same way again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from mlflow.exceptions import MlflowException
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sklearn.pipeline import Pipeline

from features import vocabulary as vocab
from features.contract import DatasetContract, load_contract
from features.model_io import UntrustedModelError
from features.validation import BatchOutcome, ValidationGate, batch_date
from pipelines import artifacts
from pipelines.audit import (
    PROMOTE_INTENT,
    RECOVERED_NOTE,
    ROLLBACK_INTENT,
    RegistryState,
    append_decision,
    decision_record,
    intent_log,
    plan_completion,
    promotion_intent,
    read_decisions,
    rollback_intent,
    unfinished_intents,
)
from pipelines.faults import checkpoint, process_gone, this_process
from pipelines.runtime import code_revision
from pipelines.settings import Settings
from training import registry
from training.candidate import (
    Candidate,
    Segments,
    candidate_tags,
    score,
    scorecard,
    segment_dict,
    train_candidate,
)
from training.config import TrainingConfig
from training.evaluate import Metrics, evaluate, evaluate_segments
from training.gate import (
    PromotionDecision,
    decide_promotion,
    gain_interval,
    holdout_interval,
    interval_figures,
)
from training.model_card import (
    DataWindow,
    ModelCardInputs,
    feature_sensitivity,
    render_model_card,
)
from training.split import TimeSplit, to_naive_utc

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
    #: What was cleaned up first from earlier, killed training runs (see `fail_stale_runs`).
    repaired: tuple[str, ...] = ()


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

    def record(_: str, outcome: BatchOutcome) -> None:
        # Each verdict is recorded as soon as its batch is filed, not after the whole run,
        # so a crash mid-run loses no decision already taken.
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
        checkpoint("validate:after_batch")

    return gate.validate_pending(
        paths.raw, paths.validated, paths.quarantine, on_progress=record, publish_docs=publish_docs
    )


@flow(name="validate")
def validate_flow(settings: Settings) -> list[BatchOutcome]:
    """Validate pending raw batches: passing ones move on, failing ones are quarantined."""
    outcomes = validate_pending(settings, contract_of(settings))
    artifacts.validation(outcomes)
    return outcomes


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
    interval = holdout_interval(
        candidate.reference[contract.label_column],
        candidate.reference[contract.score_name],
        settings.promotion,
        target_fpr=config.target_fpr,
    )
    run_tags = {
        **version_tags,
        "batches": ",".join(b.batch for b in lineage),
        "contract_name": contract.name,
        vocab.RUN_PROCESS_TAG: this_process(),
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
        metrics={**candidate.metrics.loggable(), **interval_figures(interval)},
        segments=segment_dict(candidate.segments),
        run_tags=run_tags,
        version_tags=version_tags,
        reference=candidate.reference,
        run_name=f"train-{split.cutoff:%Y%m%d-%H%M}",
        inputs=_run_inputs(split, contract, settings.paths.validated),
        reached=lambda step: checkpoint(f"train:after_{step}"),
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
            metric_interval=interval,
            sensitivity=feature_sensitivity(
                candidate.pipeline,
                candidate.reference,
                contract,
                candidate.threshold,
                threads=config.threads,
            ),
        )
    )
    registry.log_model_card(client, registered.run_id, model_card_text)
    checkpoint("train:after_model_card")
    registry.tag_version(
        client, contract.model_name, registered.version, {vocab.TRAINING_COMPLETE_TAG: "true"}
    )
    checkpoint("train:after_complete_tag")
    registry.set_alias(client, contract.model_name, vocab.CHALLENGER, registered.version)
    checkpoint("train:after_challenger_alias")
    return registered


def _run_inputs(
    split: TimeSplit, contract: DatasetContract, validated: Path
) -> list[registry.RunInput]:
    """The training and holdout rows as MLflow dataset inputs (features and label)."""
    columns = [*contract.features, contract.label_column]
    return [
        registry.RunInput(
            context,
            f"{context} {window[0]}..{window[1]}",
            frame[columns],
            validated,
            contract.label_column,
        )
        for context, frame, window in (
            ("training", split.train, split.train_window),
            ("holdout", split.holdout, split.holdout_window),
        )
    ]


@flow(name="train")
def train_flow(settings: Settings, cutoff: datetime | None = None) -> TrainResult:
    """Train a candidate on validated batches and register it as the challenger.

    ``cutoff`` is "now" for the labels: only rows whose label was known by then are used. It
    defaults to the run's clock (the current UTC time), never to the data's latest time: a
    batch dated in the future must not make every label look mature.
    """
    contract = contract_of(settings)
    repaired = fail_stale_runs(settings)
    cut = to_naive_utc(pd.Timestamp(cutoff) if cutoff is not None else pd.Timestamp.now(tz="UTC"))
    frame, lineage = read_validated(settings.paths.validated, cut)
    candidate = build_candidate(frame, contract, cut, settings.training)
    registered = register_candidate(settings, contract, candidate, lineage)
    split = candidate.split
    result = TrainResult(
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
        repaired=tuple(repaired),
    )
    artifacts.training(result, settings.resolved_tracking_uri)
    return result


# --------------------------------------------------------------------------- promote


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def compare_with_champion(
    settings: Settings, contract: DatasetContract, challenger: str
) -> PromotionDecision:
    """Score challenger and champion on the challenger's (most recent) holdout and decide.

    Both models score the same rows, so the gate gets the paired bootstrap interval of the gain
    (`training.gate.gain_interval`) besides the two scorecards.
    """
    client = registry.connect(settings.resolved_tracking_uri)
    name = contract.model_name
    policy = settings.promotion
    target_fpr = settings.training.target_fpr
    reference = registry.load_reference(client, registry.version_run_id(client, name, challenger))
    try:
        challenger_model = registry.load_pipeline(name, challenger)
    except UntrustedModelError as exc:
        return PromotionDecision(
            verdict="reject",
            reason=str(exc),
            challenger_version=challenger,
            champion_version=registry.alias_version(client, name, vocab.CHAMPION),
            numbers={},
        )
    new_scores, new_metrics, new_segments = _rescored(
        challenger_model, reference, contract, target_fpr
    )
    warnings = registry.version_warnings(client, name, challenger)
    challenger_scores = scorecard(challenger, new_metrics, new_segments, policy.metric, warnings)
    champion = registry.alias_version(client, name, vocab.CHAMPION)
    if champion is None:
        return decide_promotion(challenger_scores, None, policy)
    old_scores, old_metrics, old_segments = _rescored(
        registry.load_pipeline(name, champion), reference, contract, target_fpr
    )
    champion_scores = scorecard(champion, old_metrics, old_segments, policy.metric)
    y_true = reference[contract.label_column].to_numpy()
    gain = gain_interval(y_true, new_scores, old_scores, policy, target_fpr=target_fpr)
    return decide_promotion(challenger_scores, champion_scores, policy, gain)


def _rescored(
    model: Pipeline, reference: pd.DataFrame, contract: DatasetContract, target_fpr: float
) -> tuple[npt.NDArray[np.float64], Metrics, Segments]:
    """A model's scores of a candidate's reference frame, with the figures `rescore` gives."""
    scores = score(model, reference, contract)
    y_true = reference[contract.label_column].to_numpy()
    metrics = evaluate(y_true, scores, contract.costs, target_fpr=target_fpr)
    return scores, metrics, evaluate_segments(reference, scores, contract, metrics.threshold)


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def record_intent(settings: Settings, intent: dict[str, Any]) -> None:
    """Write the intent ahead of any registry change (fsynced), so a crash cannot lose it."""
    append_decision(intent_log(settings.paths.audit_log), intent)


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def complete_intent(settings: Settings, intent: dict[str, Any], note: str | None = None) -> str:
    """Carry out what is left of ``intent`` against the registry as it is now; idempotent.

    Planned afresh on every attempt, so a retry (or a later recovery) redoes only what is
    missing. Returns what was done, in words.
    """
    client = registry.connect(settings.resolved_tracking_uri)
    completion = plan_completion(intent, _registry_state(client, intent), note=note)
    prefix = "promote" if intent["kind"] == PROMOTE_INTENT else "rollback"
    name = intent["model"]
    if completion.set_champion is not None:
        registry.set_alias(client, name, vocab.CHAMPION, completion.set_champion)
        checkpoint(f"{prefix}:after_alias")
    for version, tags in completion.tags.items():
        registry.tag_version(client, name, version, tags)
    version, description = _described(intent)
    registry.describe_version(client, name, version, description)
    checkpoint(f"{prefix}:after_tags")
    if completion.remove_challenger:
        client.delete_registered_model_alias(name, vocab.CHALLENGER)
        checkpoint(f"{prefix}:after_challenger_alias")
    append_decision(settings.paths.audit_log, completion.outcome)
    return completion.describe()


def _described(intent: dict[str, Any]) -> tuple[str, str]:
    """The version an intent is about, and the description it leaves on it in the registry."""
    if intent["kind"] == PROMOTE_INTENT:
        verdict = "promoted" if intent["verdict"] == "promote" else "rejected"
        return intent["challenger_version"], f"Gate {intent['at']}: {verdict}. {intent['reason']}"
    return intent["from_version"], f"Rolled back {intent['at']}: {intent['reason']}"


def apply_decision(
    settings: Settings, contract: DatasetContract, decision: PromotionDecision
) -> None:
    """Apply a gate decision crash-safely: intent, alias (if promoted), tags, aliases, outcome."""
    intent = promotion_intent(contract.model_name, decision.to_dict())
    record_intent(settings, intent)
    checkpoint("promote:after_intent")
    complete_intent(settings, intent)


def repair(settings: Settings) -> list[str]:
    """Finish every interrupted promotion or rollback of the settings' model; what was done.

    An intent in the journal without an outcome in the audit log is completed step by step
    (each step skipped if the registry already shows it) and closed with an outcome record noted
    "completed after an interrupted run". Afterwards the audit log matches the registry. Safe to
    run at any time; an empty list means nothing was left unfinished.
    """
    return [line for _, line in _complete_interrupted(settings)]


def fail_stale_runs(settings: Settings, older_than: timedelta | None = None) -> list[str]:
    """End what killed training runs left behind; what was done, in words.

    A training process killed mid-run leaves its MLflow run RUNNING forever, and maybe a
    registered version without its tags or model card. A RUNNING run whose process is gone
    (same host; see `pipelines.faults.process_gone`), or that started more than ``older_than``
    ago, is marked FAILED. A version its run never completed (no `TRAINING_COMPLETE_TAG`), whose
    process is gone, is tagged `ABANDONED_TAG` with the reason, so it is never promoted. Runs on
    every `train` and `promote`; `lifecycle doctor` also applies the age limit.
    """
    client = registry.connect(settings.resolved_tracking_uri)
    contract = contract_of(settings)
    experiment = client.get_experiment_by_name(contract.experiment_name)
    if experiment is None:
        return []
    limit_ms = None if older_than is None else (datetime.now(UTC) - older_than).timestamp() * 1000
    done = []
    for run in client.search_runs(
        [experiment.experiment_id], filter_string="attributes.status = 'RUNNING'"
    ):
        identity = run.data.tags.get(vocab.RUN_PROCESS_TAG, "")
        if process_gone(identity):
            why = f"its process {identity} is gone"
        elif limit_ms is not None and (run.info.start_time or 0) < limit_ms:
            why = f"started more than {older_than} ago"
        else:
            continue
        client.set_terminated(run.info.run_id, status="FAILED")
        done.append(f"MLflow run {run.info.run_id} was left RUNNING ({why}): marked FAILED")
    return done + _abandon_incomplete_versions(client, contract.model_name)


def _abandon_incomplete_versions(client: Any, name: str) -> list[str]:
    """Tag the versions that killed training runs left incomplete; what was done."""
    done = []
    for model_version in client.search_model_versions(f"name = '{name}'"):
        tags = model_version.tags or {}
        if vocab.TRAINING_COMPLETE_TAG in tags or vocab.ABANDONED_TAG in tags:
            continue
        try:
            run = client.get_run(model_version.run_id)
        except MlflowException:  # no run, or a deleted one: registered by other means
            continue
        identity = run.data.tags.get(vocab.RUN_PROCESS_TAG)
        if identity is None:  # registered by other means: not ours to judge
            continue
        if run.info.status == "RUNNING" or not (
            run.info.status == "FAILED" or process_gone(identity)
        ):
            continue
        reason = (
            f"its training run {run.info.run_id} was interrupted before the version was "
            "complete (no model card or tags): train again"
        )
        registry.tag_version(client, name, model_version.version, {vocab.ABANDONED_TAG: reason})
        done.append(f"version {model_version.version} of '{name}' marked abandoned: {reason}")
    return done


def _complete_interrupted(settings: Settings) -> list[tuple[dict[str, Any], str]]:
    """Complete the unfinished intents, oldest first; each with what was done."""
    audit_log = settings.paths.audit_log
    pending = unfinished_intents(
        read_decisions(intent_log(audit_log)),
        read_decisions(audit_log),
        contract_of(settings).model_name,
    )
    done = []
    for intent in pending:
        line = complete_intent.fn(settings, dict(intent), note=RECOVERED_NOTE)
        done.append((dict(intent), line))
    return done


def _registry_state(client: Any, intent: dict[str, Any]) -> RegistryState:
    """The model's aliases and the tags of the versions ``intent`` names."""
    name = intent["model"]
    named = (
        intent.get("challenger_version"),
        intent.get("champion_version"),
        intent.get("from_version"),
        intent.get("to_version"),
    )
    return RegistryState(
        champion=registry.alias_version(client, name, vocab.CHAMPION),
        challenger=registry.alias_version(client, name, vocab.CHALLENGER),
        tags={v: registry.version_tags(client, name, v) for v in named if v is not None},
    )


@flow(name="promote")
def promote_flow(settings: Settings, version: str | None = None) -> PromotionDecision:
    """Run the promotion gate on ``version`` (default: the version holding ``challenger``).

    An interrupted promotion or rollback is finished first. If that was the promotion this
    command was asked for (no ``version``, or the same one), its decision is returned as is.
    """
    logger = get_run_logger()
    for line in fail_stale_runs(settings):
        logger.warning(line)
    recovered = _complete_interrupted(settings)
    for _, line in recovered:
        logger.warning(line)
    promotions = [intent for intent, _ in recovered if intent["kind"] == PROMOTE_INTENT]
    if promotions and version in (None, promotions[-1]["challenger_version"]):
        recovered_decision = _decision_of(promotions[-1])
        artifacts.promotion(recovered_decision)
        return recovered_decision
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
    abandoned = registry.version_tags(client, name, challenger).get(vocab.ABANDONED_TAG)
    if abandoned is not None:
        raise PipelineError(f"version {challenger} cannot be promoted: {abandoned}")
    decision = compare_with_champion(settings, contract, challenger)
    apply_decision(settings, contract, decision)
    artifacts.promotion(decision)
    return decision


def _decision_of(intent: dict[str, Any]) -> PromotionDecision:
    """The gate decision a promote intent carries (as recorded, numbers included)."""
    return PromotionDecision(
        verdict=intent["verdict"],
        reason=intent["reason"],
        challenger_version=intent["challenger_version"],
        champion_version=intent["champion_version"],
        numbers=dict(intent["numbers"]),
        breached_segments=tuple(intent["breached_segments"]),
        warnings=tuple(intent["warnings"]),
    )


@dataclass(frozen=True)
class RollbackResult:
    """Which version lost the champion alias and which got it back."""

    from_version: str
    to_version: str
    reason: str


@flow(name="rollback")
def rollback_flow(settings: Settings, reason: str) -> RollbackResult:
    """Move ``champion`` back to the version it replaced, and record why.

    An interrupted promotion or rollback is finished first; if that was a rollback, it is the
    result (a re-run after a crash does not roll back a second step).
    """
    logger = get_run_logger()
    recovered = _complete_interrupted(settings)
    for _, line in recovered:
        logger.warning(line)
    rollbacks = [intent for intent, _ in recovered if intent["kind"] == ROLLBACK_INTENT]
    if rollbacks:
        last = rollbacks[-1]
        return RollbackResult(last["from_version"], last["to_version"], last["reason"])
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
    intent = rollback_intent(name, current, previous, reason)
    record_intent(settings, intent)
    checkpoint("rollback:after_intent")
    complete_intent(settings, intent)
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
