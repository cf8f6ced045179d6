"""The model card: what a model is for, what it was trained on, and how well it does, as Markdown.

Rendering is pure: every figure comes from `ModelCardInputs`, so the same inputs always give the
same card and a test can check each number. The card travels with the model version (the
registry adapter logs it as an artifact), so a reviewer sees the data window, the lineage, the
warnings, the leakage checks and the segment figures next to the headline metrics. Its wording
comes from the contract (label, positive value, how labels become known, costs), so it reads
right for any use case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from features.contract import DatasetContract, format_duration
from features.vocabulary import GATE_TAG_PREFIX
from training.evaluate import BootstrapInterval, Metrics, SegmentMetrics
from training.leakage import LeakageCheckResult
from training.split import DateWindow, TimeSplit

_NA = "n/a"
_NOT_INPUT = "(not a model input)"
#: The metrics an interval can be of, in the order of the Holdout performance table's rows.
_METRIC_ROWS = ("pr_auc", "roc_auc", "brier", "recall_at_fpr")
_METRIC_NAMES = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC", "recall_at_fpr": "recall at the FPR"}
_GATE_NOTE = (
    "Promotion compares this model with the champion of the time on this holdout, by a paired "
    "bootstrap interval of the gain; that interval and the verdict are recorded later, in the "
    f"version's `{GATE_TAG_PREFIX}numbers` and `{GATE_TAG_PREFIX}reason` tags and in the audit "
    "log, not in this model card."
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
        first, last = self.holdout_window
        return (last - first).days + 1

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
class ModelCardInputs:
    """Everything the card shows. ``version`` is ``"pending"`` until the registry assigns one.

    ``batches`` maps each batch id used for training or holdout to the sha256 of its file. The
    model's parameters are the contract's ``model`` section. Segments with fewer than
    ``min_segment_positives`` positives are marked unreliable: pass the promotion gate's
    ``segment_min_positives``, so the card and the gate agree on what "too few" is.
    ``warnings`` are the candidate's (`training.candidate.Candidate.warnings`).
    ``metric_interval`` is the bootstrap interval of the gate's metric on this holdout
    (`training.gate.holdout_interval`); None leaves it out. Leave ``intended_use`` and
    ``limitations`` as ``None`` to use defaults derived from the contract and the figures.
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
    intended_use: str | None = None
    limitations: tuple[str, ...] | None = None


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


def default_limitations(inputs: ModelCardInputs) -> tuple[str, ...]:
    """Caveats a reader must know, including the segments whose figures rest on few positives."""
    contract, data = inputs.contract, inputs.data
    unevaluated = (data.cutoff.date() - data.holdout_window[1]).days
    costs = contract.costs
    items = [
        f"Only for the decision the contract describes: the model estimates the probability "
        f"that {positive_class(contract)}, and a high score is a reason to look closer, not a "
        "verdict. Any other use (e.g. a decision about a person) needs its own evaluation.",
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
    extra = [c for c in contract.extra_segments if c in inputs.segments]
    if extra:
        items.append(
            f"Segment(s) {', '.join(f'`{c}`' for c in extra)} never reach the model; the model can "
            "still score their groups differently through correlated features, which their "
            "rows under Performance by segment show."
        )
    thin = [
        f"{column}={value} ({m.n_positives})"
        for column, by_value in inputs.segments.items()
        for value, m in by_value.items()
        if m.n_positives < inputs.min_segment_positives
    ]
    if thin:
        items.append(
            f"Segments with fewer than {inputs.min_segment_positives} positives on the holdout "
            f"have unreliable figures: {', '.join(thin)}."
        )
    return tuple(items)


def render_model_card(inputs: ModelCardInputs) -> str:
    """The card as Markdown: headed sections with tables, ending in a newline."""
    sections = [
        _header(inputs),
        _summary(inputs),
        _warnings(inputs),
        _intended_use(inputs),
        _limitations(inputs),
        _training_data(inputs),
        _lineage(inputs),
        _performance(inputs),
        _threshold(inputs),
        _segments(inputs),
        _leakage(inputs),
        _parameters(inputs),
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
    return (
        "## Summary\n\n"
        f"On the holdout ({m.n_rows} rows, {m.n_positives} positives): PR-AUC {_num(m.pr_auc)}, "
        f"ROC-AUC {_num(m.roc_auc)}. At the cost-optimal threshold {_score(m.threshold)} it "
        f"flags {m.n_flagged} rows with precision {_num(m.precision_at_threshold)} and recall "
        f"{_num(m.recall_at_threshold)}, for an expected cost of "
        f"{_money(m.expected_cost_per_row)} {costs.currency} per row.{_interval_sentence(inputs)}"
    )


def _interval_sentence(inputs: ModelCardInputs) -> str:
    interval = inputs.metric_interval
    if interval is None:
        return ""
    return (
        f" Resampling the holdout's rows, the {interval.confidence:.0%} interval of "
        f"{_METRIC_NAMES.get(interval.metric, interval.metric)} is {interval.low:.4f} to "
        f"{interval.high:.4f}."
    )


def _warnings(inputs: ModelCardInputs) -> str:
    if not inputs.warnings:
        return "## Warnings\n\nNone."
    return "## Warnings\n\n" + "\n".join(f"- {warning}" for warning in inputs.warnings)


def _intended_use(inputs: ModelCardInputs) -> str:
    text = inputs.intended_use or default_intended_use(inputs.contract)
    return f"## Intended use\n\n{text}"


def _limitations(inputs: ModelCardInputs) -> str:
    items = inputs.limitations if inputs.limitations is not None else default_limitations(inputs)
    return "## Limitations\n\n" + "\n".join(f"- {item}" for item in items)


def _training_data(inputs: ModelCardInputs) -> str:
    d, c = inputs.data, inputs.contract
    rows = [
        ["train", *_window(d.train_window), d.n_train_rows, d.n_train_positives,
         _rate(d.n_train_positives, d.n_train_rows)],
        ["holdout", *_window(d.holdout_window), d.n_holdout_rows, d.n_holdout_positives,
         _rate(d.n_holdout_positives, d.n_holdout_rows)],
    ]  # fmt: skip
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
    grown = ""
    if d.requested_holdout_days is not None and d.holdout_days > d.requested_holdout_days:
        grown = f", grown from the {d.requested_holdout_days} requested to hold more positives"
    return (
        "## Training data\n\n"
        f"Label cutoff: {_when(d.cutoff)}. {rule}. The label is 1 when {positive_class(c)}. "
        f"The holdout is the most recent {d.holdout_days} labelled day(s){grown}, and train "
        "ends the day before it.\n\n"
        + _table(["set", "first day", "last day", "rows", "positives", "positive rate"], rows)
    )


def _lineage(inputs: ModelCardInputs) -> str:
    batches = [[batch, f"`{sha}`"] for batch, sha in sorted(inputs.batches.items())]
    body = _table(["batch", "sha256"], batches) if batches else "No batch hashes recorded."
    return (
        "## Lineage\n\n"
        f"- Contract: `{inputs.contract.name}` v{inputs.contract.version}, hash "
        f"`{inputs.contract.content_hash()}`\n"
        f"- Code revision: `{inputs.code_revision}`\n"
        f"- Batches: {len(inputs.batches)}\n\n" + body
    )


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
    text = "## Holdout performance\n\n" + _table(["metric", "value"], rows)
    notes = [*m.notes, _GATE_NOTE]
    return text + "\n\n" + "\n".join(f"- Note: {note}" for note in notes)


def _threshold(inputs: ModelCardInputs) -> str:
    m, costs = inputs.metrics, inputs.contract.costs
    cur = costs.currency
    rows = [
        ["Decision threshold (flag when score >= threshold)", _score(m.threshold)],
        [f"Cost of a false negative ({cur})", _money(costs.false_negative)],
        [f"Cost of a false positive ({cur})", _money(costs.false_positive)],
        ["Rows flagged", str(m.n_flagged)],
        ["Precision at threshold", _num(m.precision_at_threshold)],
        ["Recall at threshold", _num(m.recall_at_threshold)],
        [f"Expected cost on the holdout ({cur})", _money(m.expected_cost)],
        [f"Expected cost per row ({cur})", _money(m.expected_cost_per_row)],
    ]
    return "## Decision threshold and business cost\n\n" + _table(["figure", "value"], rows)


def _segments(inputs: ModelCardInputs) -> str:
    parts = [
        "## Performance by segment\n\n"
        f"At the decision threshold. Segments with fewer than {inputs.min_segment_positives} "
        "positives are marked unreliable."
    ]
    header = [
        "value", "rows", "positives", "PR-AUC", "ROC-AUC", "precision", "recall", "cost/row",
        "note",
    ]  # fmt: skip
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
    if not inputs.segments:
        parts.append("The contract declares no segment columns.")
    return "\n\n".join(parts)


def _leakage(inputs: ModelCardInputs) -> str:
    rows = [[r.name, "passed" if r.passed else "FAILED", r.detail] for r in inputs.leakage_checks]
    body = _table(["check", "result", "detail"], rows) if rows else "No leakage checks recorded."
    return "## Leakage checks\n\n" + body


def _parameters(inputs: ModelCardInputs) -> str:
    contract = inputs.contract
    rows = [[name, f"`{value}`"] for name, value in contract.model.to_dict().items()]
    features = ", ".join(f"`{c}`" for c in contract.features)
    text = (
        "## Model and parameters\n\n"
        "One scikit-learn Pipeline: one-hot encoding of category features (contract categories; "
        "unseen values encode as zeros), numeric features passed through, then a "
        "HistGradientBoostingClassifier, with the contract's `model` parameters.\n\n"
        f"Model inputs ({len(contract.features)} features): {features}."
    )
    if contract.extra_segments:
        extra = ", ".join(f"`{c}`" for c in contract.extra_segments)
        text += f" Segments {_NOT_INPUT}, evaluated only: {extra}."
    return text + "\n\n" + _table(["parameter", "value"], rows)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [_row(header), "| " + " | ".join("---" for _ in header) + " |"]
    lines += [_row(row) for row in rows]
    return "\n".join(lines)


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _num(value: float | None) -> str:
    return _NA if value is None else f"{value:.4f}"


def _score(value: float) -> str:
    """A threshold keeps four significant digits: small ones are common with lopsided costs."""
    return f"{value:.4g}"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _rate(part: int, whole: int) -> str:
    return _NA if whole == 0 else f"{part / whole:.2%}"


def _window(window: DateWindow) -> list[str]:
    return [window[0].isoformat(), window[1].isoformat()]


def _when(moment: datetime) -> str:
    """ISO time; a naive time is UTC by the data's convention, so it says so."""
    text = moment.isoformat(timespec="seconds")
    return text if moment.tzinfo is not None else f"{text} UTC"
