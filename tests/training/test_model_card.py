from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pandas as pd
import pytest

from features.contract import DatasetContract, parse_contract
from training.candidate import Candidate
from training.evaluate import BootstrapInterval, evaluate, evaluate_segments
from training.gate import GatePolicy, holdout_interval
from training.leakage import LeakageCheckResult
from training.model_card import (
    DataWindow,
    FeatureSensitivity,
    ModelCardInputs,
    Sensitivity,
    render_model_card,
)
from training.split import time_split

#: Mitchell et al.'s sections in their order, after a summary; the batch hashes close the card.
SECTIONS = [
    "# Model card: card-fraud (version pending)",
    "## Summary",
    "## Model details",
    "### Parameters",
    "## Intended use",
    "### Out-of-scope uses",
    "## Factors",
    "## Metrics",
    "### Holdout performance",
    "### Decision threshold and its cost rationale",
    "## Evaluation data",
    "## Training data",
    "### Lineage",
    "### Leakage checks",
    "## Quantitative analyses",
    "### Largest gaps between segments",
    "### channel",
    "### merchant_category",
    "## Ethical considerations",
    "## Caveats and recommendations",
    "### Warnings",
    "### Known limitations",
    "### Drift it is sensitive to",
    "## Appendix: batch hashes",
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
        "| 2026-01-01 | 2026-01-20 | 20 | 1600 | 112 | 7.00% |",
        "| 2026-01-21 | 2026-01-27 | 7 | 5 | 2 | 40.00% |",
        "Label cutoff: 2026-01-31T00:00:00 UTC",
        f"| Contract | `card_fraud` v1, hash `{contract.content_hash()}` |",
        "| Code revision | `0123abc` |",
        "| Version | pending |",
        "| Created | 2026-02-01T09:30:00 UTC |",
        "| Output | `fraud_probability`: the probability that `is_fraud` = 1 |",
        "| Owner | not recorded (contract `card_fraud` names none) |",
        "- Code revision: `0123abc`",
        f"| 2026-01-01 | train | `{'a' * 64}` |",
        "| train | 2 | 2026-01-01 | 2026-01-02 |",
        "| rows_after_cutoff | passed | all rows labelled by the cutoff |",
        "| max_iter | `40` |",
        "Created 2026-02-01T09:30:00 UTC",
        "| `channel` | yes | card_present, contactless, online |  |",
        # 120 / 4 = 30; the break-even of a calibrated score is 4 / (4 + 120).
        "A missed positive costs 30 times a false alarm",
        f"the break-even would be {4 / 124:.4g}",
    ]
    missing = [line for line in expected if line not in card]
    assert not missing, f"lines missing from the card: {missing}\n{card}"
    appendix = card[card.index("## Appendix: batch hashes") :]
    assert appendix.index("| 2026-01-01 |") < appendix.index("| 2026-01-02 |"), "sorted by id"
    assert "0.7840 \\| x" in card, "a pipe inside a cell must be escaped"


def test_card_flags_segments_with_few_positives(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    online_row = next(line for line in card.splitlines() if line.startswith("| online |"))
    assert online_row.endswith("| unreliable: few positives |"), online_row
    assert "channel=online (2)" in card, "the limitations should list thin segments"
    gaps = card[card.index("### Largest gaps") : card.index("### channel")]
    assert "No segment has two values with at least 15 positives each." in gaps, gaps
    assert "channel=online (2)" in gaps, "the gaps say which values they leave out"
    roomy = render_model_card(dataclasses.replace(inputs, min_segment_positives=1))
    online_row = next(line for line in roomy.splitlines() if line.startswith("| online |"))
    assert "unreliable" not in online_row, online_row


def test_default_use_and_limitations_come_from_the_contract(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    for phrase in (
        "One row per card authorisation",
        "the probability that `is_fraud` = 1",
        "A verdict on a single row. A flag means `is_fraud` = 1 is likely enough",
        "Rows other than `card_fraud` rows as the contract defines them (one per "
        "`transaction_id`, with its 10 features",
        "Predicting anything but `is_fraud` = 1 as the contract defines it "
        "(`label_available_at` says when each became known)",
        "Decisions at other error costs than the contract's (a missed positive 120.00 EUR, a "
        "false alarm 4.00 EUR)",
        "one holdout of 5 rows with 2 positives",
        "Labels arrive late (`label_available_at` says when each became known)",
        "4 day(s) between the holdout's end (2026-01-27) and the cutoff",
        "`event_time` and `label_available_at` are both at or before the cutoff",
        "120.00 EUR",
    ):
        assert phrase in card, f"default text should mention {phrase!r}"
    assert "synthetic" not in card, "the card makes no claim about where the data came from"
    assert "per transaction" not in card, "costs are per row"


def test_out_of_scope_uses_follow_the_intended_use(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    section = card[card.index("### Out-of-scope uses\n") : card.index("## Factors\n")]
    bullets = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(bullets) == 4, (
        f"four generic out-of-scope uses for a contract without extra segments:\n{section}"
    )


def test_given_texts_replace_the_defaults(inputs: ModelCardInputs) -> None:
    custom = dataclasses.replace(
        inputs,
        intended_use="Scores test traffic.",
        out_of_scope=("Production traffic.",),
        limitations=("Only a test.",),
        owner="Risk analytics team",
    )
    card = render_model_card(custom)
    assert "Scores test traffic." in card, card
    assert "### Out-of-scope uses\n\n- Production traffic.\n" in card, card
    assert "- Only a test." in card, card
    assert "| Owner | Risk analytics team |" in card, card
    assert "A verdict on a single row" not in card, "given out-of-scope uses replace the defaults"
    assert "one holdout of 5 rows" not in card, "given limitations replace the defaults"


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


def test_single_class_holdout_has_no_interval_and_says_why(
    contract: DatasetContract, inputs: ModelCardInputs
) -> None:
    labels, scores = [0, 0, 0], [0.2, 0.1, 0.3]
    single = evaluate(labels, scores, inputs.contract.costs, target_fpr=0.01)
    interval = holdout_interval(labels, scores, GatePolicy(), target_fpr=0.01)
    assert interval is None, "the gate gives no interval for a single class"
    card = render_model_card(dataclasses.replace(inputs, metrics=single, metric_interval=None))
    assert "interval of PR-AUC" not in card, card
    assert "- Note: no bootstrap interval: the holdout holds a single class." in card, card
    plain = render_model_card(inputs)
    assert "- Note: no bootstrap interval was computed for this model card." in plain, plain


def test_warnings_section_lists_the_candidates_warnings(inputs: ModelCardInputs) -> None:
    none = render_model_card(inputs)
    assert "in its decision.\n\nNone.\n" in none, "no warning reads None"
    assert "Warnings: none." in none, "the summary says there is none"
    warned = render_model_card(dataclasses.replace(inputs, warnings=("few positives", "b")))
    assert "in its decision.\n\n- few positives\n- b\n" in warned, warned
    assert "**Warnings: 2**, listed under Caveats and recommendations." in warned, warned


def test_card_says_when_the_holdout_grew(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    assert "The holdout is the most recent 7 labelled day(s), after every training row" in card
    grown = dataclasses.replace(inputs.data, requested_holdout_days=5)
    card = render_model_card(dataclasses.replace(inputs, data=grown))
    assert "most recent 7 labelled day(s), grown from the 5 requested" in card, card


def test_card_of_another_use_case_speaks_its_language(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    card = render_model_card(_churn_inputs(churn_candidate, churn_contract, 15))
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
        "| `gender` | no: evaluated only | f, m, x |  |",
        "Inferring or deciding anything by `gender`: recorded only to check",
        "`gender` never reach the model, yet its features can stand in for them",
        "A change in the mix of `gender` groups does not move the scores",
        "(each becomes known 7d after `snapshot_at`), so it is seen that late",
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


def test_card_names_the_largest_gap_between_segments(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    segments = churn_candidate.segments
    inputs = _churn_inputs(churn_candidate, churn_contract, min_segment_positives=15)
    # Worked out by hand: among values with >= 15 positives, PR-AUC spreads widest in one column.
    spreads = {
        column: sorted(
            (m.pr_auc, value)
            for value, m in by_value.items()
            if m.n_positives >= 15 and m.pr_auc is not None
        )
        for column, by_value in segments.items()
    }
    column, ranked = max(
        ((c, r) for c, r in spreads.items() if len(r) >= 2),
        key=lambda cr: cr[1][-1][0] - cr[1][0][0],
    )
    (low, worse), (high, better) = ranked[0], ranked[-1]
    card = render_model_card(inputs)
    row = f"| PR-AUC | `{column}` | {better}: {high:.4f} | {worse}: {low:.4f} | {high - low:.4f} |"
    assert row in card, f"expected {row!r} in:\n{card}"
    sentence = (
        f"Largest gap between segments in PR-AUC: `{column}` = {better} at {high:.4f} against "
        f"{worse} at {low:.4f}, {high - low:.4f} apart."
    )
    summary = card[card.index("## Summary") : card.index("## Model details")]
    assert sentence in summary, f"the summary names the largest gap:\n{summary}"
    thin = [f"{c}={v}" for c, by in segments.items() for v, m in by.items() if m.n_positives < 15]
    gaps = card[card.index("### Largest gaps") : card.index("### plan")]
    for name in thin:
        assert name in gaps, f"{name} has too few positives and should be listed as left out"
        assert f"| {name.split('=')[1]}: " not in gaps, f"{name} must not enter a gap"


def test_card_without_segments_says_so_in_each_section(
    contract: DatasetContract, inputs: ModelCardInputs
) -> None:
    bare = parse_contract(
        {**inputs.contract.model_dump(mode="json"), "segments": []}, source="bare (test)"
    )
    card = render_model_card(dataclasses.replace(inputs, contract=bare, segments={}))
    assert "## Factors\n\nThe contract declares no segments" in card, card
    assert "## Quantitative analyses\n\nThe contract declares no segment columns" in card, card
    assert "### Largest gaps" not in card, card
    assert "Largest gap between segments" not in card, "no gap sentence without segments"
    assert "No gap between segments is measured" not in card, card
    headings = [line for line in card.splitlines() if line.startswith("#")]
    assert headings.index("## Quantitative analyses") + 1 == headings.index(
        "## Ethical considerations"
    ), headings


def test_lineage_says_what_each_batch_was_used_for(inputs: ModelCardInputs) -> None:
    batches = {
        "2025-12-31": "0" * 64,  # before the train window (2026-01-01..20)
        "2026-01-05": "1" * 64,
        "2026-01-05.b": "2" * 64,  # a day's second batch
        "2026-01-21": "3" * 64,  # holdout (2026-01-21..27)
        "2026-01-27": "4" * 64,
        "2026-01-30": "5" * 64,  # after the holdout, before the cutoff (2026-01-31)
        "manual-upload": "6" * 64,
    }
    card = render_model_card(dataclasses.replace(inputs, batches=batches))
    for line in (
        "- Batches read: 7, each one's sha256 in the appendix",
        "| not used (before the train window) | 1 | 2025-12-31 | 2025-12-31 |",
        "| train | 2 | 2026-01-05 | 2026-01-05.b |",
        "| holdout | 2 | 2026-01-21 | 2026-01-27 |",
        "| not used (no label known by the cutoff) | 1 | 2026-01-30 | 2026-01-30 |",
        "| unknown (not a dated batch id) | 1 | manual-upload | manual-upload |",
        f"| 2026-01-05.b | train | `{'2' * 64}` |",
        f"| 2026-01-30 | not used (no label known by the cutoff) | `{'5' * 64}` |",
        "Batches dated in the window: `2026-01-21` to `2026-01-27` (2 batches); their hashes",
        "Batches dated in the window: `2026-01-05` to `2026-01-05.b` (2 batches).",
    ):
        assert line in card, f"expected {line!r} in:\n{card}"
    empty = render_model_card(dataclasses.replace(inputs, batches={}))
    assert "- Batches read: 0\n" in empty, empty
    assert "No batch hashes recorded." in empty, empty
    assert "Batches dated in the window: none recorded" in empty, empty


def test_drift_section_ranks_measured_features(inputs: ModelCardInputs) -> None:
    measured = Sensitivity(
        n_rows=5,
        seed=0,
        features=(
            FeatureSensitivity("amount", 0.25, 0.4),
            FeatureSensitivity("channel", 0.125, 0.2),
            FeatureSensitivity("country", 0.0625, 0.0),
            FeatureSensitivity("customer_age", 0.0, 0.0),
        ),
    )
    card = render_model_card(dataclasses.replace(inputs, sensitivity=measured))
    drift = card[card.index("### Drift it is sensitive to") : card.index("## Appendix")]
    for line in (
        "Measured on 5 holdout rows, each feature's values shuffled across the rows in turn "
        "(seed 0)",
        "| `amount` | 0.2500 | 40.00% |",
        "| `customer_age` | 0.0000 | 0.00% |",
        "The model leans most on `amount`, `channel` and `country`: a shift in them",
        "- Prior shift: the holdout's positive rate was 40.00%.",
    ):
        assert line in drift, f"expected {line!r} in:\n{drift}"
    assert drift.index("`amount`") < drift.index("`customer_age`"), "largest change first"


def test_drift_section_falls_back_to_the_contract(inputs: ModelCardInputs) -> None:
    card = render_model_card(inputs)
    drift = card[card.index("### Drift it is sensitive to") : card.index("## Appendix")]
    assert "was not measured for this version, so they are listed from the contract" in drift
    assert "`amount`, `merchant_category`, `channel`" in drift, drift
    assert "| feature |" not in drift, "no table without measurements"
    flat = Sensitivity(5, 0, tuple(FeatureSensitivity(f, 0.0, 0.0) for f in ("amount", "channel")))
    card = render_model_card(dataclasses.replace(inputs, sensitivity=flat))
    assert "Shuffling no feature moved the scores" in card, card


def _churn_inputs(
    candidate: Candidate, contract: DatasetContract, min_segment_positives: int
) -> ModelCardInputs:
    return ModelCardInputs(
        model_name=contract.model_name,
        created_at=datetime(2026, 2, 10),
        contract=contract,
        data=DataWindow.from_split(candidate.split, contract),
        batches={},
        code_revision="abc",
        metrics=candidate.metrics,
        segments=candidate.segments,
        leakage_checks=candidate.leakage_checks,
        min_segment_positives=min_segment_positives,
        warnings=candidate.warnings,
    )
