"""How a monitoring window is evaluated: its section of the settings tree.

The settings tree (``pipelines.settings``) holds one `MonitoringConfig` under ``monitoring``;
`monitoring.window.monitor_window` and `monitoring.reports.evaluate_window` take it as it is.
Each default is defined here and nowhere else.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class MonitoringConfig(BaseModel):
    """Drift threshold, performance window, minimum evidence and what reports to write."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drift_share_threshold: float = Field(
        default=0.3, gt=0, le=1, description="Share of drifted features that flags a window."
    )
    min_drifted_features: int = Field(
        default=2,
        ge=1,
        description=(
            "Drifted features a window also needs before it is flagged (capped at the "
            "contract's feature count): with few features one column is a large share, and one "
            "column crossing its test threshold on a clean day is not rare."
        ),
    )
    performance_days: int = Field(
        default=14, ge=1, description="Trailing days of predictions joined with matured labels."
    )
    min_labelled_positives: int = Field(
        default=30,
        ge=1,
        description=(
            "Matured positive labels needed before the window's PR-AUC is trusted; with fewer, "
            "performance is not evaluated and the summary says why."
        ),
    )
    min_window_rows: int = Field(
        default=200,
        ge=1,
        description=(
            "Predictions a window needs for drift tests with some power: consecutive days are "
            "grouped into windows of at least this many rows (the output says so)."
        ),
    )
    drift_sample_rows: int | None = Field(
        default=50_000,
        ge=1,
        description=(
            "Rows of a seeded random sample of the window (and of the reference, when larger) "
            "that drift statistics are computed on; None: every row. Data-quality counts and "
            "performance always use every row. The summary's warnings state the sample."
        ),
    )
    drift_sample_seed: int = Field(
        default=0, ge=0, description="Seed of the drift sample (same window, same sample)."
    )
    write_html: bool = Field(
        default=True, description="Write Evidently HTML reports (about 4 MB each) per window."
    )
    workspace_snapshots: bool = Field(
        default=True,
        description=(
            "Also add each window as a snapshot of the model's project in the Evidently "
            "workspace <monitoring>/workspace (`make evidently-ui` shows its dashboard over "
            "time); about 120 KB per window, 420 KB with write_html (its charts)."
        ),
    )
    performance_report_every_days: int = Field(
        default=1,
        ge=1,
        description="Write Evidently's performance report every N days (figures: every window).",
    )

    def drifted_features_needed(self, n_features: int) -> int:
        """Drifted features that flag a window of a contract with ``n_features`` features.

        Both conditions must hold: the share (``drift_share_threshold``, rounded up to whole
        features) and the count (``min_drifted_features``, capped at ``n_features`` so that a
        one-feature contract can still be flagged).

        Raises:
            ValueError: ``n_features`` is below 1.
        """
        if n_features < 1:
            raise ValueError(f"a contract has at least one feature, got n_features={n_features}")
        by_share = math.ceil(round(self.drift_share_threshold * n_features, 9))
        return max(by_share, min(self.min_drifted_features, n_features), 1)

    def flags_drift(self, n_drifted: int, n_features: int) -> bool:
        """The window's drift verdict: ``n_drifted`` reaches :meth:`drifted_features_needed`."""
        return n_drifted >= self.drifted_features_needed(n_features)
