"""The promotion gate: a pure decision over the numbers of a challenger and the champion.

Both models are scored on the same, most recent labelled holdout before this is called, so the
numbers are comparable. The decision carries its reason and every number it compared, so that
the audit log and the version tags can say exactly why a model was or was not promoted. It also
carries warnings: the challenger's own (e.g. a holdout with few positives) and the gate's (e.g.
a segment guardrail that had nothing to check), because a verdict resting on thin evidence
should say so where it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["promote", "reject"]


class GatePolicy(BaseModel):
    """The promotion gate's section of the settings tree: what it compares and how strictly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Literal["pr_auc", "roc_auc", "recall_at_fpr"] = Field(
        default="pr_auc", description="Holdout metric the challenger must improve."
    )
    margin: float = Field(
        default=0.005, ge=0, description="Challenger must beat the champion by this much."
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


def decide_promotion(
    challenger: Scorecard, champion: Scorecard | None, policy: GatePolicy
) -> PromotionDecision:
    """Decide whether ``challenger`` replaces ``champion``.

    Without a champion the challenger must clear the absolute floors (PR-AUC and ROC-AUC).
    With one, it must beat the champion's ``policy.metric`` by at least ``policy.margin`` and no
    segment with enough positives may lose more than ``policy.segment_max_drop``.

    The decision's warnings are the challenger's, then the gate's own about the segment
    guardrail: that it checked nothing (no segment had ``policy.segment_min_positives`` on both
    sides), or which segments it skipped for that reason.
    """
    if champion is None:
        return _first_model_decision(challenger, policy)

    metric = policy.metric
    new = challenger.metrics.get(metric)
    old = champion.metrics.get(metric)
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
    gain = new - old
    numbers["gain"] = gain
    if gain < policy.margin:
        return _reject(
            challenger,
            champion,
            numbers,
            f"{metric} {new:.4f} does not beat the champion's {old:.4f} by the required "
            f"margin {policy.margin:.4f} (gain {gain:+.4f})",
        )

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
            f"{metric} improves by {gain:+.4f} but segment guardrail breached in "
            f"{', '.join(breached)} (worst: {worst} drops {drops[worst]:.4f} > "
            f"{policy.segment_max_drop:.4f})",
            breached,
            gate_warnings,
        )
    return PromotionDecision(
        verdict="promote",
        reason=(
            f"{metric} {new:.4f} beats the champion's {old:.4f} by {gain:+.4f} "
            f"(margin {policy.margin:.4f}); no segment drops more than "
            f"{policy.segment_max_drop:.4f}"
        ),
        challenger_version=challenger.version,
        champion_version=champion.version,
        numbers=numbers,
        warnings=(*challenger.warnings, *gate_warnings),
    )


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
