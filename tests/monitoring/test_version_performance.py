"""Per-version figures and matured-label counts of a performance window (pure parts)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import DatasetContract
from features.metrics import pr_auc
from features.vocabulary import MODEL_VERSION
from monitoring.reports import matured_label_counts, version_performance


def labelled_frame(contract: DatasetContract) -> pd.DataFrame:
    """12 predictions: v2 on day 1 (6 rows), v10 on day 2 (4), no version named (2)."""
    labels = [0, 1, 0, 1, None, 0, 1, 0, 0, None, 1, 0]
    return pd.DataFrame(
        {
            contract.id_column: [f"r{i}" for i in range(12)],
            contract.event_time_column: pd.to_datetime(
                ["2026-03-01T10:00"] * 6 + ["2026-03-02T10:00"] * 4 + ["2026-03-02T11:00"] * 2
            ),
            MODEL_VERSION: ["2"] * 6 + ["10"] * 4 + [None] * 2,
            contract.score_name: [0.1, 0.9, 0.2, 0.8, 0.5, 0.3, 0.4, 0.6, 0.1, 0.2, 0.7, 0.1],
            contract.label_column: pd.array(labels, dtype="Int64"),
        }
    )


def test_each_version_keeps_its_own_rows_and_reference(contract: DatasetContract) -> None:
    frame = labelled_frame(contract)
    references = {"2": {"pr_auc": 0.9, "pr_auc_interval_low": 0.8}}
    found = version_performance(frame, contract, references=references, min_positives=2)
    assert list(found) == ["2", "10", "(unknown)"], "numbered versions in number order"
    v2, v10 = found["2"], found["10"]
    assert (v2.n_predictions, v2.n_labelled, v2.n_positives) == (6, 5, 2), v2
    assert v2.pr_auc == pytest.approx(
        pr_auc(np.array([0, 1, 0, 1, 0]), np.array([0.1, 0.9, 0.2, 0.8, 0.3]))
    ), "the metric core on v2's matured rows only"
    assert v2.reference_pr_auc == 0.9, "its own training figure"
    assert v2.reference_pr_auc_low == 0.8, "and its interval's low end, for the policy"
    assert v2.pr_auc_drop == pytest.approx(0.9 - 1.0), v2
    assert v2.evaluated, "2 positives, 2 needed"
    assert (v2.first_day, v2.last_day) == ("2026-03-01", "2026-03-01"), v2
    assert (v10.n_labelled, v10.n_positives) == (3, 1), v10
    assert v10.reference_pr_auc is None, "no figure given: no drop either"
    assert v10.pr_auc_drop is None, v10
    assert not v10.evaluated, "1 positive of the 2 needed"
    assert found["(unknown)"].n_labelled == 2, "rows without a version are not dropped"


def test_one_class_only_has_no_pr_auc(contract: DatasetContract) -> None:
    frame = labelled_frame(contract).iloc[6:10]  # v10: labels 1, 0, 0, missing
    frame = frame.assign(**{contract.label_column: pd.array([0, 0, 0, None], dtype="Int64")})
    found = version_performance(frame, contract, references={}, min_positives=1)
    assert found["10"].pr_auc is None, "PR-AUC needs both classes"
    assert not found["10"].evaluated, found["10"]


def test_rows_not_from_the_log_have_no_versions(contract: DatasetContract) -> None:
    frame = labelled_frame(contract).drop(columns=MODEL_VERSION)
    assert version_performance(frame, contract, references={}, min_positives=1) == {}


def test_matured_labels_are_counted_per_event_day(contract: DatasetContract) -> None:
    counts = matured_label_counts(labelled_frame(contract), contract)
    assert sorted(counts) == ["2026-03-01", "2026-03-02"], counts
    assert (counts["2026-03-01"].n_labelled, counts["2026-03-01"].n_positives) == (5, 2)
    assert (counts["2026-03-02"].n_labelled, counts["2026-03-02"].n_positives) == (5, 2)
