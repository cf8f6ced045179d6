from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pandas as pd
import pytest

from features.contract import DatasetContract
from training.evaluate import evaluate, evaluate_segments
from training.fit import ModelParams
from training.leakage import LeakageCheckResult
from training.model_card import DataWindow, ModelCardInputs, render_model_card
from training.split import time_split

SECTIONS = [
    "# Model card: card-fraud (version pending)",
    "## Summary",
    "## Intended use",
    "## Limitations",
    "## Training data",
    "## Lineage",
    "## Holdout performance",
    "## Decision threshold and business cost",
    "## Performance by segment",
    "### channel",
    "### merchant_category",
    "## Leakage checks",
    "## Model and parameters",
]


@pytest.fixture
def inputs(contract: DatasetContract) -> ModelCardInputs:
    holdout = pd.DataFrame(
        {
            "channel": ["online", "online", "online", "card_present", "card_present"],
            "merchant_category": ["travel", "travel", "fuel", "fuel", "fuel"],
            "is_fraud": [1, 0, 1, 0, 0],
        }
    )
    scores = [0.9, 0.8, 0.6, 0.3, 0.1]
    metrics = evaluate(holdout["is_fraud"], scores, contract.costs)
    return ModelCardInputs(
        model_name="card-fraud",
        created_at=datetime(2026, 2, 1, 9, 30),
        contract=contract,
        data=DataWindow(
            train_window=(date(2026, 1, 1), date(2026, 1, 20)),
            holdout_window=(date(2026, 1, 21), date(2026, 1, 27)),
            cutoff=pd.Timestamp("2026-01-31"),
            n_train_rows=1600,
            n_train_positives=112,
            n_holdout_rows=5,
            n_holdout_positives=2,
        ),
        batches={"2026-01-02": "b" * 64, "2026-01-01": "a" * 64},
        code_revision="0123abc",
        metrics=metrics,
        segments=evaluate_segments(holdout, scores, contract, metrics.threshold),
        leakage_checks=[
            LeakageCheckResult("rows_after_cutoff", True, "all rows labelled by the cutoff"),
            LeakageCheckResult("single_feature_auc", True, "highest: 'amount' 0.7840 | x"),
        ],
        params=ModelParams(max_iter=40),
    )


def test_card_has_every_section_in_order(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    positions = [card.find(heading + "\n") for heading in SECTIONS]
    missing = [h for h, p in zip(SECTIONS, positions, strict=True) if p < 0]
    assert not missing, f"sections missing: {missing}"
    assert positions == sorted(positions), "sections should appear in the documented order"
    assert card.endswith("\n"), "the card should end with a newline"
    assert not card.endswith("\n\n"), "only one trailing newline"


def test_card_shows_the_numbers(inputs: ModelCardInputs, contract: DatasetContract) -> None:
    card = render_model_card(inputs)
    m = inputs.metrics
    expected = [
        f"| PR-AUC (average precision) | {m.pr_auc:.4f} |",
        f"| ROC-AUC | {m.roc_auc:.4f} |",
        f"| Decision threshold (flag when score >= threshold) | {m.threshold:.4g} |",
        "| Cost of a false negative (EUR) | 120.00 |",
        "| Cost of a false positive (EUR) | 4.00 |",
        f"| Expected cost on the holdout (EUR) | {m.expected_cost:,.2f} |",
        "| train | 2026-01-01 | 2026-01-20 | 1600 | 112 | 7.00% |",
        "| holdout | 2026-01-21 | 2026-01-27 | 5 | 2 | 40.00% |",
        "Label cutoff: 2026-01-31T00:00:00 UTC",
        f"`{contract.content_hash()}`",
        "- Code revision: `0123abc`",
        f"| 2026-01-01 | `{'a' * 64}` |",
        "| rows_after_cutoff | passed | all rows labelled by the cutoff |",
        "| max_iter | `40` |",
        "Created 2026-02-01T09:30:00 UTC",
    ]
    missing = [line for line in expected if line not in card]
    assert not missing, f"lines missing from the card: {missing}\n{card}"
    assert card.index("2026-01-01 |") < card.index("2026-01-02 |"), "batches sorted by id"
    assert "0.7840 \\| x" in card, "a pipe inside a cell must be escaped"


def test_card_flags_segments_with_few_positives(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    online_row = next(line for line in card.splitlines() if line.startswith("| online |"))
    assert online_row.endswith("| unreliable: few positives |"), online_row
    assert "channel=online (2)" in card, "the limitations should list thin segments"
    roomy = render_model_card(dataclasses.replace(inputs, min_segment_positives=1))
    online_row = next(line for line in roomy.splitlines() if line.startswith("| online |"))
    assert "unreliable" not in online_row, online_row


def test_default_use_and_limitations_come_from_the_contract(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    for phrase in (
        "One row per card authorisation",
        "Not for credit",
        "synthetic data",
        "4 day(s) between the holdout's end (2026-01-27) and the cutoff",
        "120.00 EUR",
    ):
        assert phrase in card, f"default text should mention {phrase!r}"


def test_given_use_and_limitations_replace_the_defaults(inputs: ModelCardInputs) -> None:
    custom = dataclasses.replace(
        inputs, intended_use="Scores test traffic.", limitations=("Only a test.",)
    )
    card = render_model_card(custom)
    assert "Scores test traffic." in card, card
    assert "- Only a test." in card, card
    assert "synthetic data" not in card, "given limitations replace the defaults"


def test_data_window_from_split(contract: DatasetContract, transactions: pd.DataFrame) -> None:
    split = time_split(transactions, contract, pd.Timestamp("2026-01-31"), holdout_days=7)
    window = DataWindow.from_split(split, contract)
    assert window.n_holdout_rows == len(split.holdout), window
    assert window.n_train_positives == int(split.train["is_fraud"].sum()), window
    assert (window.train_window, window.holdout_window) == (
        split.train_window,
        split.holdout_window,
    ), window


def test_card_shows_undefined_figures_as_na(inputs: ModelCardInputs) -> None:
    single = evaluate([0, 0], [0.2, 0.1], inputs.contract.costs)
    card = render_model_card(dataclasses.replace(inputs, metrics=single))
    assert "| ROC-AUC | n/a |" in card, "an undefined AUC should read n/a"
    assert "- Note: pr_auc, roc_auc and recall_at_fpr undefined" in card, card
