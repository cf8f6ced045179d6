from __future__ import annotations

import json

import pytest

from training.evaluate import BootstrapInterval
from training.gate import (
    GatePolicy,
    PromotionDecision,
    Scorecard,
    SegmentScore,
    decide_promotion,
    segment_drops,
)

POLICY = GatePolicy(
    metric="pr_auc",
    margin=0.01,
    segment_max_drop=0.05,
    segment_min_positives=10,
    floor_pr_auc=0.3,
    floor_roc_auc=0.7,
)


def card(
    version: str,
    pr_auc: float | None,
    roc_auc: float | None = 0.9,
    **segments: tuple[float | None, int],
) -> Scorecard:
    return Scorecard(
        version=version,
        metrics={"pr_auc": pr_auc, "roc_auc": roc_auc},
        segments={name.replace("__", "="): SegmentScore(v, n) for name, (v, n) in segments.items()},
    )


def interval(gain: float, low: float, high: float, metric: str = "pr_auc") -> BootstrapInterval:
    return BootstrapInterval(metric, gain, low, high, confidence=0.95, resamples=1000, seed=0)


def judge(
    challenger: Scorecard, champion: Scorecard, low: float | None = None
) -> PromotionDecision:
    """The gate's decision with an interval of the cards' gain whose lower bound is ``low``.

    By default the interval is gain +- 0.02: for a gain of 0.1 it clears the 0.01 margin.
    """
    new, old = challenger.metrics["pr_auc"], champion.metrics["pr_auc"]
    if new is None or old is None:
        return decide_promotion(challenger, champion, POLICY)
    gain = new - old
    lower = gain - 0.02 if low is None else low
    return decide_promotion(challenger, champion, POLICY, interval(gain, lower, gain + 0.02))


def test_first_model_promoted_when_it_clears_the_floor() -> None:
    decision = decide_promotion(card("1", 0.5, 0.9), None, POLICY)
    assert decision.verdict == "promote", decision.reason
    assert decision.champion_version is None, "there was no champion"
    assert decision.numbers["floor_pr_auc"] == 0.3, "the floor compared is recorded"


@pytest.mark.parametrize(
    ("pr_auc", "roc_auc", "named"),
    [(0.29, 0.9, "pr_auc"), (0.5, 0.69, "roc_auc"), (None, 0.9, "pr_auc")],
)
def test_first_model_rejected_below_the_floor(
    pr_auc: float | None, roc_auc: float, named: str
) -> None:
    decision = decide_promotion(card("1", pr_auc, roc_auc), None, POLICY)
    assert decision.verdict == "reject", "a model under the floor never becomes champion"
    assert named in decision.reason, f"the reason names the failing metric: {decision.reason}"


def test_first_model_exactly_at_the_floor_is_promoted() -> None:
    decision = decide_promotion(card("1", 0.3, 0.7), None, POLICY)
    assert decision.promoted, "the floor is inclusive"


def test_lower_bound_of_the_gain_must_clear_the_margin() -> None:
    challenger, champion = card("2", 0.53), card("1", 0.5)
    noisy = judge(challenger, champion, low=0.009)
    assert noisy.verdict == "reject", "a gain whose interval reaches below the margin is noise"
    assert noisy.reason.startswith(
        "pr_auc gain +0.0300 (95% CI +0.0090 to +0.0500) does not clear the margin 0.0100"
    ), noisy.reason
    assert noisy.numbers["gain"] == pytest.approx(0.03), "the point gain is recorded"
    assert noisy.numbers["gain_interval"] == {
        "metric": "pr_auc",
        "estimate": 0.03,
        "low": 0.009,
        "high": 0.05,
        "confidence": 0.95,
        "resamples": 1000,
        "seed": 0,
        "method": "percentile bootstrap, rows resampled within each class",
    }, noisy.numbers
    exactly = judge(challenger, champion, low=0.01)
    assert exactly.verdict == "reject", f"the bound must exceed the margin: {exactly.reason}"
    cleared = judge(challenger, champion, low=0.011)
    assert cleared.promoted, cleared.reason
    assert "(95% CI +0.0110 to +0.0500) clears the margin 0.0100" in cleared.reason, cleared


def test_a_large_point_gain_without_an_interval_is_rejected() -> None:
    decision = decide_promotion(card("2", 0.7), card("1", 0.5), POLICY)
    assert decision.verdict == "reject", "without its noise a gain cannot be judged"
    assert "cannot tell it from noise" in decision.reason, decision.reason
    assert decision.numbers["gain"] == pytest.approx(0.2), decision.numbers


def test_identical_models_are_not_promoted_even_without_a_margin() -> None:
    free = POLICY.model_copy(update={"margin": 0.0})
    decision = decide_promotion(card("2", 0.5), card("1", 0.5), free, interval(0.0, 0.0, 0.0))
    assert decision.verdict == "reject", f"no gain at all is never a promotion: {decision.reason}"


def test_an_interval_of_other_figures_is_an_error() -> None:
    challenger, champion = card("2", 0.6), card("1", 0.5)
    with pytest.raises(ValueError, match="interval is of roc_auc"):
        decide_promotion(challenger, champion, POLICY, interval(0.1, 0.05, 0.15, "roc_auc"))
    with pytest.raises(ValueError, match="computed on other scores"):
        decide_promotion(challenger, champion, POLICY, interval(0.2, 0.05, 0.25))


def test_worse_challenger_rejected() -> None:
    decision = judge(card("2", 0.4), card("1", 0.5))
    assert decision.verdict == "reject", "a worse challenger is rejected"
    assert decision.champion_version == "1", "the champion compared with is recorded"


def test_segment_guardrail_blocks_a_better_overall_model() -> None:
    challenger = card("2", 0.6, channel__online=(0.30, 20), channel__card_present=(0.7, 20))
    champion = card("1", 0.5, channel__online=(0.40, 20), channel__card_present=(0.6, 20))
    decision = judge(challenger, champion)
    assert decision.verdict == "reject", "a 0.10 drop in one segment breaches the 0.05 guardrail"
    assert decision.breached_segments == ("channel=online",), decision.breached_segments
    assert "channel=online" in decision.reason, decision.reason


def test_small_segments_are_not_guarded() -> None:
    challenger = card("2", 0.6, channel__online=(0.10, 5))
    champion = card("1", 0.5, channel__online=(0.90, 5))
    decision = judge(challenger, champion)
    assert decision.verdict == "promote", "5 positives are too few to block on"
    assert segment_drops(challenger, champion, 10) == {}, "the segment is skipped"


def test_segment_without_a_value_is_skipped() -> None:
    challenger = card("2", 0.6, country__NG=(None, 30))
    champion = card("1", 0.5, country__NG=(0.9, 30))
    assert judge(challenger, champion).promoted, "no value, no guardrail"


def test_missing_metric_on_either_side_rejects() -> None:
    assert judge(card("2", None), card("1", 0.5)).verdict == "reject"
    decision = judge(card("2", 0.5), card("1", None))
    assert decision.verdict == "reject", "cannot compare without the champion's figure"
    assert "champion has no pr_auc" in decision.reason, decision.reason


def test_decision_serialises_for_the_audit_log() -> None:
    decision = judge(
        card("2", 0.6, channel__online=(0.5, 20)), card("1", 0.5, channel__online=(0.5, 20))
    )
    data = decision.to_dict()
    assert data["verdict"] == "promote", data
    assert data["numbers"] == decision.numbers, "the numbers are recorded as they are"
    assert decision.numbers["segment_drops"] == {"channel=online": 0.0}, decision.numbers


def test_challenger_warnings_travel_with_every_verdict() -> None:
    warned = Scorecard(version="2", metrics={"pr_auc": 0.6, "roc_auc": 0.9}, warnings=("thin",))
    first = decide_promotion(warned, None, POLICY)
    assert first.warnings == ("thin",), f"first-model decision keeps them: {first.warnings}"
    rejected = judge(warned, card("1", 0.7))
    assert rejected.verdict == "reject", rejected.reason
    assert rejected.warnings == ("thin",), f"a rejection keeps them: {rejected.warnings}"


def test_guardrail_that_checked_nothing_says_so() -> None:
    challenger = card("2", 0.6, channel__online=(0.5, 9), channel__card_present=(0.5, 40))
    champion = card("1", 0.5, channel__online=(0.5, 40), channel__card_present=(0.5, 3))
    decision = judge(challenger, champion)
    assert decision.promoted, decision.reason
    assert decision.numbers["segment_drops"] == {}, "no segment had enough positives"
    assert decision.warnings == (
        "the segment guardrail checked nothing: no segment has >= 10 positives on both sides",
    ), decision.warnings


def test_guardrail_lists_the_segments_it_skipped() -> None:
    challenger = card("2", 0.6, channel__online=(0.5, 20), channel__card_present=(0.5, 4))
    champion = card("1", 0.5, channel__online=(0.5, 20), channel__card_present=(0.5, 30))
    decision = judge(challenger, champion)
    assert len(decision.warnings) == 1, decision.warnings
    warning = decision.warnings[0]
    assert "skipped 1 of 2 segments with fewer than 10 positives" in warning, warning
    assert "channel=card_present (4/30)" in warning, warning
    assert "channel=online" not in warning, f"a guarded segment is not listed: {warning}"


def test_no_guardrail_warning_without_segments_or_when_all_are_guarded() -> None:
    plain = judge(card("2", 0.6), card("1", 0.5))
    assert plain.warnings == (), f"a contract without segments has nothing to warn: {plain}"
    guarded = judge(
        card("2", 0.6, channel__online=(0.5, 20)), card("1", 0.5, channel__online=(0.5, 20))
    )
    assert guarded.warnings == (), f"every segment was guarded: {guarded.warnings}"


def test_gate_warnings_follow_the_challengers_and_reach_the_audit_record() -> None:
    challenger = Scorecard(
        version="2",
        metrics={"pr_auc": 0.6, "roc_auc": 0.9},
        segments={"channel=online": SegmentScore(0.5, 2)},
        n_positives=12,
        warnings=("the holdout holds 12 positives",),
    )
    decision = judge(challenger, card("1", 0.5, channel__online=(0.5, 2)))
    assert decision.warnings[0] == "the holdout holds 12 positives", decision.warnings
    assert decision.warnings[1].startswith("the segment guardrail checked nothing"), decision
    data = decision.to_dict()
    assert data["warnings"] == list(decision.warnings), f"to_dict lists them: {data['warnings']}"
    assert data["breached_segments"] == [], data
    assert decision.numbers["holdout_positives"] == 12, decision.numbers
    assert json.loads(json.dumps(data)) == data, "the record survives a JSON round trip"
