"""`largest_gaps`: the widest spread of each figure between two values of one segment column."""

from __future__ import annotations

import pytest

from training.evaluate import SegmentMetrics
from training.model_card import SegmentGap, largest_gaps


def seg(
    n_positives: int,
    pr_auc: float | None,
    recall: float | None = 0.5,
    cost: float = 1.0,
) -> SegmentMetrics:
    return SegmentMetrics(
        n_rows=1000,
        n_positives=n_positives,
        pr_auc=pr_auc,
        roc_auc=None if pr_auc is None else 0.9,
        precision_at_threshold=0.3,
        recall_at_threshold=recall,
        expected_cost_per_row=cost,
    )


def by_figure(gaps: tuple[SegmentGap, ...]) -> dict[str, SegmentGap]:
    return {gap.figure: gap for gap in gaps}


def test_the_widest_spread_wins_across_columns() -> None:
    segments = {
        # spread 0.30 between a and c; b sits in between
        "region": {"a": seg(40, 0.80), "b": seg(40, 0.70), "c": seg(40, 0.50)},
        # spread 0.45, but "tiny" has too few positives, so only 0.05 counts
        "plan": {"x": seg(40, 0.75), "y": seg(40, 0.70), "tiny": seg(3, 0.30)},
    }
    gap = by_figure(largest_gaps(segments, min_positives=15))["pr_auc"]
    assert (gap.column, gap.better, gap.worse) == ("region", ("a", 0.80), ("c", 0.50)), gap
    assert gap.gap == pytest.approx(0.30)
    with_tiny = by_figure(largest_gaps(segments, min_positives=3))["pr_auc"]
    assert (with_tiny.column, with_tiny.worse) == ("plan", ("tiny", 0.30)), with_tiny
    assert with_tiny.gap == pytest.approx(0.45)


def test_lower_cost_is_the_better_value() -> None:
    segments = {"region": {"a": seg(40, 0.8, cost=2.5), "b": seg(40, 0.7, cost=0.5)}}
    gap = by_figure(largest_gaps(segments, min_positives=15))["expected_cost_per_row"]
    assert (gap.better, gap.worse) == (("b", 0.5), ("a", 2.5)), gap
    assert gap.gap == pytest.approx(2.0)


def test_undefined_figures_and_lone_values_are_left_out() -> None:
    segments = {
        "region": {"a": seg(40, None), "b": seg(40, 0.7)},  # one defined PR-AUC: no pair
        "plan": {"only": seg(40, 0.9)},
    }
    gaps = by_figure(largest_gaps(segments, min_positives=15))
    assert "pr_auc" not in gaps, gaps
    assert "roc_auc" not in gaps, gaps
    assert set(gaps) == {"recall_at_threshold", "precision_at_threshold", "expected_cost_per_row"}


def test_no_comparable_pair_gives_no_gap() -> None:
    assert largest_gaps({}, min_positives=15) == ()
    thin = {"region": {"a": seg(2, 0.8), "b": seg(1, 0.2)}}
    assert largest_gaps(thin, min_positives=15) == ()


def test_ties_go_to_the_earlier_column_and_figures_keep_their_order() -> None:
    segments = {
        "first": {"a": seg(40, 0.8), "b": seg(40, 0.6)},
        "second": {"c": seg(40, 0.9), "d": seg(40, 0.7)},
    }
    gaps = largest_gaps(segments, min_positives=15)
    assert by_figure(gaps)["pr_auc"].column == "first", gaps
    assert [g.figure for g in gaps] == [
        "pr_auc",
        "roc_auc",
        "recall_at_threshold",
        "precision_at_threshold",
        "expected_cost_per_row",
    ]
