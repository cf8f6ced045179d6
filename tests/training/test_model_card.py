from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pandas as pd
import pytest

from features.contract import DatasetContract, parse_contract
from training.candidate import Candidate
from training.evaluate import BootstrapInterval, evaluate, evaluate_segments
from training.gate import GatePolicy
from training.leakage import LeakageCheckResult
from training.model_card import DataWindow, ModelCardInputs, render_model_card
from training.split import time_split

SECTIONS = [
    "# Model card: card-fraud (version pending)",
    "## Summary",
    "## Warnings",
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
    metrics = evaluate(holdout["is_fraud"], scores, contract.costs, target_fpr=0.01)
    fast = parse_contract(
        {**contract.model_dump(mode="json"), "model": {"max_iter": 40}}, source="fast (test)"
    )
    return ModelCardInputs(
        model_name="card-fraud",
        created_at=datetime(2026, 2, 1, 9, 30),
        contract=fast,
        data=DataWindow(
            train_window=(date(2026, 1, 1), date(2026, 1, 20)),
            holdout_window=(date(2026, 1, 21), date(2026, 1, 27)),
            cutoff=pd.Timestamp("2026-01-31"),
            n_train_rows=1600,
            n_train_positives=112,
            n_holdout_rows=5,
            n_holdout_positives=2,
            requested_holdout_days=7,
        ),
        batches={"2026-01-02": "b" * 64, "2026-01-01": "a" * 64},
        code_revision="0123abc",
        metrics=metrics,
        segments=evaluate_segments(holdout, scores, contract, metrics.threshold),
        leakage_checks=[
            LeakageCheckResult("rows_after_cutoff", True, "all rows labelled by the cutoff"),
            LeakageCheckResult("single_feature_auc", True, "highest: 'amount' 0.7840 | x"),
        ],
        min_segment_positives=GatePolicy().segment_min_positives,
        warnings=(),
    )


def test_card_has_every_section_in_order(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    positions = [card.find(heading + "\n") for heading in SECTIONS]
    missing = [h for h, p in zip(SECTIONS, positions, strict=True) if p < 0]
    assert not missing, f"sections missing: {missing}"
    assert positions == sorted(positions), "sections should appear in the documented order"
    assert card.endswith("\n"), "the card should end with a newline"
    assert not card.endswith("\n\n"), "only one trailing newline"


def test_card_shows_the_numbers(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    contract = inputs.contract
    m = inputs.metrics
    expected = [
        f"| PR-AUC (average precision) | {m.pr_auc:.4f} |",
        f"| ROC-AUC | {m.roc_auc:.4f} |",
        f"| Decision threshold (flag when score >= threshold) | {m.threshold:.4g} |",
        "| Cost of a false negative (EUR) | 120.00 |",
        "| Cost of a false positive (EUR) | 4.00 |",
        f"| Expected cost on the holdout (EUR) | {m.expected_cost:,.2f} |",
        f"| Expected cost per row (EUR) | {m.expected_cost_per_row:,.2f} |",
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
        "the probability that `is_fraud` = 1",
        "Only for the decision the contract describes",
        "one holdout of 5 rows with 2 positives",
        "Labels arrive late (`label_available_at` says when each became known)",
        "4 day(s) between the holdout's end (2026-01-27) and the cutoff",
        "`event_time` and `label_available_at` are both at or before the cutoff",
        "120.00 EUR",
    ):
        assert phrase in card, f"default text should mention {phrase!r}"
    assert "synthetic" not in card, "the card makes no claim about where the data came from"
    assert "per transaction" not in card, "costs are per row"


def test_given_use_and_limitations_replace_the_defaults(inputs: ModelCardInputs) -> None:
    custom = dataclasses.replace(
        inputs, intended_use="Scores test traffic.", limitations=("Only a test.",)
    )
    card = render_model_card(custom)
    assert "Scores test traffic." in card, card
    assert "- Only a test." in card, card
    assert "Only for the decision" not in card, "given limitations replace the defaults"


def test_data_window_from_split(contract: DatasetContract, transactions: pd.DataFrame) -> None:
    split = time_split(transactions, contract, pd.Timestamp("2026-01-31"), holdout_days=7)
    window = DataWindow.from_split(split, contract)
    assert window.n_holdout_rows == len(split.holdout), window
    assert window.requested_holdout_days == 7, window
    assert window.n_train_positives == int(split.train["is_fraud"].sum()), window
    assert (window.train_window, window.holdout_window) == (
        split.train_window,
        split.holdout_window,
    ), window


def test_card_shows_undefined_figures_as_na(inputs: ModelCardInputs) -> None:
    single = evaluate([0, 0], [0.2, 0.1], inputs.contract.costs, target_fpr=0.01)
    card = render_model_card(dataclasses.replace(inputs, metrics=single))
    assert "| ROC-AUC | n/a |" in card, "an undefined AUC should read n/a"
    assert "- Note: pr_auc, roc_auc and recall_at_fpr undefined" in card, card


def test_warnings_section_lists_the_candidates_warnings(inputs: ModelCardInputs) -> None:
    none = render_model_card(inputs)
    assert "## Warnings\n\nNone.\n" in none, "no warning reads None"
    warned = render_model_card(dataclasses.replace(inputs, warnings=("few positives", "b")))
    assert "## Warnings\n\n- few positives\n- b\n" in warned, warned


def test_card_says_when_the_holdout_grew(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    assert "The holdout is the most recent 7 labelled day(s), and train" in card, card
    grown = dataclasses.replace(inputs.data, requested_holdout_days=5)
    card = render_model_card(dataclasses.replace(inputs, data=grown))
    assert "most recent 7 labelled day(s), grown from the 5 requested" in card, card


def test_card_of_another_use_case_speaks_its_language(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    card = render_model_card(
        ModelCardInputs(
            model_name=churn_contract.model_name,
            created_at=datetime(2026, 2, 10),
            contract=churn_contract,
            data=DataWindow.from_split(churn_candidate.split, churn_contract),
            batches={},
            code_revision="abc",
            metrics=churn_candidate.metrics,
            segments=churn_candidate.segments,
            leakage_checks=churn_candidate.leakage_checks,
            min_segment_positives=15,
            warnings=churn_candidate.warnings,
        )
    )
    lowered = card.lower()
    for word in ("fraud", "transaction", "txn", "chargeback", "eur"):
        assert word not in lowered, f"a churn card should not say {word!r}:\n{card}"
    for phrase in (
        "# Model card: churn (version pending)",
        "the probability that `churned` = yes",
        "The label is 1 when `churned` = yes",
        "each becomes known 7d after `snapshot_at`",
        "`snapshot_at` plus the label delay of 7d at or before it",
        "USD per row",
        "### plan\n",
        "### gender (not a model input)\n",
        "Segments (not a model input), evaluated only: `gender`.",
        "| max_iter | `40` |",
    ):
        assert phrase in card, f"the card should say {phrase!r}:\n{card}"


def test_card_shows_the_gate_metrics_interval_when_given(inputs: ModelCardInputs) -> None:
    plain = render_model_card(inputs)
    assert "interval of PR-AUC" not in plain, "no interval given, none shown"
    assert "paired bootstrap interval of the gain" in plain, "the card says where the gate's is"
    assert "`gate.numbers`" in plain, plain
    interval = BootstrapInterval("pr_auc", 0.8333, 0.5, 1.0, 0.95, 2000, 0)
    card = render_model_card(dataclasses.replace(inputs, metric_interval=interval))
    assert "the 95% interval of PR-AUC is 0.5000 to 1.0000." in card, card
    row = "| 95% interval of PR-AUC (bootstrap, 2000 resamples, seed 0) | 0.5000 to 1.0000 |"
    lines = card.splitlines()
    assert lines.index(row) == lines.index(f"| PR-AUC (average precision) | {0.8333:.4f} |") + 1, (
        "the interval row follows its metric's row"
    )
    roc = dataclasses.replace(interval, metric="roc_auc")
    card = render_model_card(dataclasses.replace(inputs, metric_interval=roc))
    assert "| 95% interval of ROC-AUC (bootstrap, 2000 resamples, seed 0) |" in card, card
