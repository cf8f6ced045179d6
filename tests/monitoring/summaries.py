"""Window summaries as monitoring writes them, built by hand for the policy tests.

One window per day from ``START``; a window's drift flag is decided with its own threshold,
and its champion figures, per-version figures and matured-label counts are what the test gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from monitoring.summary import (
    ColumnDrift,
    DataQuality,
    LabelCounts,
    PerformanceSummary,
    VersionPerformance,
    WindowSummary,
)

START = date(2026, 3, 1)
SKIPPED_NOTE = (
    "only 12 positive label(s) among the 400 matured labels of 9000 predictions in the "
    "performance window; at least 30 are needed for a stable PR-AUC: performance not evaluated"
)


def day(index: int) -> str:
    """ISO date of window ``index``."""
    return (START + timedelta(days=index)).isoformat()


def performance(pr_auc_drop: float, n_labelled: int = 1000) -> PerformanceSummary:
    """The trailing window's figures (every version mixed), reference PR-AUC 0.6."""
    return PerformanceSummary(
        n_predictions=5000,
        n_labelled=n_labelled,
        n_positives=30,
        label_coverage=n_labelled / 5000,
        threshold=0.2,
        pr_auc=0.6 - pr_auc_drop,
        recall_at_threshold=0.5,
        precision_at_threshold=0.4,
        expected_cost_per_row=1.5,
        reference_pr_auc=0.6,
        pr_auc_drop=pr_auc_drop,
    )


def own(
    pr_auc_drop: float | None,
    n_positives: int = 40,
    *,
    reference: float | None = 0.6,
    low: float | None = None,
    min_positives: int = 30,
) -> VersionPerformance:
    """One version's figures on its own rows (None drop: PR-AUC undefined, one class only).

    ``low`` is the low end of the reference's holdout interval (None: logged without one).
    """
    area = None if pr_auc_drop is None else (reference or 0.6) - pr_auc_drop
    return VersionPerformance(
        n_predictions=2000,
        n_labelled=900,
        n_positives=n_positives,
        first_day=day(0),
        last_day=day(9),
        pr_auc=area,
        reference_pr_auc=reference,
        reference_pr_auc_low=low,
        pr_auc_drop=None if area is None or reference is None else reference - area,
        evaluated=area is not None and n_positives >= min_positives,
    )


def window(
    index: int,
    drift_share: float = 0.0,
    perf: PerformanceSummary | None = None,
    *,
    threshold: float = 0.3,
    champion: str | None = None,
    versions: Mapping[str, VersionPerformance] | None = None,
    matured: Mapping[int, tuple[int, int]] | None = None,
) -> WindowSummary:
    """A summary as monitoring writes it: the drift flag decided with ``threshold``.

    ``matured`` maps a window index (event day) to its (matured labels, positives).
    """
    iso = day(index)
    drift = ColumnDrift(column="score", method="m", score=0.0, threshold=0.1, drifted=False)
    return WindowSummary(
        window_id=iso,
        window_start=iso,
        window_end=iso,
        n_rows=1500,
        n_reference_rows=10000,
        drift_share_threshold=threshold,
        feature_drift={},
        n_drifted_features=round(drift_share * 10),
        drift_share=drift_share,
        data_drift_detected=drift_share >= threshold,
        prediction_drift=drift,
        quality=DataQuality(
            n_rows=1500,
            missing_share={},
            reference_missing_share={},
            out_of_range_rows={},
            unseen_categories={},
        ),
        n_labelled=perf.n_labelled if perf else 400,
        n_labelled_positives=perf.n_positives if perf else 12,
        min_labelled_positives=30,
        performance=perf,
        performance_note="evaluated" if perf else SKIPPED_NOTE,
        champion_version=champion,
        performance_by_version=dict(versions or {}),
        matured_by_day={
            day(i): LabelCounts(n_labelled=n, n_positives=k)
            for i, (n, k) in (matured or {}).items()
        },
    )


def history(*shares: float) -> list[WindowSummary]:
    """One window per drift share, from ``START``, without labels or versions."""
    return [window(i, share) for i, share in enumerate(shares)]
