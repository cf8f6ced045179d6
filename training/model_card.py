"""The model card: what a model is for, what it was trained on, and how well it does, as Markdown.

The sections follow Mitchell et al., "Model Cards for Model Reporting" (2019): model details,
intended use (and out-of-scope uses), factors, metrics, evaluation data, training data,
quantitative analyses, ethical considerations, caveats and recommendations; a summary comes
first for the reader in a hurry.

Rendering is pure: every figure comes from `ModelCardInputs`, so the same inputs always give the
same card and a test can check each number. The card travels with the model version (the
registry adapter logs it as an artifact), so a reviewer sees the data windows and their batches,
the warnings, the leakage checks, the segment figures and their largest gap next to the headline
metrics. Its wording comes from the contract (label, positive value, how labels become known,
costs, segments), so it reads right for any use case; where the contract has no text for a
section (out-of-scope uses, ethical considerations), the default is derived from those fields.
`feature_sensitivity` is the one computation here: it measures, once at training time, which
features move the scores most, for the card's drift section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from features.contract import DatasetContract, format_duration
from features.vocabulary import GATE_TAG_PREFIX
from training.candidate import score
from training.evaluate import BootstrapInterval, Metrics, SegmentMetrics
from training.leakage import LeakageCheckResult
from training.split import DateWindow, TimeSplit

_NA = "n/a"
_NOT_INPUT = "(not a model input)"
#: The metrics an interval can be of, in the order of the Holdout performance table's rows.
_METRIC_ROWS = ("pr_auc", "roc_auc", "brier", "recall_at_fpr")
_METRIC_NAMES = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC", "recall_at_fpr": "recall at the FPR"}
#: Segment figures compared between groups: field, name, and whether higher is better.
_GAP_FIGURES = (
    ("pr_auc", "PR-AUC", True),
    ("roc_auc", "ROC-AUC", True),
    ("recall_at_threshold", "recall at threshold", True),
    ("precision_at_threshold", "precision at threshold", True),
    ("expected_cost_per_row", "cost per row", False),
)
#: How many of the most influential features the drift section names in its sentence.
_TOP_FEATURES = 3
_GATE_NOTE = (
    "Promotion compares this model with the champion of the time on this holdout, by a paired "
    "bootstrap interval of the gain; that interval and the verdict are recorded later, in the "
    f"version's `{GATE_TAG_PREFIX}numbers` and `{GATE_TAG_PREFIX}reason` tags and in the audit "
    "log, not in this model card."
)
_MODEL_TYPE = (
    "Binary classifier: one scikit-learn Pipeline, one-hot encoding of the category features "
    "(contract categories; unseen values encode as zeros), numeric features passed through, "
    "then a HistGradientBoostingClassifier with the contract's `model` parameters"
)


@dataclass(frozen=True)
class DataWindow:
    """The train and holdout windows, the label cutoff and the row counts behind them.

    ``requested_holdout_days`` is the holdout length the training settings asked for (None when
    unknown); the window shows the length used, longer when the holdout grew to reach its
    positives.
    """

    train_window: DateWindow
    holdout_window: DateWindow
    cutoff: pd.Timestamp
    n_train_rows: int
    n_train_positives: int
    n_holdout_rows: int
    n_holdout_positives: int
    requested_holdout_days: int | None = None

    @property
    def holdout_days(self) -> int:
        """Calendar days the holdout covers."""
        return _days(self.holdout_window)

    @property
    def train_days(self) -> int:
        """Calendar days the train window covers."""
        return _days(self.train_window)

    @classmethod
    def from_split(cls, split: TimeSplit, contract: DatasetContract) -> DataWindow:
        """Windows and counts of a `TimeSplit` (whose labels are 0/1)."""
        label = contract.label_column
        return cls(
            train_window=split.train_window,
            holdout_window=split.holdout_window,
            cutoff=split.cutoff,
            n_train_rows=len(split.train),
            n_train_positives=int((split.train[label] == 1).sum()),
            n_holdout_rows=len(split.holdout),
            n_holdout_positives=int((split.holdout[label] == 1).sum()),
            requested_holdout_days=split.requested_holdout_days,
        )


@dataclass(frozen=True)
class FeatureSensitivity:
    """How much one feature moves the model: its values shuffled across rows, the rest kept.

    ``mean_score_change`` is the mean absolute change of the score; ``flipped_share`` the share
    of rows whose decision (flagged or not, at the threshold) changes.
    """

    feature: str
    mean_score_change: float
    flipped_share: float


@dataclass(frozen=True)
class Sensitivity:
    """`FeatureSensitivity` of every feature, largest change first, and how it was measured."""

    n_rows: int
    seed: int
    features: tuple[FeatureSensitivity, ...]


@dataclass(frozen=True)
class SegmentGap:
    """The widest spread of one figure between two values of the same segment column.

    ``better`` and ``worse`` are ``(value, figure)`` pairs; better is higher, except for a cost.
    """

    figure: str
    column: str
    better: tuple[str, float]
    worse: tuple[str, float]

    @property
    def gap(self) -> float:
        """The absolute difference of the two figures."""
        return abs(self.better[1] - self.worse[1])


@dataclass(frozen=True)
class ModelCardInputs:
    """Everything the card shows. ``version`` is ``"pending"`` until the registry assigns one.

    ``batches`` maps each batch id read for training (ids start with their day,
    ``YYYY-MM-DD``) to the sha256 of its file. The model's parameters are the contract's
    ``model`` section. Segments with fewer than ``min_segment_positives`` positives are marked
    unreliable and left out of the gaps: pass the promotion gate's ``segment_min_positives``, so
    the card and the gate agree on what "too few" is. ``warnings`` are the candidate's
    (`training.candidate.Candidate.warnings`). ``metric_interval`` is the bootstrap interval of
    the gate's metric on this holdout (`training.gate.holdout_interval`); None leaves it out.
    ``sensitivity`` is `feature_sensitivity` on the holdout; None lists the contract's features
    unranked. Leave ``intended_use``, ``out_of_scope`` and ``limitations`` as ``None`` to use
    defaults derived from the contract and the figures; ``owner`` None says none is recorded.
    """

    model_name: str
    created_at: datetime
    contract: DatasetContract
    data: DataWindow
    batches: Mapping[str, str]
    code_revision: str
    metrics: Metrics
    segments: Mapping[str, Mapping[str, SegmentMetrics]]
    leakage_checks: Sequence[LeakageCheckResult]
    min_segment_positives: int
    warnings: Sequence[str]
    version: str = "pending"
    metric_interval: BootstrapInterval | None = None
    sensitivity: Sensitivity | None = None
    owner: str | None = None
    intended_use: str | None = None
    out_of_scope: tuple[str, ...] | None = None
    limitations: tuple[str, ...] | None = None


# --- computations ---------------------------------------------------------------------------


def feature_sensitivity(
    pipeline: Pipeline,
    frame: pd.DataFrame,
    contract: DatasetContract,
    threshold: float,
    *,
    seed: int = 0,
    max_rows: int = 5_000,
    threads: int | None = None,
) -> Sensitivity:
    """Shuffle each feature of ``frame`` (e.g. the holdout) in turn and measure how scores move.

    Needs no label, so a single-class holdout works too. Deterministic: the rows (at most
    ``max_rows``, drawn without replacement) and every shuffle come from ``seed``; ties keep
    contract order. Costs one scoring of the rows per feature, on ``threads`` OpenMP threads
    (None: one per core; on shared cores 1 is often faster, as for the fit).
    """
    rows = _sample_rows(frame, max_rows, seed)
    if rows.empty:
        return Sensitivity(0, seed, ())
    rng = np.random.default_rng(seed)
    with threadpool_limits(limits=threads, user_api="openmp"):
        base = score(pipeline, rows, contract)
        measured = [
            _shuffled_change(pipeline, rows, contract, feature, base, threshold, rng)
            for feature in contract.features
        ]
    ranked = sorted(measured, key=lambda s: -s.mean_score_change)
    return Sensitivity(len(rows), seed, tuple(ranked))


def _shuffled_change(
    pipeline: Pipeline,
    rows: pd.DataFrame,
    contract: DatasetContract,
    feature: str,
    base: npt.NDArray[np.float64],
    threshold: float,
    rng: np.random.Generator,
) -> FeatureSensitivity:
    """`FeatureSensitivity` of ``feature``: ``rows`` rescored with that column permuted."""
    order = rng.permutation(len(rows))
    shuffled = rows.assign(**{feature: rows[feature].iloc[order].set_axis(rows.index)})
    moved = score(pipeline, shuffled, contract)
    flipped = (moved >= threshold) != (base >= threshold)
    return FeatureSensitivity(
        feature, float(np.mean(np.abs(moved - base))), float(np.mean(flipped))
    )


def largest_gaps(
    segments: Mapping[str, Mapping[str, SegmentMetrics]], min_positives: int
) -> tuple[SegmentGap, ...]:
    """Per figure, its largest gap between two values of one segment column, over all columns.

    The figures, in order: PR-AUC, ROC-AUC, recall and precision at the threshold, cost per row.
    Only values with at least ``min_positives`` positives and a defined figure are compared; a
    figure that no column has two such values of is left out. Ties go to the earlier column.
    """
    found = (
        _largest_gap(segments, field, higher, min_positives) for field, _, higher in _GAP_FIGURES
    )
    return tuple(gap for gap in found if gap is not None)


def _largest_gap(
    segments: Mapping[str, Mapping[str, SegmentMetrics]],
    field: str,
    higher_is_better: bool,
    min_positives: int,
) -> SegmentGap | None:
    widest: SegmentGap | None = None
    for column, by_value in segments.items():
        gap = _column_gap(column, by_value, field, higher_is_better, min_positives)
        if gap is not None and (widest is None or gap.gap > widest.gap):
            widest = gap
    return widest


def _column_gap(
    column: str,
    by_value: Mapping[str, SegmentMetrics],
    field: str,
    higher_is_better: bool,
    min_positives: int,
) -> SegmentGap | None:
    values = [
        (str(value), float(figure))
        for value, m in by_value.items()
        if m.n_positives >= min_positives and (figure := getattr(m, field)) is not None
    ]
    if len(values) < 2:
        return None
    ranked = sorted(values, key=lambda pair: pair[1], reverse=higher_is_better)
    return SegmentGap(field, column, ranked[0], ranked[-1])


def _sample_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``frame``, in their order, with a fresh 0..n-1 index."""
    if len(frame) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(frame), max_rows, replace=False))
        frame = frame.iloc[keep]
    return frame.reset_index(drop=True)


# --- default texts from the contract --------------------------------------------------------


def positive_class(contract: DatasetContract) -> str:
    """The positive class as the card names it: the label column, ``=``, the positive value."""
    return f"`{contract.label_column}` = {contract.positive}"


def label_timing(contract: DatasetContract) -> str:
    """How a label becomes known: the contract's column, or its constant delay after the event."""
    if contract.label_available_time_column is not None:
        return f"`{contract.label_available_time_column}` says when each became known"
    assert contract.label_delay is not None  # a contract has one of the two
    return (
        f"each becomes known {format_duration(contract.label_delay)} after "
        f"`{contract.event_time_column}`"
    )


def default_intended_use(contract: DatasetContract) -> str:
    """What the model is for, from the contract's description, label and costs."""
    costs = contract.costs
    return (
        f"Scores each `{contract.name}` row with the probability that {positive_class(contract)}, "
        f"and flags it when the score reaches the decision threshold. "
        f"{contract.description.strip()} The threshold is chosen for the contract's costs: a "
        f"missed positive costs {costs.false_negative:.2f} {costs.currency}, a false alarm "
        f"{costs.false_positive:.2f} {costs.currency}."
    ).replace("  ", " ")


def default_out_of_scope(contract: DatasetContract) -> tuple[str, ...]:
    """Uses the model was not built or evaluated for, from the contract's label, rows and costs."""
    costs, cur = contract.costs, contract.costs.currency
    items = [
        f"A verdict on a single row. A flag means {positive_class(contract)} is likely enough to "
        "be worth acting on at the contract's costs, not that it holds; an automated decision "
        "about a person needs human review and its own evaluation.",
        f"Rows other than `{contract.name}` rows as the contract defines them (one per "
        f"`{contract.id_column}`, with its {len(contract.features)} features, their types and "
        "categories): another population, source or product needs its own training and "
        "evaluation.",
        f"Predicting anything but {positive_class(contract)} as the contract defines it "
        f"({label_timing(contract)}): another outcome, another horizon, or how large the "
        "outcome is.",
        f"Decisions at other error costs than the contract's (a missed positive "
        f"{costs.false_negative:.2f} {cur}, a false alarm {costs.false_positive:.2f} {cur}): "
        "the threshold is right only for these.",
    ]
    if contract.extra_segments:
        items.append(
            f"Inferring or deciding anything by {_codes(contract.extra_segments)}: recorded only "
            "to check that the model treats those groups alike, never fed to the model."
        )
    return tuple(items)


def default_limitations(inputs: ModelCardInputs) -> tuple[str, ...]:
    """Caveats a reader must know, including the segments whose figures rest on few positives."""
    contract, data = inputs.contract, inputs.data
    unevaluated = (data.cutoff.date() - data.holdout_window[1]).days
    costs = contract.costs
    items = [
        f"The figures come from one holdout of {data.n_holdout_rows} rows with "
        f"{data.n_holdout_positives} positives, taken from the data the contract describes up "
        "to the cutoff: they describe that data, not data from later or from elsewhere.",
        f"Labels arrive late ({label_timing(contract)}): only rows labelled by the cutoff "
        f"{_when(data.cutoff)} were used, so the {unevaluated} day(s) between the holdout's "
        f"end ({data.holdout_window[1].isoformat()}) and the cutoff are not evaluated.",
        f"The threshold minimises cost on the holdout for a false negative at "
        f"{costs.false_negative:.2f} {costs.currency} and a false positive at "
        f"{costs.false_positive:.2f} {costs.currency}, so the holdout cost at it is optimistic; "
        "other costs or a shifted base rate need a new threshold.",
    ]
    thin = _thin_segments(inputs)
    if thin:
        items.append(
            f"Segments with fewer than {inputs.min_segment_positives} positives on the holdout "
            f"have unreliable figures: {', '.join(thin)}."
        )
    return tuple(items)


def default_ethical_considerations(contract: DatasetContract) -> tuple[str, ...]:
    """What the model's use can do to the people behind the rows, from the contract's roles."""
    extra = contract.extra_segments
    watched = (
        f"{_codes(extra)} never reach the model, yet its features can stand in for them: "
        "compare their groups under Quantitative analyses before relying on the model for them."
        if extra
        else "No segment is watched without being a model input, so whether a feature stands "
        "in for a sensitive attribute is not measured here; add such a column to the contract's "
        "`segments` (not its `features`) to measure it."
    )
    return (
        watched,
        f"A flag is a reason to look closer, not a verdict. Where a row stands for a person, a "
        f"false alarm costs them more than the contract's {contract.costs.false_positive:.2f} "
        f"{contract.costs.currency}, which prices only the business side; they should be able "
        "to have it reviewed.",
        "Acting on the flags changes which outcomes are observed later (a row acted on may "
        "never show its outcome), so the labels the next version learns from are shaped by this "
        "one's decisions.",
        f"The model reads only the contract's features: the row id `{contract.id_column}` and "
        "the time columns are never inputs.",
    )


def _thin_segments(inputs: ModelCardInputs) -> list[str]:
    """``column=value (positives)`` of the segment values below the positives the gate needs."""
    return [
        f"{column}={value} ({m.n_positives})"
        for column, by_value in inputs.segments.items()
        for value, m in by_value.items()
        if m.n_positives < inputs.min_segment_positives
    ]


# --- rendering ------------------------------------------------------------------------------


def render_model_card(inputs: ModelCardInputs) -> str:
    """The card as Markdown, its sections in Mitchell et al.'s order, ending in one newline.

    The batch hashes close the card as an appendix: one row per batch would bury the rest.
    """
    sections = [
        _header(inputs),
        _summary(inputs),
        _model_details(inputs),
        _intended_use(inputs),
        _factors(inputs),
        _metrics(inputs),
        _evaluation_data(inputs),
        _training_data(inputs),
        _quantitative_analyses(inputs),
        _ethical_considerations(inputs),
        _caveats(inputs),
        _appendix(inputs),
    ]
    return "\n\n".join(s.rstrip() for s in sections) + "\n"


def _header(inputs: ModelCardInputs) -> str:
    return (
        f"# Model card: {inputs.model_name} (version {inputs.version})\n\n"
        f"Created {_when(inputs.created_at)} from contract `{inputs.contract.name}` "
        f"v{inputs.contract.version}."
    )


def _summary(inputs: ModelCardInputs) -> str:
    m, costs = inputs.metrics, inputs.contract.costs
    lines = [
        f"On the holdout ({m.n_rows} rows, {m.n_positives} positives): PR-AUC {_num(m.pr_auc)}, "
        f"ROC-AUC {_num(m.roc_auc)}. At the cost-optimal threshold {_score(m.threshold)} it "
        f"flags {m.n_flagged} rows with precision {_num(m.precision_at_threshold)} and recall "
        f"{_num(m.recall_at_threshold)}, for an expected cost of "
        f"{_money(m.expected_cost_per_row)} {costs.currency} per row.{_interval_sentence(inputs)}",
        _gap_sentence(inputs),
        _warnings_sentence(inputs),
    ]
    return "## Summary\n\n" + "\n\n".join(line for line in lines if line)


def _interval_sentence(inputs: ModelCardInputs) -> str:
    interval = inputs.metric_interval
    if interval is None:
        return ""
    return (
        f" Resampling the holdout's rows, the {interval.confidence:.0%} interval of "
        f"{_METRIC_NAMES.get(interval.metric, interval.metric)} is {interval.low:.4f} to "
        f"{interval.high:.4f}."
    )


def _gap_sentence(inputs: ModelCardInputs) -> str:
    """The largest gap of the first comparable figure, or why none is measured."""
    if not inputs.segments:
        return ""
    gaps = largest_gaps(inputs.segments, inputs.min_segment_positives)
    if not gaps:
        return (
            "No gap between segments is measured: no segment has two values with at least "
            f"{inputs.min_segment_positives} positives each."
        )
    return f"Largest gap between segments in {_describe_gap(gaps[0])}."


def _describe_gap(gap: SegmentGap) -> str:
    return (
        f"{_figure_name(gap.figure)}: `{gap.column}` = {gap.better[0]} at "
        f"{_gap_value(gap.figure, gap.better[1])} against {gap.worse[0]} at "
        f"{_gap_value(gap.figure, gap.worse[1])}, {_gap_value(gap.figure, gap.gap)} apart"
    )


def _warnings_sentence(inputs: ModelCardInputs) -> str:
    count = len(inputs.warnings)
    if not count:
        return "Warnings: none."
    return f"**Warnings: {count}**, listed under Caveats and recommendations."


def _model_details(inputs: ModelCardInputs) -> str:
    contract = inputs.contract
    rows = [
        ["Version", inputs.version],
        ["Created", _when(inputs.created_at)],
        ["Model type", _MODEL_TYPE],
        ["Output", f"`{contract.score_name}`: the probability that {positive_class(contract)}"],
        ["Code revision", f"`{inputs.code_revision}`"],
        ["Contract", f"`{contract.name}` v{contract.version}, hash `{contract.content_hash()}`"],
        ["Owner", inputs.owner or f"not recorded (contract `{contract.name}` names none)"],
    ]
    features = ", ".join(f"`{c}`" for c in contract.features)
    text = f"Model inputs ({len(contract.features)} features): {features}."
    if contract.extra_segments:
        text += f" Segments {_NOT_INPUT}, evaluated only: {_codes(contract.extra_segments)}."
    params = [[name, f"`{value}`"] for name, value in contract.model.to_dict().items()]
    return (
        "## Model details\n\n"
        + _table(["detail", "value"], rows)
        + f"\n\n{text}\n\n### Parameters\n\n"
        + _table(["parameter", "value"], params)
    )


def _intended_use(inputs: ModelCardInputs) -> str:
    text = inputs.intended_use or default_intended_use(inputs.contract)
    items = (
        inputs.out_of_scope
        if inputs.out_of_scope is not None
        else default_out_of_scope(inputs.contract)
    )
    return (
        f"## Intended use\n\n{text}\n\nIntended users: the team that owns the decision the "
        "contract describes, and the people who review the flagged rows.\n\n"
        "### Out-of-scope uses\n\n" + _bullets(items)
    )


def _factors(inputs: ModelCardInputs) -> str:
    contract = inputs.contract
    if not contract.segments:
        return (
            "## Factors\n\nThe contract declares no segments: results are not broken down by "
            "group, so differences between groups are not measured. List category columns under "
            "the contract's `segments` to measure them."
        )
    rows = [
        [
            f"`{column}`",
            "yes" if column in contract.features else "no: evaluated only",
            ", ".join(str(v) for v in contract.columns[column].categories or ()),
            contract.columns[column].description,
        ]
        for column in contract.segments
    ]
    return (
        "## Factors\n\nResults are broken down by the contract's segments, each value a group of "
        "rows (see Quantitative analyses). Time is a factor too: the figures come from one "
        "holdout window (see Evaluation data), and monitoring follows them window by window "
        "after deployment.\n\n" + _table(["segment", "model input", "values", "description"], rows)
    )


def _metrics(inputs: ModelCardInputs) -> str:
    d = inputs.data
    intro = (
        "## Metrics\n\nPR-AUC is the headline figure: it measures how well the model ranks the "
        f"positives ({_rate(d.n_holdout_positives, d.n_holdout_rows)} of the holdout rows) above "
        "the negatives and, unlike ROC-AUC, it drops when positives are rare and hard to pick "
        "out. The Brier score checks calibration (the threshold reads the score as a "
        f"probability); recall at FPR <= {inputs.metrics.target_fpr:g} is the share of positives "
        "caught within a fixed false-alarm budget. At the threshold: precision, recall and the "
        "expected cost under the contract's costs."
    )
    return "\n\n".join([intro, _performance(inputs), _threshold(inputs)])


def _performance(inputs: ModelCardInputs) -> str:
    m = inputs.metrics
    rows = [
        ["PR-AUC (average precision)", _num(m.pr_auc)],
        ["ROC-AUC", _num(m.roc_auc)],
        ["Brier score (lower is better)", _num(m.brier)],
        [f"Recall at FPR <= {m.target_fpr:g}", _num(m.recall_at_fpr)],
        ["Rows", str(m.n_rows)],
        ["Positives", str(m.n_positives)],
    ]
    interval = inputs.metric_interval
    if interval is not None:
        rows.insert(
            _METRIC_ROWS.index(interval.metric) + 1,
            [
                f"{interval.confidence:.0%} interval of "
                f"{_METRIC_NAMES.get(interval.metric, interval.metric)} (bootstrap, "
                f"{interval.resamples} resamples, seed {interval.seed})",
                f"{interval.low:.4f} to {interval.high:.4f}",
            ],
        )
    text = "### Holdout performance\n\n" + _table(["metric", "value"], rows)
    notes = [*m.notes, _no_interval_note(inputs), _GATE_NOTE]
    return text + "\n\n" + "\n".join(f"- Note: {note}" for note in notes if note)


def _no_interval_note(inputs: ModelCardInputs) -> str:
    """Why the table has no interval row; empty when it has one."""
    if inputs.metric_interval is not None:
        return ""
    m = inputs.metrics
    if m.n_positives == 0 or m.n_positives == m.n_rows:
        return "no bootstrap interval: the holdout holds a single class."
    return "no bootstrap interval was computed for this model card."


def _threshold(inputs: ModelCardInputs) -> str:
    m, costs = inputs.metrics, inputs.contract.costs
    cur = costs.currency
    fn, fp = costs.false_negative, costs.false_positive
    rationale = (
        f"A row is flagged when its score is at or above {_score(m.threshold)}: the threshold "
        f"with the lowest total cost on the holdout, false negatives x {_money(fn)} {cur} + false "
        f"positives x {_money(fp)} {cur}. A missed positive costs {fn / fp:.3g} times a false "
        f"alarm. For a perfectly calibrated score the break-even would be {_score(fp / (fp + fn))} "
        "(flag when the expected cost of letting the row through exceeds that of a false alarm); "
        "the chosen threshold is the holdout's own optimum, so the cost at it is optimistic."
    )
    rows = [
        ["Decision threshold (flag when score >= threshold)", _score(m.threshold)],
        [f"Cost of a false negative ({cur})", _money(fn)],
        [f"Cost of a false positive ({cur})", _money(fp)],
        ["Rows flagged", str(m.n_flagged)],
        ["Precision at threshold", _num(m.precision_at_threshold)],
        ["Recall at threshold", _num(m.recall_at_threshold)],
        [f"Expected cost on the holdout ({cur})", _money(m.expected_cost)],
        [f"Expected cost per row ({cur})", _money(m.expected_cost_per_row)],
    ]
    return (
        "### Decision threshold and its cost rationale\n\n"
        + rationale
        + "\n\n"
        + _table(["figure", "value"], rows)
    )


def _evaluation_data(inputs: ModelCardInputs) -> str:
    d = inputs.data
    grown = ""
    if d.requested_holdout_days is not None and d.holdout_days > d.requested_holdout_days:
        grown = f", grown from the {d.requested_holdout_days} requested to hold more positives"
    return (
        f"## Evaluation data\n\nThe holdout is the most recent {d.holdout_days} labelled day(s)"
        f"{grown}, after every training row, so the model is evaluated on days it has not seen. "
        "It is also this version's reference: the promotion gate compares models on it and "
        "monitoring compares live rows with it.\n\n"
        + _window_table(d.holdout_window, d.n_holdout_rows, d.n_holdout_positives)
        + f"\n\nBatches dated in the window: {_batch_span(_batches_in(inputs, 'holdout'))}; "
        "their hashes are in the appendix."
    )


def _training_data(inputs: ModelCardInputs) -> str:
    d, c = inputs.data, inputs.contract
    if c.label_available_time_column is not None:
        rule = (
            f"A row is used only if `{c.event_time_column}` and "
            f"`{c.label_available_time_column}` are both at or before the cutoff"
        )
    else:
        assert c.label_delay is not None  # a contract has one of the two
        rule = (
            f"A row is used only if its label was known by the cutoff: `{c.event_time_column}` "
            f"plus the label delay of {format_duration(c.label_delay)} at or before it"
        )
    return (
        f"## Training data\n\nLabel cutoff: {_when(d.cutoff)}. {rule}. The label is 1 when "
        f"{positive_class(c)}. Train covers {d.train_days} day(s) and ends the day before the "
        "holdout starts.\n\n"
        + _window_table(d.train_window, d.n_train_rows, d.n_train_positives)
        + f"\n\nBatches dated in the window: {_batch_span(_batches_in(inputs, 'train'))}."
        + "\n\n"
        + _lineage(inputs)
        + "\n\n"
        + _leakage(inputs)
    )


def _window_table(window: DateWindow, rows: int, positives: int) -> str:
    return _table(
        ["first day", "last day", "days", "rows", "positives", "positive rate"],
        [[*_window(window), _days(window), rows, positives, _rate(positives, rows)]],
    )


def _lineage(inputs: ModelCardInputs) -> str:
    contract = inputs.contract
    return (
        "### Lineage\n\n"
        f"- Contract: `{contract.name}` v{contract.version}, hash `{contract.content_hash()}`\n"
        f"- Code revision: `{inputs.code_revision}`\n"
        f"- Batches read: {len(inputs.batches)}{_batch_roles(inputs)}"
    )


def _batch_roles(inputs: ModelCardInputs) -> str:
    """A table of what the batches were used for (count, first, last); empty without batches."""
    if not inputs.batches:
        return ""
    by_role: dict[str, list[str]] = {}
    for batch in sorted(inputs.batches):
        by_role.setdefault(_batch_role(batch, inputs.data), []).append(batch)
    rows = [[role, len(ids), ids[0], ids[-1]] for role, ids in by_role.items()]
    return ", each one's sha256 in the appendix\n\n" + _table(
        ["used for", "batches", "first", "last"], rows
    )


def _appendix(inputs: ModelCardInputs) -> str:
    batches = [
        [batch, _batch_role(batch, inputs.data), f"`{sha}`"]
        for batch, sha in sorted(inputs.batches.items())
    ]
    body = (
        _table(["batch", "used for", "sha256"], batches) if batches else "No batch hashes recorded."
    )
    return "## Appendix: batch hashes\n\n" + body


def _batch_role(batch: str, data: DataWindow) -> str:
    """What a batch's day makes of it: train, holdout, or why it was read but not used."""
    day = _batch_day(batch)
    if day is None:
        return "unknown (not a dated batch id)"
    if data.train_window[0] <= day <= data.train_window[1]:
        return "train"
    if data.holdout_window[0] <= day <= data.holdout_window[1]:
        return "holdout"
    if day > data.holdout_window[1]:
        return "not used (no label known by the cutoff)"
    return "not used (before the train window)"


def _batches_in(inputs: ModelCardInputs, role: str) -> list[str]:
    return sorted(b for b in inputs.batches if _batch_role(b, inputs.data) == role)


def _batch_span(batches: Sequence[str]) -> str:
    """``none``, the one id, or ``first to last (n batches)`` of ids in order."""
    if not batches:
        return "none recorded"
    if len(batches) == 1:
        return f"`{batches[0]}`"
    return f"`{batches[0]}` to `{batches[-1]}` ({len(batches)} batches)"


def _batch_day(batch: str) -> date | None:
    """The day a batch id starts with (``YYYY-MM-DD``), or None."""
    try:
        return date.fromisoformat(batch[:10])
    except ValueError:
        return None


def _leakage(inputs: ModelCardInputs) -> str:
    rows = [[r.name, "passed" if r.passed else "FAILED", r.detail] for r in inputs.leakage_checks]
    body = _table(["check", "result", "detail"], rows) if rows else "No leakage checks recorded."
    return "### Leakage checks\n\n" + body


def _quantitative_analyses(inputs: ModelCardInputs) -> str:
    if not inputs.segments:
        return (
            "## Quantitative analyses\n\nThe contract declares no segment columns, so the "
            "figures are not broken down and no gap between groups is measured."
        )
    return "\n\n".join(["## Quantitative analyses", _gaps(inputs), *_segment_tables(inputs)])


def _gaps(inputs: ModelCardInputs) -> str:
    n = inputs.min_segment_positives
    gaps = largest_gaps(inputs.segments, n)
    thin = _thin_segments(inputs)
    left_out = f" Left out: {', '.join(thin)}." if thin else ""
    text = (
        "### Largest gaps between segments\n\nPer figure, the two values of one segment that lie "
        f"furthest apart, over all segments; values with fewer than {n} positives are left out, "
        f"their figures being mostly noise.{left_out}"
    )
    if not gaps:
        return f"{text}\n\nNo segment has two values with at least {n} positives each."
    rows = [
        [
            _figure_name(g.figure),
            f"`{g.column}`",
            f"{g.better[0]}: {_gap_value(g.figure, g.better[1])}",
            f"{g.worse[0]}: {_gap_value(g.figure, g.worse[1])}",
            _gap_value(g.figure, g.gap),
        ]
        for g in gaps
    ]
    return (
        f"{text}\n\n"
        + _table(["figure", "segment", "better", "worse", "gap"], rows)
        + f"\n\nThe largest gap in {_describe_gap(gaps[0])}."
    )


def _segment_tables(inputs: ModelCardInputs) -> list[str]:
    header = [
        "value", "rows", "positives", "PR-AUC", "ROC-AUC", "precision", "recall", "cost/row",
        "note",
    ]  # fmt: skip
    parts = [
        "Figures at the decision threshold. Segments with fewer than "
        f"{inputs.min_segment_positives} positives are marked unreliable."
    ]
    for column, by_value in inputs.segments.items():
        rows = [
            [value, m.n_rows, m.n_positives, _num(m.pr_auc), _num(m.roc_auc),
             _num(m.precision_at_threshold), _num(m.recall_at_threshold),
             _money(m.expected_cost_per_row),
             "unreliable: few positives" if m.n_positives < inputs.min_segment_positives else ""]
            for value, m in by_value.items()
        ]  # fmt: skip
        title = column if column in inputs.contract.features else f"{column} {_NOT_INPUT}"
        parts.append(f"### {title}\n\n" + _table(header, rows))
    return parts


def _ethical_considerations(inputs: ModelCardInputs) -> str:
    return "## Ethical considerations\n\n" + _bullets(
        default_ethical_considerations(inputs.contract)
    )


def _caveats(inputs: ModelCardInputs) -> str:
    items = inputs.limitations if inputs.limitations is not None else default_limitations(inputs)
    return "\n\n".join(
        [
            "## Caveats and recommendations",
            _warnings(inputs),
            "### Known limitations\n\n" + _bullets(items),
            _drift(inputs),
        ]
    )


def _warnings(inputs: ModelCardInputs) -> str:
    intro = (
        "### Warnings\n\nRecorded with the version at training; the promotion gate repeats them "
        "in its decision.\n\n"
    )
    return intro + (_bullets(inputs.warnings) if inputs.warnings else "None.")


def _drift(inputs: ModelCardInputs) -> str:
    contract, d = inputs.contract, inputs.data
    items = [
        f"Prior shift: the holdout's positive rate was "
        f"{_rate(d.n_holdout_positives, d.n_holdout_rows)}. The threshold is cost-optimal at that "
        "rate; if the share of positives changes, precision and the best threshold change with "
        "it, even when no feature drifts.",
        f"Concept drift: a change in how the features relate to {positive_class(contract)} "
        f"leaves their distributions alone; it shows only in matured labels "
        f"({label_timing(contract)}), so it is seen that late.",
    ]
    if contract.extra_segments:
        items.append(
            f"A change in the mix of {_codes(contract.extra_segments)} groups does not move the "
            "scores, but moves the overall figures toward the groups that grow."
        )
    return (
        "### Drift it is sensitive to\n\nMonitoring compares live rows with this version's "
        "reference (its holdout rows). " + _covariate_drift(inputs) + "\n\n" + _bullets(items)
    )


def _covariate_drift(inputs: ModelCardInputs) -> str:
    """Which features a shift matters most in: measured, or the contract's list when not."""
    s = inputs.sensitivity
    if s is None or not s.features:
        return (
            "Which features the model leans on was not measured for this version, so they are "
            "listed from the contract, unranked: a shift in any of "
            f"{_codes(inputs.contract.features)} can move the scores."
        )
    rows = [
        [f"`{f.feature}`", f"{f.mean_score_change:.4f}", f"{f.flipped_share:.2%}"]
        for f in s.features
    ]
    top = [f.feature for f in s.features[:_TOP_FEATURES] if f.mean_score_change > 0]
    lean = (
        f"The model leans most on {_codes(top)}: a shift in them moves the scores, and the "
        "flags, most. A feature whose change is near 0 barely moves the scores: drift in it "
        "alone is unlikely to hurt the model, though it can signal a wider change in the data."
        if top
        else "Shuffling no feature moved the scores: the model's output does not depend on them."
    )
    return (
        "A shift matters most in the features the model leans on. Measured on "
        f"{s.n_rows} holdout rows, each feature's values shuffled across the rows in turn (seed "
        f"{s.seed}), the other features unchanged:\n\n"
        + _table(["feature", "mean score change", "decisions flipped"], rows)
        + f"\n\n{lean}"
    )


# --- formatting -----------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [_row(header), "| " + " | ".join("---" for _ in header) + " |"]
    lines += [_row(row) for row in rows]
    return "\n".join(lines)


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _codes(names: Sequence[str]) -> str:
    """Names as inline code, joined with commas and a final "and"."""
    quoted = [f"`{name}`" for name in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _figure_name(field: str) -> str:
    return next(name for f, name, _ in _GAP_FIGURES if f == field)


def _gap_value(field: str, value: float) -> str:
    """A cost reads as money, every other figure with four decimals."""
    return _money(value) if field == "expected_cost_per_row" else _num(value)


def _num(value: float | None) -> str:
    return _NA if value is None else f"{value:.4f}"


def _score(value: float) -> str:
    """A threshold keeps four significant digits: small ones are common with lopsided costs."""
    return f"{value:.4g}"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _rate(part: int, whole: int) -> str:
    return _NA if whole == 0 else f"{part / whole:.2%}"


def _days(window: DateWindow) -> int:
    return (window[1] - window[0]).days + 1


def _window(window: DateWindow) -> list[str]:
    return [window[0].isoformat(), window[1].isoformat()]


def _when(moment: datetime) -> str:
    """ISO time; a naive time is UTC by the data's convention, so it says so."""
    text = moment.isoformat(timespec="seconds")
    return text if moment.tzinfo is not None else f"{text} UTC"
