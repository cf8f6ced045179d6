"""How a monitoring window is evaluated: its section of the settings tree.

The settings tree (``pipelines.settings``) holds one `MonitoringConfig` under ``monitoring``;
`monitoring.window.monitor_window` and `monitoring.reports.evaluate_window` take it as it is.
Each default is defined here and nowhere else.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MonitoringConfig(BaseModel):
    """Drift threshold, performance window, minimum evidence and what reports to write."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drift_share_threshold: float = Field(
        default=0.3, gt=0, le=1, description="Share of drifted features that flags a window."
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
    write_html: bool = Field(
        default=True, description="Write Evidently HTML reports (about 4 MB each) per window."
    )
    performance_report_every_days: int = Field(
        default=1,
        ge=1,
        description="Write Evidently's performance report every N days (figures: every window).",
    )
