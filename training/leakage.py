"""Leakage checks that stop a training run before a too-good-to-be-true model is registered.

Each check returns a `LeakageCheckResult`; `run_leakage_checks` runs them all and raises
`LeakageError` naming every failed check, its column(s) and numbers. When all pass, the list of
results goes into the model card, so a reader sees what was checked and with what margin.

The checks, and the failure each guards against:

- ``features_present``: a feature missing from the split (the other checks could not see it).
- ``role_columns_in_features``: the label, its availability time (when the contract has that
  column) or the row id used as a feature by name.
- ``label_derived_features``: a feature equal to the label, to 1 - label, or with at most two
  values each of which maps to a single label on the train set (a relabelled copy).
- ``rows_after_cutoff``: a row that happened, or whose label became known (its label-available
  time, or its event time plus the contract's label delay), after the cutoff.
- ``id_in_train_and_holdout``: the same row id on both sides, which inflates holdout scores.
- ``single_feature_auc``: one feature alone ranks the train labels almost perfectly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import DatasetContract
from training.split import TimeSplit, label_known_text

_MISSING = "<missing>"
_EXAMPLES = 5


@dataclass(frozen=True)
class LeakageCheckResult:
    """The outcome of one check: its name, whether it passed, and the numbers behind it."""

    name: str
    passed: bool
    detail: str


class LeakageError(ValueError):
    """One or more leakage checks failed; ``results`` holds every check's outcome."""

    def __init__(self, results: Sequence[LeakageCheckResult]) -> None:
        self.results = list(results)
        failed = [r for r in self.results if not r.passed]
        lines = [f"leakage check '{r.name}' failed: {r.detail}" for r in failed]
        super().__init__(
            f"{len(failed)} leakage check(s) failed, training stopped:\n" + "\n".join(lines)
        )

    @property
    def failed(self) -> list[LeakageCheckResult]:
        """The checks that did not pass."""
        return [r for r in self.results if not r.passed]


def run_leakage_checks(
    split: TimeSplit,
    contract: DatasetContract,
    features: Sequence[str],
    *,
    max_single_feature_auc: float,
) -> list[LeakageCheckResult]:
    """Run every check on ``split`` for the given feature list and return their results.

    ``max_single_feature_auc`` is the training section's threshold
    (`training.config.TrainingConfig.max_single_feature_auc`). Value-based checks (label
    copies, single-feature AUC) look at the train set only, which is what the model learns from.

    Raises:
        LeakageError: at least one check failed; its message lists each failure.
    """
    present = [f for f in features if f in split.train.columns and f in split.holdout.columns]
    results = [
        check_features_present(split, features),
        check_role_columns(contract, features),
        check_label_derived_features(split.train, contract, present),
        check_rows_after_cutoff(split, contract),
        check_id_overlap(split, contract),
        check_single_feature_auc(split.train, contract, present, max_auc=max_single_feature_auc),
    ]
    if not all(r.passed for r in results):
        raise LeakageError(results)
    return results


def check_features_present(split: TimeSplit, features: Sequence[str]) -> LeakageCheckResult:
    """Every feature is a column of both train and holdout."""
    name = "features_present"
    missing = {
        side: [f for f in features if f not in part.columns]
        for side, part in (("train", split.train), ("holdout", split.holdout))
    }
    gaps = [f"{side} lacks {cols}" for side, cols in missing.items() if cols]
    if gaps:
        return LeakageCheckResult(name, False, "; ".join(gaps))
    return LeakageCheckResult(name, True, f"all {len(features)} features present on both sides")


def check_role_columns(contract: DatasetContract, features: Sequence[str]) -> LeakageCheckResult:
    """No feature is the label, the label-available time (if any) or the id column, by name."""
    name = "role_columns_in_features"
    roles = {contract.label_column: "the label", contract.id_column: "the row id"}
    if contract.label_available_time_column is not None:
        roles[contract.label_available_time_column] = "the time the label became known"
    hits = [f"'{f}' ({roles[f]})" for f in features if f in roles]
    if hits:
        return LeakageCheckResult(
            name, False, f"feature list contains role column(s): {', '.join(hits)}"
        )
    return LeakageCheckResult(
        name, True, f"none of {sorted(roles)} among the {len(features)} features"
    )


def check_label_derived_features(
    train: pd.DataFrame, contract: DatasetContract, features: Sequence[str]
) -> LeakageCheckResult:
    """No feature is a relabelled copy of the label on the train set.

    A feature is flagged when it has at most two distinct values (missing counts as a value)
    and each value occurs with a single label while both labels occur: it then equals the
    label, equals 1 - label, or is another two-value encoding of it.
    """
    name = "label_derived_features"
    y = train[contract.label_column].astype("int64")
    if y.nunique() < 2:
        return LeakageCheckResult(
            name, False, f"train has a single label value ({len(y)} rows); cannot check features"
        )
    hits: list[str] = []
    for feature in features:
        column = train[feature]
        key = column.astype(object).where(column.notna(), _MISSING)
        if key.nunique() > 2:
            continue
        by_value = y.groupby(key, sort=False)
        if (by_value.nunique() == 1).all():
            hits.append(f"'{feature}' {_describe_copy(column, y, by_value.first())}")
    if hits:
        return LeakageCheckResult(
            name,
            False,
            f"{len(hits)} feature(s) determine '{contract.label_column}' on all {len(y)} train "
            f"rows: {'; '.join(hits)}",
        )
    return LeakageCheckResult(
        name,
        True,
        f"no feature with <= 2 values maps each value to a single label ({len(features)} "
        f"features, {len(y)} train rows)",
    )


def check_rows_after_cutoff(split: TimeSplit, contract: DatasetContract) -> LeakageCheckResult:
    """No row in train or holdout happened, or had its label known, after the cutoff.

    A label is known at ``contract.label_known_at`` (its label-available time, or the event
    time plus the label delay); a missing time counts as "not known by the cutoff".
    """
    name = "rows_after_cutoff"
    event = contract.event_time_column
    problems: list[str] = []
    for side, part in (("train", split.train), ("holdout", split.holdout)):
        late_events = int((part[event] > split.cutoff).sum())
        late_labels = int((~(contract.label_known_at(part) <= split.cutoff)).sum())
        if late_events:
            problems.append(f"{side}: {late_events} of {len(part)} rows have '{event}' > cutoff")
        if late_labels:
            problems.append(
                f"{side}: {late_labels} of {len(part)} rows have a label known after the cutoff "
                f"or never (known {label_known_text(contract)})"
            )
    if problems:
        return LeakageCheckResult(
            name, False, f"cutoff {split.cutoff.isoformat()}; " + "; ".join(problems)
        )
    return LeakageCheckResult(
        name,
        True,
        f"all {len(split.train)} train and {len(split.holdout)} holdout rows happened and were "
        f"labelled by {split.cutoff.isoformat()}",
    )


def check_id_overlap(split: TimeSplit, contract: DatasetContract) -> LeakageCheckResult:
    """No row id appears in both train and holdout."""
    name = "id_in_train_and_holdout"
    column = contract.id_column
    shared = sorted(set(split.train[column].astype(str)) & set(split.holdout[column].astype(str)))
    if shared:
        return LeakageCheckResult(
            name,
            False,
            f"{len(shared)} '{column}' value(s) in both train and holdout, e.g. "
            f"{shared[:_EXAMPLES]}",
        )
    return LeakageCheckResult(name, True, f"no '{column}' shared between train and holdout")


def check_single_feature_auc(
    train: pd.DataFrame,
    contract: DatasetContract,
    features: Sequence[str],
    *,
    max_auc: float,
) -> LeakageCheckResult:
    """No single feature ranks the train labels with ROC-AUC >= ``max_auc`` on its own."""
    name = "single_feature_auc"
    y = train[contract.label_column].astype("int64").to_numpy()
    if len(np.unique(y)) < 2:
        return LeakageCheckResult(
            name,
            False,
            f"train has a single label value ({len(y)} rows); per-feature ROC-AUC is undefined",
        )
    aucs = feature_aucs(train, contract, features)
    ranked = sorted(aucs.items(), key=lambda item: item[1], reverse=True)
    hits = [(f, auc) for f, auc in ranked if auc >= max_auc]
    if hits:
        listed = ", ".join(f"'{f}' {auc:.4f}" for f, auc in hits)
        return LeakageCheckResult(
            name,
            False,
            f"{len(hits)} feature(s) alone reach ROC-AUC >= {max_auc} on train: {listed}; a "
            "single feature this predictive is usually the label recorded another way",
        )
    top = ", ".join(f"'{f}' {auc:.4f}" for f, auc in ranked[:3])
    return LeakageCheckResult(
        name, True, f"max single-feature ROC-AUC below {max_auc}; highest: {top}"
    )


def feature_aucs(
    train: pd.DataFrame, contract: DatasetContract, features: Sequence[str]
) -> dict[str, float]:
    """Each feature's ROC-AUC for the label on its own, folded to [0.5, 1].

    Category (and text) columns are target-rate encoded on the same rows, which gives their
    best possible ordering. Numeric columns are ranked as they are, with missing values ranked
    once below and once above every value; the stronger of the two counts.
    """
    y = train[contract.label_column].astype("int64").to_numpy()
    return {f: _feature_auc(train[f], y, _is_categorical(train[f], contract, f)) for f in features}


def _is_categorical(column: pd.Series, contract: DatasetContract, name: str) -> bool:
    spec = contract.columns.get(name)
    if spec is not None and spec.dtype in ("category", "string"):
        return True
    numeric = pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
    return not (numeric or pd.api.types.is_datetime64_any_dtype(column))


def _feature_auc(column: pd.Series, y: np.ndarray, categorical: bool) -> float:
    if categorical:
        key = column.astype(object).where(column.notna(), _MISSING).astype(str)
        rate = pd.Series(y, index=column.index).groupby(key).mean()
        return _folded_auc(key.map(rate).to_numpy(dtype=float), y)
    if pd.api.types.is_datetime64_any_dtype(column):
        values = (column - column.min()).dt.total_seconds()
    else:
        values = pd.to_numeric(column, errors="coerce").astype(float)
    array = values.to_numpy(dtype=float)
    missing = np.isnan(array)
    if not missing.any():
        return _folded_auc(array, y)
    if missing.all():
        return 0.5
    low = np.where(missing, -np.inf, array)
    high = np.where(missing, np.inf, array)
    return max(_folded_auc(low, y), _folded_auc(high, y))


def _folded_auc(values: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney ROC-AUC with average ranks for ties, as max(auc, 1 - auc)."""
    ranks = pd.Series(values).rank(method="average").to_numpy()
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    auc = (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(max(auc, 1.0 - auc))


def _plain(value: object) -> object:
    """A NumPy scalar as the Python value it holds, so messages read ``1`` not ``np.int64(1)``."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _describe_copy(column: pd.Series, y: pd.Series, label_of: pd.Series) -> str:
    if pd.api.types.is_numeric_dtype(column) and column.notna().all():
        values = column.astype(float).to_numpy()
        if np.array_equal(values, y.to_numpy(dtype=float)):
            return "equals the label"
        if np.array_equal(values, 1.0 - y.to_numpy(dtype=float)):
            return "equals 1 - label"
    mapping = ", ".join(f"{_plain(value)!r} -> {int(label)}" for value, label in label_of.items())
    return f"maps each value to one label ({mapping})"
