"""What one monitoring window found, as plain numbers a policy, a person or a dashboard reads.

A :class:`WindowSummary` is the monitoring stage's contract with the retraining policy: it is
frozen, holds only JSON types, and round-trips through :meth:`WindowSummary.to_dict` /
:meth:`WindowSummary.from_dict` (that is what ``summary.json`` holds). It does not import
Evidently, so reading summaries and deciding on them stays cheap.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from features.metrics import PR_AUC_METHOD
from monitoring.errors import SummaryFormatError


def window_id_for(start: date, end: date) -> str:
    """``'YYYY-MM-DD'`` for a one-day window, ``'YYYY-MM-DD_YYYY-MM-DD'`` otherwise.

    Ids sort chronologically as strings, which the retraining policy relies on; they are also
    safe folder names.
    """
    if end < start:
        raise ValueError(f"window end {end} is before its start {start}")
    return start.isoformat() if start == end else f"{start.isoformat()}_{end.isoformat()}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnDrift(_Frozen):
    """Drift of one column between the reference and the window, as Evidently judged it.

    ``score`` means what ``method`` says: a distance (Wasserstein, Jensen-Shannon; drift when
    ``score >= threshold``) or a p-value (K-S, chi-square; drift when ``score < threshold``).
    ``drifted`` is Evidently's own verdict, so a reader never has to know which. A feature with
    no value left in the window cannot be compared: ``score`` and ``threshold`` are None and it
    counts as drifted (``method`` says so).
    """

    column: str
    method: str
    score: float | None
    threshold: float | None
    drifted: bool


class UnseenCategories(_Frozen):
    """Values of one categorical column that the model never saw.

    Rows are counted, examples are the most frequent distinct values (at most five). Missing
    values are not counted here: they are in :attr:`DataQuality.missing_share`.
    """

    not_in_contract_rows: int = Field(ge=0)
    not_in_contract_examples: tuple[str, ...] = ()
    not_in_reference_rows: int = Field(ge=0)
    not_in_reference_examples: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        """True when any row holds a value outside the contract or absent from the reference."""
        return self.not_in_contract_rows > 0 or self.not_in_reference_rows > 0


class DataQuality(_Frozen):
    """Row count, missing values, out-of-range values and unseen categories of the window.

    ``missing_share`` and ``out_of_range_rows`` are read from Evidently (``MissingValueCount``,
    ``OutRangeValueCount`` against the contract's min/max); ``reference_missing_share`` (the
    baseline a reader compares with) and ``unseen_categories`` are computed with pandas.
    """

    n_rows: int = Field(ge=0)
    missing_share: dict[str, float]
    reference_missing_share: dict[str, float]
    out_of_range_rows: dict[str, int]
    unseen_categories: dict[str, UnseenCategories]


class SegmentPerformance(_Frozen):
    """Model quality on the matured labels of one value of one segment column.

    Computed with the same metric core as the overall figures (``features.metrics``). A segment
    value holds few rows, so each figure is None where it is undefined rather than a number
    that means nothing: PR-AUC needs both classes, recall a positive, precision a flagged row.
    The counts say how much a figure can be trusted.
    """

    n_labelled: int = Field(ge=0, description="Matured labels of this segment value.")
    n_positives: int = Field(ge=0, description="Of those, how many hold the positive label.")
    pr_auc: float | None = None
    recall_at_threshold: float | None = None
    precision_at_threshold: float | None = None


class PerformanceSummary(_Frozen):
    """Model quality on the predictions whose labels had matured, beside the training figures.

    Deltas are signed so that a positive number is always worse: ``pr_auc_drop`` =
    reference - current, ``recall_drop`` = reference - current, ``cost_increase_per_row`` =
    current - reference. A delta is None when the reference figure was not given.
    ``segments`` holds, per contract segment column (features and non-feature segments alike),
    the figures of each of its values present among the matured labels.
    """

    n_predictions: int = Field(ge=0, description="Predictions in the performance window.")
    n_labelled: int = Field(ge=0, description="Of those, how many had a matured label.")
    n_positives: int = Field(ge=0)
    label_coverage: float = Field(ge=0, le=1)
    threshold: float
    pr_auc: float
    recall_at_threshold: float
    precision_at_threshold: float | None
    expected_cost_per_row: float
    pr_auc_method: str = PR_AUC_METHOD
    reference_pr_auc: float | None = None
    reference_recall_at_threshold: float | None = None
    reference_expected_cost_per_row: float | None = None
    pr_auc_drop: float | None = None
    recall_drop: float | None = None
    cost_increase_per_row: float | None = None
    segments: dict[str, dict[str, SegmentPerformance]] = Field(default_factory=dict)


class VersionPerformance(_Frozen):
    """Quality of one model version on its own predictions whose labels had matured.

    After a swap the performance window mixes the predictions of several versions; this keeps
    each apart, so a version is judged only on the rows it scored, against its own training
    figure. ``pr_auc`` is None without both classes; ``evaluated`` is True when the rows hold
    at least ``WindowSummary.min_labelled_positives`` positives (and both classes), the
    evidence a retraining rule needs before it reads the figure.
    """

    n_predictions: int = Field(ge=0, description="Its predictions in the performance window.")
    n_labelled: int = Field(ge=0, description="Of those, how many had a matured label.")
    n_positives: int = Field(ge=0)
    first_day: str | None = Field(description="Event date of its earliest prediction (ISO).")
    last_day: str | None = Field(description="Event date of its latest prediction (ISO).")
    pr_auc: float | None = None
    reference_pr_auc: float | None = Field(
        default=None, description="The version's own training-time (holdout) PR-AUC."
    )
    reference_pr_auc_low: float | None = Field(
        default=None,
        description=(
            "Lower bound of the bootstrap interval of that holdout PR-AUC (None for a version "
            "trained before intervals were logged)."
        ),
    )
    pr_auc_drop: float | None = Field(
        default=None, description="reference - current; None when either is unknown."
    )
    evaluated: bool = False


class LabelCounts(_Frozen):
    """Matured labels (and positives among them) of the predictions of one event day."""

    n_labelled: int = Field(ge=0)
    n_positives: int = Field(ge=0)


class WindowSummary(_Frozen):
    """Everything one window found: data drift, score drift, data quality, maybe performance.

    ``data_drift_detected`` is True when ``drift_share >= drift_share_threshold`` and at least
    ``min_drifted_features`` features drifted (capped at the contract's feature count), where
    ``drift_share`` is the share of contract features Evidently flagged; it is decided once,
    here (`MonitoringConfig.flags_drift`), and the retraining policy reads the flag.
    ``performance`` is None when fewer than ``min_labelled_positives`` positive labels had
    matured (or one class is absent); ``performance_note`` says why, or what the figures cover,
    and ``warnings`` repeats a skip so that no reader misses it. ``performance`` mixes every
    version that scored in the performance window; ``performance_by_version`` keeps each
    version apart (keyed by version, from the prediction log's ``model_version``), and
    ``champion_version`` names the version the window was monitored for. ``matured_by_day``
    counts the matured labels per event day of the performance window: how much evidence of a
    new regime there is since a given day. Summaries written before these fields existed read
    with their defaults (one drifted feature, no version, no counts).
    """

    window_id: str = Field(description="Sortable id: 'YYYY-MM-DD' or 'YYYY-MM-DD_YYYY-MM-DD'.")
    window_start: str = Field(description="First day of the window (ISO date).")
    window_end: str = Field(description="Last day of the window, inclusive (ISO date).")
    n_rows: int = Field(ge=0)
    n_reference_rows: int = Field(ge=0)
    drift_share_threshold: float = Field(gt=0, le=1)
    min_drifted_features: int = Field(
        default=1, ge=1, description="Drifted features needed besides the share (setting)."
    )
    feature_drift: dict[str, ColumnDrift]
    n_drifted_features: int = Field(ge=0)
    drift_share: float = Field(ge=0, le=1)
    data_drift_detected: bool
    prediction_drift: ColumnDrift
    quality: DataQuality
    n_labelled: int = Field(
        ge=0, description="Matured labels in the performance window (0 when none were given)."
    )
    n_labelled_positives: int = Field(ge=0, description="Of those, the positive labels.")
    min_labelled_positives: int = Field(
        ge=1, description="Positive labels performance needs before it is evaluated."
    )
    performance: PerformanceSummary | None
    performance_note: str
    champion_version: str | None = Field(
        default=None, description="The version whose reference the window was compared with."
    )
    performance_by_version: dict[str, VersionPerformance] = Field(default_factory=dict)
    matured_by_day: dict[str, LabelCounts] = Field(
        default_factory=dict, description="Matured labels per event day (ISO date)."
    )
    warnings: tuple[str, ...] = ()

    @property
    def champion_performance(self) -> VersionPerformance | None:
        """The champion's own figures (None: no version named, or none of its rows here)."""
        if self.champion_version is None:
            return None
        return self.performance_by_version.get(self.champion_version)

    def matured_since(self, day: str, before: str | None = None) -> LabelCounts:
        """Matured labels of the predictions made on ``day`` (ISO date) or later.

        With ``before`` (ISO date), only those made before that day.
        """
        counts = [
            c for d, c in self.matured_by_day.items() if d >= day and (before is None or d < before)
        ]
        return LabelCounts(
            n_labelled=sum(c.n_labelled for c in counts),
            n_positives=sum(c.n_positives for c in counts),
        )

    @property
    def last_labelled_day(self) -> str | None:
        """The latest event day (ISO date) with a matured label (None: no label matured)."""
        days = [d for d, c in self.matured_by_day.items() if c.n_labelled > 0]
        return max(days) if days else None

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features Evidently flagged, in contract order."""
        return [name for name, drift in self.feature_drift.items() if drift.drifted]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (dicts, lists, str, float, int, bool, None)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowSummary:
        """Rebuild a summary from :meth:`to_dict` output (e.g. a parsed ``summary.json``).

        Raises:
            SummaryFormatError: a field is missing, unknown or of the wrong type.
        """
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
                for err in exc.errors()
            )
            raise SummaryFormatError(f"not a valid window summary: {problems}") from None
