from __future__ import annotations

import pytest

from training.gate import GatePolicy, Scorecard, SegmentScore, decide_promotion, segment_drops

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


def test_challenger_must_beat_champion_by_the_margin() -> None:
    just_short = decide_promotion(card("2", 0.509), card("1", 0.5), POLICY)
    assert just_short.verdict == "reject", "a gain below the margin is not enough"
    assert "margin" in just_short.reason, just_short.reason
    assert just_short.numbers["gain"] == pytest.approx(0.009), "the gain is recorded"
    exactly = decide_promotion(card("2", 0.51), card("1", 0.5), POLICY)
    assert exactly.verdict == "promote", f"a gain equal to the margin promotes: {exactly.reason}"


def test_worse_challenger_rejected() -> None:
    decision = decide_promotion(card("2", 0.4), card("1", 0.5), POLICY)
    assert decision.verdict == "reject", "a worse challenger is rejected"
    assert decision.champion_version == "1", "the champion compared with is recorded"


def test_segment_guardrail_blocks_a_better_overall_model() -> None:
    challenger = card("2", 0.6, channel__online=(0.30, 20), channel__card_present=(0.7, 20))
    champion = card("1", 0.5, channel__online=(0.40, 20), channel__card_present=(0.6, 20))
    decision = decide_promotion(challenger, champion, POLICY)
    assert decision.verdict == "reject", "a 0.10 drop in one segment breaches the 0.05 guardrail"
    assert decision.breached_segments == ("channel=online",), decision.breached_segments
    assert "channel=online" in decision.reason, decision.reason


def test_small_segments_are_not_guarded() -> None:
    challenger = card("2", 0.6, channel__online=(0.10, 5))
    champion = card("1", 0.5, channel__online=(0.90, 5))
    decision = decide_promotion(challenger, champion, POLICY)
    assert decision.verdict == "promote", "5 positives are too few to block on"
    assert segment_drops(challenger, champion, 10) == {}, "the segment is skipped"


def test_segment_without_a_value_is_skipped() -> None:
    challenger = card("2", 0.6, country__NG=(None, 30))
    champion = card("1", 0.5, country__NG=(0.9, 30))
    assert decide_promotion(challenger, champion, POLICY).promoted, "no value, no guardrail"


def test_missing_metric_on_either_side_rejects() -> None:
    assert decide_promotion(card("2", None), card("1", 0.5), POLICY).verdict == "reject"
    decision = decide_promotion(card("2", 0.5), card("1", None), POLICY)
    assert decision.verdict == "reject", "cannot compare without the champion's figure"
    assert "champion has no pr_auc" in decision.reason, decision.reason


def test_decision_serialises_for_the_audit_log() -> None:
    decision = decide_promotion(
        card("2", 0.6, channel__online=(0.5, 20)), card("1", 0.5, channel__online=(0.5, 20)), POLICY
    )
    data = decision.to_dict()
    assert data["verdict"] == "promote", data
    assert data["numbers"]["segment_drops"] == {"channel=online": 0.0}, data["numbers"]
