"""When to retrain: a pure function of the window summaries, the policy and the last retrain.

Rules, in the order a person would check them:

1. **Drift**: the last ``drift_windows_to_retrain`` windows *after the last retrain* were all
   flagged (``data_drift_detected``: the monitoring stage decided it once, with its drift-share
   threshold). Windows up to and including the retrain window were compared with the previous
   model's reference, so they do not count for the new one.
2. **Performance**: on the latest window, ``pr_auc_drop > performance_drop_to_retrain``,
   provided the window's performance was evaluated at all (monitoring skips it when too few
   positive labels had matured; the rule is then skipped and the reason gives the window's
   note).
3. **Cool-down**: while the latest window is at most ``cooldown_windows`` windows after the
   last retrain window (the retrain window itself included), the verdict is "hold" whatever the
   rules say; the reason names what was held back and how many windows remain.

No I/O, no clock: the same history gives the same decision, so decisions can be replayed and
tested. Window ids sort chronologically (ISO dates), which is how "after" is decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from monitoring.errors import MonitoringInputError
from monitoring.summary import WindowSummary

Verdict = Literal["retrain", "hold"]
Trigger = Literal["drift", "performance"]
Number = bool | float | int | str | None


class RetrainPolicy(BaseModel):
    """Thresholds of the retraining rules: the ``retraining`` section of the settings tree.

    Each default is defined here and nowhere else. What counts as a drifted window and how many
    labels a performance figure needs belong to the monitoring section (``MonitoringConfig``):
    the policy reads the verdicts the window summaries carry.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    drift_windows_to_retrain: int = Field(
        default=2, ge=1, description="Consecutive drifted windows that trigger a retrain (k)."
    )
    performance_drop_to_retrain: float = Field(
        default=0.10, gt=0, description="PR-AUC drop (reference - window) that triggers one."
    )
    cooldown_windows: int = Field(
        default=5, ge=0, description="Windows after a retrain during which none starts."
    )


class RetrainDecision(BaseModel):
    """The verdict, the sentence that explains it, and every number it was based on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Verdict
    reason: str
    trigger: Trigger | None
    numbers: dict[str, Number]
    in_cooldown: bool
    window_id: str | None = Field(description="Latest window decided on (None: no window).")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for the decision audit log."""
        return self.model_dump(mode="json")


def _check_order(history: Sequence[WindowSummary]) -> None:
    ids = [s.window_id for s in history]
    for earlier, later in pairwise(ids):
        if later <= earlier:
            raise MonitoringInputError(
                f"history must be ordered oldest first with distinct windows; "
                f"'{later}' follows '{earlier}'"
            )


def _drift_rule(
    windows: Sequence[WindowSummary], policy: RetrainPolicy, since: str
) -> tuple[bool, str, int]:
    """(fires, sentence, streak) for the windows after the last retrain."""
    k = policy.drift_windows_to_retrain
    streak = 0
    for summary in reversed(windows):
        if not summary.data_drift_detected:
            break
        streak += 1
    if streak >= k:
        ids = ", ".join(s.window_id for s in windows[-k:])
        return True, f"data drift in each of the last {k} windows ({ids})", streak
    if len(windows) < k:
        return (
            False,
            f"only {len(windows)} window(s) since {since}, {k} consecutive drifted windows "
            "are needed",
            streak,
        )
    latest = windows[-1]
    return (
        False,
        f"{streak} consecutive drifted window(s) of the {k} needed (latest drift share "
        f"{latest.drift_share:.2f}, threshold {latest.drift_share_threshold:.2f})",
        streak,
    )


def _performance_rule(latest: WindowSummary, policy: RetrainPolicy) -> tuple[bool | None, str]:
    """(fires, sentence); fires is None when the rule had to be skipped."""
    performance = latest.performance
    if performance is None:
        return None, f"performance rule skipped: {latest.performance_note.rstrip('.')}"
    drop = performance.pr_auc_drop
    if drop is None or performance.reference_pr_auc is None:
        return None, "performance rule skipped: no reference PR-AUC to compare with"
    allowed = policy.performance_drop_to_retrain
    if drop > allowed:
        return True, (
            f"PR-AUC on {performance.n_labelled} matured labels ({performance.n_positives} "
            f"positives) fell by {drop:.3f} (from "
            f"{performance.reference_pr_auc:.3f} to {performance.pr_auc:.3f}), more than the "
            f"allowed {allowed:.3f}"
        )
    return False, f"PR-AUC drop of {drop:.3f} is within the allowed {allowed:.3f}"


def decide_retraining(
    history: Sequence[WindowSummary],
    policy: RetrainPolicy,
    *,
    last_retrain_window: str | None,
) -> RetrainDecision:
    """Decide whether to retrain after the latest window of ``history``.

    Args:
        history: Window summaries, oldest first (at least the windows since the last retrain,
            and ``drift_windows_to_retrain`` of them to let the drift rule fire).
        policy: The thresholds.
        last_retrain_window: Id of the window whose decision started the last retrain, or
            None if the model was never retrained.

    Raises:
        MonitoringInputError: ``history`` is not ordered oldest first, or repeats a window.
    """
    if not history:
        return RetrainDecision(
            verdict="hold",
            reason="Hold: no monitoring window yet, so there is nothing to decide on.",
            trigger=None,
            numbers={"windows_in_history": 0},
            in_cooldown=False,
            window_id=None,
        )
    _check_order(history)
    latest = history[-1]
    if last_retrain_window is None:
        considered = list(history)
        since = "monitoring began"
    else:
        considered = [s for s in history if s.window_id > last_retrain_window]
        since = f"the retrain at window {last_retrain_window}"
    drift_fires, drift_sentence, streak = _drift_rule(considered, policy, since)
    performance_fires, performance_sentence = _performance_rule(latest, policy)

    windows_since_retrain = None if last_retrain_window is None else len(considered)
    in_cooldown = (
        windows_since_retrain is not None and windows_since_retrain <= policy.cooldown_windows
    )
    performance = latest.performance
    numbers: dict[str, Number] = {
        "windows_in_history": len(history),
        "windows_considered": len(considered),
        "drift_streak": streak,
        "drift_windows_to_retrain": policy.drift_windows_to_retrain,
        "latest_drift_share": latest.drift_share,
        "drift_share_threshold": latest.drift_share_threshold,
        "latest_drift_detected": latest.data_drift_detected,
        "pr_auc": None if performance is None else performance.pr_auc,
        "reference_pr_auc": None if performance is None else performance.reference_pr_auc,
        "pr_auc_drop": None if performance is None else performance.pr_auc_drop,
        "performance_drop_to_retrain": policy.performance_drop_to_retrain,
        "n_labelled": latest.n_labelled,
        "n_labelled_positives": latest.n_labelled_positives,
        "min_labelled_positives": latest.min_labelled_positives,
        "last_retrain_window": last_retrain_window,
        "windows_since_retrain": windows_since_retrain,
        "cooldown_windows": policy.cooldown_windows,
    }

    fired: list[str] = []
    if performance_fires:
        fired.append(performance_sentence)
    if drift_fires:
        fired.append(drift_sentence)
    trigger: Trigger | None = (
        "performance" if performance_fires else "drift" if drift_fires else None
    )

    if in_cooldown and windows_since_retrain is not None:
        remaining = policy.cooldown_windows - windows_since_retrain + 1
        reason = (
            f"Hold: in cool-down after the retrain at window {last_retrain_window} "
            f"({windows_since_retrain} of {policy.cooldown_windows} cool-down windows seen); "
            f"retraining can start again in {remaining} window(s)."
        )
        if fired:
            reason += " Held back: " + "; ".join(fired) + "."
        return RetrainDecision(
            verdict="hold",
            reason=reason,
            trigger=None,
            numbers=numbers,
            in_cooldown=True,
            window_id=latest.window_id,
        )
    if fired:
        reason = "Retrain: " + "; and ".join(fired) + "."
        if performance_fires is None:  # say that the performance rule could not run, and why
            reason += f" {performance_sentence[0].upper()}{performance_sentence[1:]}."
        return RetrainDecision(
            verdict="retrain",
            reason=reason,
            trigger=trigger,
            numbers=numbers,
            in_cooldown=False,
            window_id=latest.window_id,
        )
    return RetrainDecision(
        verdict="hold",
        reason=f"Hold: {drift_sentence}; {performance_sentence}.",
        trigger=None,
        numbers=numbers,
        in_cooldown=False,
        window_id=latest.window_id,
    )
