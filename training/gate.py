"""The promotion gate: a pure decision over the numbers of a challenger and the champion.

Both models are scored on the same, most recent labelled holdout before this is called, so the
numbers are comparable. A holdout of a few thousand rows with a few dozen positives measures
PR-AUC only to within a few hundredths, so the gain of one model over the other is judged with
its noise: a paired bootstrap of the gain on that holdout (`gain_interval`) gives an interval,
and the challenger is promoted only when the interval's lower bound clears the margin.

The decision carries its reason and every number it compared, so that the audit log and the
version tags can say exactly why a model was or was not promoted. It also carries warnings: the
challenger's own (e.g. a holdout with few positives) and the gate's (e.g. a segment guardrail
that had nothing to check), because a verdict resting on thin evidence should say so where it
is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from training.evaluate import BootstrapInterval, bootstrap_interval, paired_bootstrap_interval

Verdict = Literal["promote", "reject"]


class GatePolicy(BaseModel):
    """The promotion gate's section of the settings tree: what it compares and how strictly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Literal["pr_auc", "roc_auc", "recall_at_fpr"] = Field(
        default="pr_auc", description="Holdout metric the challenger must improve."
    )
    margin: float = Field(
        default=0.005,
        ge=0,
        description=(
            "The lower bound of the interval of the challenger's gain over the champion must "
            "exceed this."
        ),
    )
    bootstrap_resamples: int = Field(
        default=2000,
        ge=100,
        le=100_000,
        description=(
            "Paired bootstrap resamples of the holdout behind the interval of the gain "
            "(2000 take a few tenths of a second on 5,000 rows)."
        ),
    )
    bootstrap_confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description=(
            "Two-sided confidence of the interval of the gain; only its lower bound is "
            "compared, so a model no better than the champion clears a margin of 0 in about "
            "(1 - confidence) / 2 of comparisons."
        ),
    )
    bootstrap_seed: int = Field(
        default=0, ge=0, description="Seed of the resamples: the same inputs, the same verdict."
    )
    segment_max_drop: float = Field(
        default=0.10, ge=0, description="Largest allowed per-segment drop vs the champion."
    )
    segment_min_positives: int = Field(
        default=15,
        ge=1,
        description=(
            "Segments with fewer positives (on either side) are not guarded, and are marked "
            "unreliable in the model card."
        ),
    )
    floor_pr_auc: float = Field(default=0.25, ge=0, le=1, description="First model's PR-AUC floor.")
    floor_roc_auc: float = Field(
        default=0.75, ge=0, le=1, description="First model's ROC-AUC floor."
    )


@dataclass(frozen=True)
class SegmentScore:
    """One segment's figure for the guarded metric, and how many positives back it."""

    value: float | None
    n_positives: int


@dataclass(frozen=True)
class Scorecard:
    """A model version's holdout figures: overall metrics and the guarded metric per segment.

    ``segments`` is keyed by ``"<column>=<value>"`` (e.g. ``"channel=online"``).
    ``n_positives`` counts the holdout's positives overall (None when unknown). ``warnings``
    are the caveats its training run recorded (`training.candidate.Candidate.warnings`).
    """

    version: str
    metrics: Mapping[str, float | None]
    segments: Mapping[str, SegmentScore] = field(default_factory=dict)
    n_positives: int | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromotionDecision:
    """What the gate decided, why, and the numbers it compared."""

    verdict: Verdict
    reason: str
    challenger_version: str
    champion_version: str | None
    numbers: dict[str, object]
    breached_segments: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def promoted(self) -> bool:
        """True when the challenger should become champion."""
        return self.verdict == "promote"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for the audit log (tuples as lists)."""
        data = asdict(self)
        data["breached_segments"] = list(self.breached_segments)
        data["warnings"] = list(self.warnings)
        return data


def gain_interval(
    y_true: npt.ArrayLike,
    challenger_scores: npt.ArrayLike,
    champion_scores: npt.ArrayLike,
    policy: GatePolicy,
    *,
    target_fpr: float,
) -> BootstrapInterval | None:
    """The paired bootstrap interval of the challenger's ``policy.metric`` minus the champion's.

    Both score arrays are the two models' scores of the same holdout rows (``y_true``, 0/1).
    Resamples, confidence and seed are the policy's; ``target_fpr`` (the training section's)
    is only read when the metric is ``recall_at_fpr``. None when the labels hold a single
    class: the metric, and so its gain, is undefined.

    Raises:
        training.evaluate.EvaluationError: labels or scores that cannot be evaluated.
    """
    if _single_class(y_true):
        return None
    return paired_bootstrap_interval(
        y_true,
        challenger_scores,
        champion_scores,
        policy.metric,
        resamples=policy.bootstrap_resamples,
        confidence=policy.bootstrap_confidence,
        seed=policy.bootstrap_seed,
        target_fpr=target_fpr,
    )


def holdout_interval(
    y_true: npt.ArrayLike, scores: npt.ArrayLike, policy: GatePolicy, *, target_fpr: float
) -> BootstrapInterval | None:
    """One model's ``policy.metric`` on its holdout with the bootstrap interval the gate would use.

    For the model card, written at training time: the same resamples, confidence and seed as
    `gain_interval`. None when the labels hold a single class.
    """
    if _single_class(y_true):
        return None
    return bootstrap_interval(
        y_true,
        scores,
        policy.metric,
        resamples=policy.bootstrap_resamples,
        confidence=policy.bootstrap_confidence,
        seed=policy.bootstrap_seed,
        target_fpr=target_fpr,
    )


def interval_figures(interval: BootstrapInterval | None) -> dict[str, float]:
    """A holdout interval as run metrics: ``<metric>_interval_low`` and ``<metric>_interval_high``.

    Logged with the training figures, so that monitoring can judge a version against the low
    end of what its holdout supports. Empty for None (a single-class holdout).
    """
    if interval is None:
        return {}
    return {
        f"{interval.metric}_interval_low": interval.low,
        f"{interval.metric}_interval_high": interval.high,
    }


def decide_promotion(
    challenger: Scorecard,
    champion: Scorecard | None,
    policy: GatePolicy,
    gain: BootstrapInterval | None = None,
) -> PromotionDecision:
    """Decide whether ``challenger`` replaces ``champion``.

    Without a champion the challenger must clear the absolute floors (PR-AUC and ROC-AUC), and
    ``gain`` is not read. With one, ``gain`` is the interval of the challenger's
    ``policy.metric`` minus the champion's on the same holdout (`gain_interval`): its lower
    bound must exceed ``policy.margin`` (strictly, so a model identical to the champion is never
    promoted, even with a margin of 0), and no segment with enough positives may lose more than
    ``policy.segment_max_drop``. Without an interval the challenger is rejected: a point gain
    alone cannot be told from noise. The interval goes into the decision's numbers as
    ``gain_interval``.

    The decision's warnings are the challenger's, then the gate's own about the segment
    guardrail: that it checked nothing (no segment had ``policy.segment_min_positives`` on both
    sides), or which segments it skipped for that reason.

    Raises:
        ValueError: ``gain`` is the interval of another metric, or of another gain than the
            scorecards' (it was computed on other scores).
    """
    if champion is None:
        return _first_model_decision(challenger, policy)
    metric = policy.metric
    new, old = challenger.metrics.get(metric), champion.metrics.get(metric)
    numbers: dict[str, object] = {
        "metric": metric,
        "challenger": new,
        "champion": old,
        "margin": policy.margin,
    }
    if challenger.n_positives is not None:
        numbers["holdout_positives"] = challenger.n_positives
    if new is None:
        return _reject(challenger, champion, numbers, f"challenger has no {metric} on the holdout")
    if old is None:
        return _reject(challenger, champion, numbers, f"champion has no {metric} on the holdout")
    numbers["gain"] = new - old
    if gain is None:
        return _reject(
            challenger,
            champion,
            numbers,
            f"{metric} gain {new - old:+.4f} has no interval (no paired scores of the holdout): "
            "the gate cannot tell it from noise",
        )
    _check_interval(gain, metric, new - old)
    numbers["gain_interval"] = gain.to_dict()
    stated = f"{metric} gain {gain.describe(signed=True)}"
    if not gain.low > policy.margin:
        return _reject(
            challenger,
            champion,
            numbers,
            f"{stated} does not clear the margin {policy.margin:.4f} (challenger {new:.4f}, "
            f"champion {old:.4f})",
        )
    return _guarded_decision(challenger, champion, policy, numbers, stated)


def segment_drops(
    challenger: Scorecard, champion: Scorecard, min_positives: int
) -> dict[str, float]:
    """Champion-minus-challenger per guarded segment (positive = the challenger is worse).

    A segment is guarded when both sides have a value and at least ``min_positives`` positives;
    smaller segments are too noisy to block a promotion on.
    """
    drops: dict[str, float] = {}
    for name, new in challenger.segments.items():
        old = champion.segments.get(name)
        if old is None or new.value is None or old.value is None:
            continue
        if min(new.n_positives, old.n_positives) < min_positives:
            continue
        drops[name] = round(old.value - new.value, 6)
    return drops


def guardrail_warnings(
    challenger: Scorecard, champion: Scorecard, drops: Mapping[str, float], min_positives: int
) -> tuple[str, ...]:
    """What the segment guardrail could not check, given the ``drops`` it computed.

    Empty when the challenger has no segment (the contract declares none) or every segment was
    guarded.
    """
    skipped = [name for name in challenger.segments if name not in drops]
    if not skipped:
        return ()
    if not drops:
        return (
            f"the segment guardrail checked nothing: no segment has >= {min_positives} "
            "positives on both sides",
        )
    listed = ", ".join(
        f"{name} ({_positives(challenger, name)}/{_positives(champion, name)})" for name in skipped
    )
    return (
        f"the segment guardrail skipped {len(skipped)} of {len(challenger.segments)} segments "
        f"with fewer than {min_positives} positives (or no figure) on a side (challenger/"
        f"champion positives): {listed}",
    )


def _guarded_decision(
    challenger: Scorecard,
    champion: Scorecard,
    policy: GatePolicy,
    numbers: dict[str, object],
    stated: str,
) -> PromotionDecision:
    """The verdict for a challenger whose gain cleared the margin: the segment guardrail's."""
    drops = segment_drops(challenger, champion, policy.segment_min_positives)
    numbers["segment_drops"] = drops
    numbers["segment_max_drop"] = policy.segment_max_drop
    gate_warnings = guardrail_warnings(challenger, champion, drops, policy.segment_min_positives)
    breached = tuple(sorted(s for s, drop in drops.items() if drop > policy.segment_max_drop))
    if breached:
        worst = max(breached, key=lambda s: drops[s])
        return _reject(
            challenger,
            champion,
            numbers,
            f"{stated} clears the margin {policy.margin:.4f}, but the segment guardrail is "
            f"breached in {', '.join(breached)} (worst: {worst} drops {drops[worst]:.4f} > "
            f"{policy.segment_max_drop:.4f})",
            breached,
            gate_warnings,
        )
    new, old = numbers["challenger"], numbers["champion"]
    return PromotionDecision(
        verdict="promote",
        reason=(
            f"{policy.metric} {new:.4f} beats the champion's {old:.4f}: {stated} clears the "
            f"margin {policy.margin:.4f}; no segment drops more than "
            f"{policy.segment_max_drop:.4f}"
        ),
        challenger_version=challenger.version,
        champion_version=champion.version,
        numbers=numbers,
        warnings=(*challenger.warnings, *gate_warnings),
    )


def _check_interval(gain: BootstrapInterval, metric: str, point: float) -> None:
    """The interval must be of the scorecards' gain: the same metric, the same point figure."""
    if gain.metric != metric:
        raise ValueError(f"the interval is of {gain.metric}, but the gate compares {metric}")
    if abs(gain.estimate - point) > 1e-6:
        raise ValueError(
            f"the interval's gain {gain.estimate:+.6f} is not the scorecards' {point:+.6f}: it "
            "was computed on other scores than the ones compared"
        )


def _single_class(y_true: npt.ArrayLike) -> bool:
    y = np.asarray(y_true)
    return len(y) == 0 or bool((y == y[0]).all())


def _positives(scores: Scorecard, name: str) -> str:
    score = scores.segments.get(name)
    return "-" if score is None else str(score.n_positives)


def _first_model_decision(challenger: Scorecard, policy: GatePolicy) -> PromotionDecision:
    pr_auc = _rounded(challenger.metrics.get("pr_auc"))
    roc_auc = _rounded(challenger.metrics.get("roc_auc"))
    numbers: dict[str, object] = {
        "pr_auc": pr_auc,
        "roc_auc": roc_auc,
        "floor_pr_auc": policy.floor_pr_auc,
        "floor_roc_auc": policy.floor_roc_auc,
    }
    if challenger.n_positives is not None:
        numbers["holdout_positives"] = challenger.n_positives
    shortfalls = [
        f"{name} {value} < floor {floor}"
        for name, value, floor in (
            ("pr_auc", pr_auc, policy.floor_pr_auc),
            ("roc_auc", roc_auc, policy.floor_roc_auc),
        )
        if value is None or value < floor
    ]
    if shortfalls:
        return _reject(
            challenger,
            None,
            numbers,
            "first model fails the absolute floor: " + "; ".join(shortfalls),
        )
    return PromotionDecision(
        verdict="promote",
        reason=(
            f"no champion yet; pr_auc {pr_auc} >= {policy.floor_pr_auc} and roc_auc "
            f"{roc_auc} >= {policy.floor_roc_auc} clear the absolute floor"
        ),
        challenger_version=challenger.version,
        champion_version=None,
        numbers=numbers,
        warnings=challenger.warnings,
    )


def _reject(
    challenger: Scorecard,
    champion: Scorecard | None,
    numbers: dict[str, object],
    reason: str,
    breached: tuple[str, ...] = (),
    gate_warnings: tuple[str, ...] = (),
) -> PromotionDecision:
    return PromotionDecision(
        verdict="reject",
        reason=reason,
        challenger_version=challenger.version,
        champion_version=champion.version if champion else None,
        numbers=numbers,
        breached_segments=breached,
        warnings=(*challenger.warnings, *gate_warnings),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
