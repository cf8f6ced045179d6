"""When to retrain: a pure function of the window summaries, the policy and the last retrain.

Inputs (:func:`decide_retraining`): the window summaries oldest first (``summary.json`` of each
window, :class:`~monitoring.summary.WindowSummary`), a :class:`RetrainPolicy`, the id of the
window whose decision started the last retrain (None: never retrained) and that retrain's
trigger, and, optionally, the training stage's ``holdout_days`` (the pipeline passes both).
The summaries carry the verdicts monitoring decided once, per window: ``data_drift_detected``
(share *and* count of drifted features, `MonitoringConfig.flags_drift`), the champion's own
matured-label figures (``performance_by_version[champion_version]``), the mixed trailing
figures (``performance``) and the matured labels per event day (``matured_by_day``).

Output: a :class:`RetrainDecision`: ``verdict`` ("retrain" or "hold"), ``trigger`` ("drift",
"performance", "follow-up" or None), ``reason`` (one sentence with the numbers), ``numbers``
(every figure it used, plain JSON for the audit log), ``in_cooldown`` and
``waiting_for_labels`` (a retrain is scheduled and waits for post-onset labels). No I/O, no
clock: the same history gives the same decision, so decisions can be replayed, benchmarked and
tested. Window ids sort chronologically (ISO dates), which is how "after" is decided.

Rules, in the order a person would check them:

1. **Drift signal**: ``drift_windows_to_retrain`` consecutive windows *after the last retrain*
   were flagged. Windows up to and including the retrain window were compared with the previous
   model's reference, so they do not count for the new one. The first window of that streak is
   the estimated *onset*.

   * ``drift_response="wait_for_labels"`` (default): the signal *schedules* a retrain, due once
     at least ``min_post_onset_positives`` positive labels (and ``min_post_onset_labels``
     labels) of predictions made on or after the onset day have matured, or once
     ``max_label_wait_days`` days have passed since the onset (a label feed that never
     delivers must not hold the schedule forever). A model trained before the labels of the new
     regime exist cannot learn it, and its gate compares it on old-regime data. Given
     ``holdout_days``, only the labels a retrain would *train* on count: those of event days
     before the newest ``holdout_days`` labelled days, which the retrain holds out. The schedule
     stands until a retrain runs, even if a later window is not flagged; while it waits, a
     performance drop does not start an earlier retrain (it is the same change, and its labels
     are what the schedule waits for). The cool-down does not hold a due scheduled retrain: the
     wait already spaced it from the last one. The counts are the latest summary's, which
     cover the last ``monitoring.performance_days`` days of predictions: a wait longer than
     that would undercount, and ``max_label_wait_days`` (14, the same by default) ends it.
   * ``drift_response="immediate"`` (the behaviour before label-awareness): the signal retrains
     at once, provided the streak still holds on the latest window.

2. **Performance**: the PR-AUC of the latest window fell more than
   ``performance_drop_to_retrain`` below the training figure. With
   ``performance_source="champion"`` (default) the figure is the serving champion's own
   matured predictions (``WindowSummary.champion_performance``), compared with that version's
   own training PR-AUC (by default the low end of its bootstrap interval,
   ``performance_reference="interval_low"``: a holdout of a few days can overstate a model, and
   measured against the estimate, clean windows raised alarms), and only once its rows hold
   ``monitoring.min_labelled_positives`` positives; with ``"window"`` (the behaviour before)
   it is the trailing window that mixes every version's predictions, compared with the current
   champion's training figure. When the figure is missing or too thin the rule is skipped and
   the reason says why.
3. **Follow-up**: ``followup_after_windows`` windows after a retrain that drift started, one
   more retrain starts (trigger "follow-up"; never after a follow-up). The first retrain of a
   new regime learns from its first days of labels, all it has; measured on the detection
   benchmark, a model trained ~11 days after the onset reaches ~85 % of the pre-onset
   PR-AUC and one trained a week later ~100 %, but nothing else replaces it: its own figures do
   not fall, and its reference already is the new regime. The gate still decides whether the
   follow-up's model is better. Like a due schedule, the cool-down does not hold it.
4. **Cool-down**: while the latest window is at most ``cooldown_windows`` windows after the
   last retrain window (the retrain window itself included), the verdict is "hold" whatever the
   rules say, except for a due scheduled retrain (rule 1); the reason names what was held back
   and how many windows remain.

:meth:`RetrainPolicy.legacy` gives the policy as it was before label-awareness (immediate drift
retrain, mixed-window performance against the holdout estimate), so a benchmark can run both
side by side; the drift flag of that time also needs
``MonitoringConfig(min_drifted_features=1)`` in the monitoring stage.
From the settings: ``LIFECYCLE_RETRAINING__DRIFT_RESPONSE=immediate``,
``LIFECYCLE_RETRAINING__PERFORMANCE_SOURCE=window``,
``LIFECYCLE_RETRAINING__PERFORMANCE_REFERENCE=estimate`` and
``LIFECYCLE_MONITORING__MIN_DRIFTED_FEATURES=1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from monitoring.errors import MonitoringInputError
from monitoring.summary import LabelCounts, VersionPerformance, WindowSummary

Verdict = Literal["retrain", "hold"]
Trigger = Literal["drift", "performance", "follow-up"]
DriftResponse = Literal["wait_for_labels", "immediate"]
PerformanceSource = Literal["champion", "window"]
PerformanceReference = Literal["interval_low", "estimate"]
Number = bool | float | int | str | None


class RetrainPolicy(BaseModel):
    """Thresholds and modes of the retraining rules: the ``retraining`` section of the settings.

    Each default is defined here and nowhere else. What counts as a drifted window and how many
    labels a performance figure needs belong to the monitoring section (``MonitoringConfig``):
    the policy reads the verdicts the window summaries carry.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    drift_windows_to_retrain: int = Field(
        default=2, ge=1, description="Consecutive drifted windows that signal drift (k)."
    )
    performance_drop_to_retrain: float = Field(
        default=0.05,
        gt=0,
        description=(
            "PR-AUC drop (reference - window) that triggers one. The reference is by default "
            "the low end of the holdout interval, itself ~0.1 below the holdout figure on a "
            "few days' holdout, so 0.05 from it is ~0.15 from the figure."
        ),
    )
    cooldown_windows: int = Field(
        default=5,
        ge=0,
        description="Windows after a retrain during which none starts (a due scheduled one may).",
    )
    drift_response: DriftResponse = Field(
        default="wait_for_labels",
        description=(
            "What a drift signal does: schedule a retrain for when post-onset labels have "
            "matured ('wait_for_labels'), or retrain at once ('immediate', the old behaviour)."
        ),
    )
    min_post_onset_positives: int = Field(
        default=100,
        ge=0,
        description=(
            "Matured positive labels of predictions since the drift onset that a scheduled "
            "retrain waits for; the pipeline counts those the retrain trains on (before its "
            "holdout of the newest training.holdout_days labelled days)."
        ),
    )
    min_post_onset_labels: int = Field(
        default=0, ge=0, description="Matured labels (any class) since the onset it also needs."
    )
    max_label_wait_days: int = Field(
        default=14,
        ge=1,
        description=(
            "Days after the onset when a scheduled retrain starts even without its labels "
            "(a stalled label feed must not hold it forever)."
        ),
    )
    followup_after_windows: int | None = Field(
        default=5,
        ge=1,
        description=(
            "Windows after a drift-started retrain when one more retrain starts, trained on "
            "that many more days of the new regime's labels (None: none)."
        ),
    )
    performance_source: PerformanceSource = Field(
        default="champion",
        description=(
            "Whose matured predictions the performance rule judges: the serving champion's own "
            "('champion'), or every version's in the trailing window ('window', the old one)."
        ),
    )
    performance_reference: PerformanceReference = Field(
        default="interval_low",
        description=(
            "What the champion's matured PR-AUC is compared with: the lower bound of its "
            "holdout PR-AUC's bootstrap interval ('interval_low'; the holdout figure itself "
            "for a version logged without one), or the holdout figure ('estimate', the old "
            "one, which a noisy holdout can set too high)."
        ),
    )

    @classmethod
    def legacy(cls, **overrides: Any) -> RetrainPolicy:
        """The policy before label-awareness: immediate drift retrain, mixed-window performance.

        ``overrides`` set any other field (e.g. ``cooldown_windows``).
        """
        return cls(
            **{
                "drift_response": "immediate",
                "performance_source": "window",
                "performance_reference": "estimate",
                "followup_after_windows": None,
                "performance_drop_to_retrain": 0.10,
                **overrides,
            }
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
    waiting_for_labels: bool = Field(
        default=False, description="A retrain is scheduled and waits for post-onset labels."
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for the decision audit log."""
        return self.model_dump(mode="json")


@dataclass(frozen=True)
class _Rule:
    """One rule's outcome: fires (None: skipped), the sentence, and the numbers it read."""

    fires: bool | None
    sentence: str
    numbers: dict[str, Number]


def _check_order(history: Sequence[WindowSummary]) -> None:
    ids = [s.window_id for s in history]
    for earlier, later in pairwise(ids):
        if later <= earlier:
            raise MonitoringInputError(
                f"history must be ordered oldest first with distinct windows; "
                f"'{later}' follows '{earlier}'"
            )


def _streak(windows: Sequence[WindowSummary]) -> int:
    """Consecutive flagged windows ending with the latest."""
    streak = 0
    for summary in reversed(windows):
        if not summary.data_drift_detected:
            break
        streak += 1
    return streak


def _not_yet_sentence(windows: Sequence[WindowSummary], k: int, since: str, streak: int) -> str:
    if len(windows) < k:
        return (
            f"only {len(windows)} window(s) since {since}, {k} consecutive drifted windows "
            "are needed"
        )
    latest = windows[-1]
    return (
        f"{streak} consecutive drifted window(s) of the {k} needed (latest drift share "
        f"{latest.drift_share:.2f}, threshold {latest.drift_share_threshold:.2f}, "
        f"{latest.n_drifted_features} drifted feature(s))"
    )


def _drift_rule(windows: Sequence[WindowSummary], policy: RetrainPolicy, since: str) -> _Rule:
    """Immediate mode: fires when the last k windows after the last retrain were all flagged."""
    k = policy.drift_windows_to_retrain
    streak = _streak(windows)
    numbers: dict[str, Number] = {"drift_streak": streak}
    if streak >= k:
        ids = ", ".join(s.window_id for s in windows[-k:])
        return _Rule(True, f"data drift in each of the last {k} windows ({ids})", numbers)
    return _Rule(False, _not_yet_sentence(windows, k, since, streak), numbers)


def _first_signal(windows: Sequence[WindowSummary], k: int) -> int | None:
    """Index of the window that completed the first run of k flagged windows (None: none)."""
    run = 0
    for index, summary in enumerate(windows):
        run = run + 1 if summary.data_drift_detected else 0
        if run >= k:
            return index
    return None


@dataclass(frozen=True)
class _PostOnset:
    """Matured labels since the onset: those a retrain would train on, and all of them."""

    counted: LabelCounts
    matured: LabelCounts
    holdout_start: str | None

    def sentence(self, policy: RetrainPolicy) -> str:
        where = (
            ""
            if self.holdout_start is None
            else f" before the retrain's holdout (event days from {self.holdout_start})"
        )
        parts = [
            f"{policy.min_post_onset_positives} matured post-onset positives{where}: have "
            f"{self.counted.n_positives}"
            + (
                ""
                if self.holdout_start is None
                else f" ({self.matured.n_positives} matured in all)"
            )
        ]
        if policy.min_post_onset_labels:
            parts.append(
                f"{policy.min_post_onset_labels} matured post-onset labels{where}: have "
                f"{self.counted.n_labelled}"
            )
        return " and ".join(parts)


def _post_onset(latest: WindowSummary, onset_day: str, holdout_days: int | None) -> _PostOnset:
    """The labels matured since ``onset_day``; with ``holdout_days``, minus the holdout's.

    A retrain holds out its newest ``holdout_days`` labelled event days (at least) to evaluate
    on: labels there do not teach the new model anything, so they are not counted.
    """
    matured = latest.matured_since(onset_day)
    last = latest.last_labelled_day
    if holdout_days is None or last is None:
        return _PostOnset(matured, matured, None)
    start = (date.fromisoformat(last) - timedelta(days=holdout_days - 1)).isoformat()
    return _PostOnset(latest.matured_since(onset_day, before=start), matured, start)


def _scheduled_drift_rule(
    windows: Sequence[WindowSummary],
    policy: RetrainPolicy,
    since: str,
    holdout_days: int | None,
) -> tuple[_Rule, bool]:
    """Wait-for-labels mode: (rule, waiting). The rule fires when the scheduled retrain is due."""
    k = policy.drift_windows_to_retrain
    streak = _streak(windows)
    signal = _first_signal(windows, k)
    numbers: dict[str, Number] = {
        "drift_streak": streak,
        "drift_signal_window": None,
        "onset_window": None,
        "onset_day": None,
        "days_since_onset": None,
        "post_onset_labels": None,
        "post_onset_positives": None,
        "post_onset_positives_matured": None,
        "holdout_days": holdout_days,
        "holdout_start": None,
        "min_post_onset_labels": policy.min_post_onset_labels,
        "min_post_onset_positives": policy.min_post_onset_positives,
        "max_label_wait_days": policy.max_label_wait_days,
    }
    if signal is None:
        return _Rule(False, _not_yet_sentence(windows, k, since, streak), numbers), False
    latest = windows[-1]
    onset = windows[signal - k + 1]
    post = _post_onset(latest, onset.window_start, holdout_days)
    have = post.counted
    days = (date.fromisoformat(latest.window_end) - date.fromisoformat(onset.window_start)).days + 1
    numbers.update(
        drift_signal_window=windows[signal].window_id,
        onset_window=onset.window_id,
        onset_day=onset.window_start,
        days_since_onset=days,
        post_onset_labels=have.n_labelled,
        post_onset_positives=have.n_positives,
        post_onset_positives_matured=post.matured.n_positives,
        holdout_start=post.holdout_start,
    )
    signalled = (
        f"data drift in {k} consecutive windows ("
        + ", ".join(s.window_id for s in windows[signal - k + 1 : signal + 1])
        + f"), onset {onset.window_start}"
    )
    enough = (
        have.n_positives >= policy.min_post_onset_positives
        and have.n_labelled >= policy.min_post_onset_labels
    )
    if enough:
        return _Rule(
            True,
            f"{signalled}; the scheduled retrain is due: {post.sentence(policy)}",
            numbers,
        ), False
    if days > policy.max_label_wait_days:
        return _Rule(
            True,
            f"{signalled}; the scheduled retrain starts after waiting {days} days (at most "
            f"{policy.max_label_wait_days}) for {post.sentence(policy)}",
            numbers,
        ), False
    return _Rule(
        False,
        f"retrain scheduled after {signalled}; waiting for {post.sentence(policy)} "
        f"(day {days} of at most {policy.max_label_wait_days})",
        numbers,
    ), True


def _performance_rule(latest: WindowSummary, policy: RetrainPolicy) -> _Rule:
    """The performance rule on the figure ``policy.performance_source`` names."""
    numbers: dict[str, Number] = {
        "performance_source": policy.performance_source,
        "performance_drop_to_retrain": policy.performance_drop_to_retrain,
        "window_pr_auc": None if latest.performance is None else latest.performance.pr_auc,
        "champion_version": latest.champion_version,
    }
    mine = latest.champion_performance
    numbers.update(
        champion_n_labelled=None if mine is None else mine.n_labelled,
        champion_n_positives=None if mine is None else mine.n_positives,
        champion_pr_auc=None if mine is None else mine.pr_auc,
        champion_reference_pr_auc=None if mine is None else mine.reference_pr_auc,
        champion_reference_pr_auc_low=None if mine is None else mine.reference_pr_auc_low,
        champion_pr_auc_drop=None if mine is None else mine.pr_auc_drop,
        performance_reference=policy.performance_reference,
    )
    if policy.performance_source == "window":
        return _window_performance(latest, policy, numbers)
    version = latest.champion_version
    numbers.update(pr_auc=None, reference_pr_auc=None, pr_auc_drop=None)
    if version is None:
        return _Rule(
            None,
            "performance rule skipped: the window summary does not name the champion version",
            numbers,
        )
    if mine is None or not mine.evaluated or mine.pr_auc is None:
        n_labelled = 0 if mine is None else mine.n_labelled
        n_positives = 0 if mine is None else mine.n_positives
        return _Rule(
            None,
            f"performance rule skipped: champion v{version}'s own predictions have "
            f"{n_labelled} matured label(s) with {n_positives} positive(s), at least "
            f"{latest.min_labelled_positives} positives and both classes are needed",
            numbers,
        )
    reference, compared_with = _champion_reference(mine, policy)
    drop = None if reference is None else reference - mine.pr_auc
    numbers.update(pr_auc=mine.pr_auc, reference_pr_auc=reference, pr_auc_drop=drop)
    if drop is None or reference is None:
        return _Rule(
            None,
            f"performance rule skipped: no training PR-AUC of v{version} to compare with",
            numbers,
        )
    return _judge(
        drop,
        policy,
        f"champion v{version}'s PR-AUC on its own {mine.n_labelled} matured labels "
        f"({mine.n_positives} positives) fell by {drop:.3f} (from {compared_with} "
        f"{reference:.3f} to {mine.pr_auc:.3f})",
        numbers,
    )


def _champion_reference(
    mine: VersionPerformance, policy: RetrainPolicy
) -> tuple[float | None, str]:
    """The training figure the champion is judged against, and how a sentence names it."""
    if policy.performance_reference == "interval_low" and mine.reference_pr_auc_low is not None:
        return mine.reference_pr_auc_low, "the low end of its training interval"
    return mine.reference_pr_auc, "its training"


def _window_performance(
    latest: WindowSummary, policy: RetrainPolicy, numbers: dict[str, Number]
) -> _Rule:
    """The rule on the trailing window of every version's predictions (the old figure)."""
    performance = latest.performance
    numbers.update(
        pr_auc=None if performance is None else performance.pr_auc,
        reference_pr_auc=None if performance is None else performance.reference_pr_auc,
        pr_auc_drop=None if performance is None else performance.pr_auc_drop,
    )
    if performance is None:
        return _Rule(
            None, f"performance rule skipped: {latest.performance_note.rstrip('.')}", numbers
        )
    drop = performance.pr_auc_drop
    if drop is None or performance.reference_pr_auc is None:
        return _Rule(None, "performance rule skipped: no reference PR-AUC to compare with", numbers)
    return _judge(
        drop,
        policy,
        f"PR-AUC on {performance.n_labelled} matured labels ({performance.n_positives} "
        f"positives) fell by {drop:.3f} (from {performance.reference_pr_auc:.3f} to "
        f"{performance.pr_auc:.3f})",
        numbers,
    )


def _judge(drop: float, policy: RetrainPolicy, fell: str, numbers: dict[str, Number]) -> _Rule:
    allowed = policy.performance_drop_to_retrain
    if drop > allowed:
        return _Rule(True, f"{fell}, more than the allowed {allowed:.3f}", numbers)
    return _Rule(False, f"PR-AUC drop of {drop:.3f} is within the allowed {allowed:.3f}", numbers)


def _followup_due(
    policy: RetrainPolicy, last_trigger: str | None, windows_since_retrain: int | None
) -> bool:
    """True on the window ``followup_after_windows`` after a drift-started retrain."""
    return (
        policy.followup_after_windows is not None
        and last_trigger == "drift"
        and windows_since_retrain is not None
        and windows_since_retrain >= policy.followup_after_windows
    )


def _no_window() -> RetrainDecision:
    return RetrainDecision(
        verdict="hold",
        reason="Hold: no monitoring window yet, so there is nothing to decide on.",
        trigger=None,
        numbers={"windows_in_history": 0},
        in_cooldown=False,
        window_id=None,
    )


def decide_retraining(
    history: Sequence[WindowSummary],
    policy: RetrainPolicy,
    *,
    last_retrain_window: str | None,
    holdout_days: int | None = None,
    last_retrain_trigger: str | None = None,
) -> RetrainDecision:
    """Decide whether to retrain after the latest window of ``history`` (see the module doc).

    Args:
        history: Window summaries, oldest first (at least the windows since the last retrain,
            and ``drift_windows_to_retrain`` of them to let the drift rule fire).
        policy: The thresholds and modes.
        last_retrain_window: Id of the window whose decision started the last retrain, or
            None if the model was never retrained.
        holdout_days: The training stage's ``holdout_days``: a scheduled retrain then counts
            only the post-onset labels a retrain would train on, leaving out the newest
            ``holdout_days`` labelled event days (its holdout). None counts every one.
        last_retrain_trigger: The trigger of that last retrain ("drift" makes a follow-up
            due ``followup_after_windows`` windows later); None: unknown or never.

    Raises:
        MonitoringInputError: ``history`` is not ordered oldest first, or repeats a window.
    """
    if not history:
        return _no_window()
    _check_order(history)
    latest = history[-1]
    if last_retrain_window is None:
        considered = list(history)
        since = "monitoring began"
    else:
        considered = [s for s in history if s.window_id > last_retrain_window]
        since = f"the retrain at window {last_retrain_window}"
    waiting = False
    if policy.drift_response == "immediate":
        drift = _drift_rule(considered, policy, since)
    else:
        drift, waiting = _scheduled_drift_rule(considered, policy, since, holdout_days)
    performance = _performance_rule(latest, policy)

    windows_since_retrain = None if last_retrain_window is None else len(considered)
    in_cooldown = (
        windows_since_retrain is not None and windows_since_retrain <= policy.cooldown_windows
    )
    numbers: dict[str, Number] = {
        "windows_in_history": len(history),
        "windows_considered": len(considered),
        "drift_response": policy.drift_response,
        "drift_windows_to_retrain": policy.drift_windows_to_retrain,
        "latest_drift_share": latest.drift_share,
        "drift_share_threshold": latest.drift_share_threshold,
        "latest_n_drifted_features": latest.n_drifted_features,
        "min_drifted_features": latest.min_drifted_features,
        "latest_drift_detected": latest.data_drift_detected,
        **drift.numbers,
        **performance.numbers,
        "n_labelled": latest.n_labelled,
        "n_labelled_positives": latest.n_labelled_positives,
        "min_labelled_positives": latest.min_labelled_positives,
        "last_retrain_window": last_retrain_window,
        "last_retrain_trigger": last_retrain_trigger,
        "followup_after_windows": policy.followup_after_windows,
        "windows_since_retrain": windows_since_retrain,
        "cooldown_windows": policy.cooldown_windows,
    }

    def decision(verdict: Verdict, reason: str, trigger: Trigger | None) -> RetrainDecision:
        return RetrainDecision(
            verdict=verdict,
            reason=reason,
            trigger=trigger,
            numbers=numbers,
            in_cooldown=in_cooldown,
            window_id=latest.window_id,
            waiting_for_labels=waiting,
        )

    scheduled = policy.drift_response == "wait_for_labels"
    if scheduled and drift.fires:  # due: the cool-down does not hold what the schedule asked
        reason = f"Retrain: {drift.sentence}."
        if performance.fires:
            reason += f" Also: {performance.sentence}."
        if in_cooldown:
            reason += (
                f" The cool-down ({windows_since_retrain} of {policy.cooldown_windows} windows "
                "since the last retrain) does not hold a scheduled retrain."
            )
        return decision("retrain", reason, "drift")
    if _followup_due(policy, last_retrain_trigger, windows_since_retrain):
        reason = (
            f"Retrain (follow-up): the retrain at window {last_retrain_window} followed data "
            f"drift; {windows_since_retrain} windows later the new regime has that many more "
            "days of labels to learn from."
        )
        return decision("retrain", reason, "follow-up")
    if waiting:
        reason = f"Hold: {drift.sentence}."
        if performance.fires:
            reason += (
                f" Also {performance.sentence}: the retrain still waits for the new regime's "
                "labels, without which a new model cannot learn it."
            )
        else:
            reason += f" {performance.sentence[0].upper()}{performance.sentence[1:]}."
        return decision("hold", reason, None)

    fired = [rule.sentence for rule in (performance, drift) if rule.fires]
    trigger: Trigger | None = (
        "performance" if performance.fires else "drift" if drift.fires else None
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
        return decision("hold", reason, None)
    if fired:
        reason = "Retrain: " + "; and ".join(fired) + "."
        if performance.fires is None:  # say that the performance rule could not run, and why
            reason += f" {performance.sentence[0].upper()}{performance.sentence[1:]}."
        return decision("retrain", reason, trigger)
    return decision("hold", f"Hold: {drift.sentence}; {performance.sentence}.", None)
