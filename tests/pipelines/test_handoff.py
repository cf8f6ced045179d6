"""Handoff notes: what `render` says for hand-made facts (reading a home: the runbook test)."""

from __future__ import annotations

from pathlib import Path

from features import vocabulary as vocab
from pipelines.handoff import HandoffFacts, VersionFacts, render


def facts(**changes: object) -> HandoffFacts:
    base: dict[str, object] = {
        "home": Path("home"),
        "contract_name": "visits",
        "model_name": "visits-model",
        "tracking_uri": "sqlite:///home/mlflow/mlflow.db",
        "champion": VersionFacts(
            "3",
            {
                vocab.TRAIN_START_TAG: "2026-01-01",
                vocab.TRAIN_END_TAG: "2026-01-20",
                vocab.PREVIOUS_CHAMPION_TAG: "2",
                vocab.WARNINGS_TAG: vocab.warnings_tag(["holdout has 12 positives"]),
                "gate.reason": "pr_auc 0.61 beats 0.55",
            },
            {"pr_auc": 0.61, "roc_auc": 0.9},
        ),
        "challenger": None,
        "abandoned": {"4": "its training run was interrupted"},
        "decisions": [
            {"at": "2026-02-01T00:00:00", "kind": "batch_passed", "reason": "ok"},
            {"at": "2026-02-02T00:00:00", "kind": "promote", "reason": "pr_auc 0.61 beats 0.55"},
        ],
        "window": {
            "window_id": "2026-02-03",
            "data_drift_detected": True,
            "drift_share": 0.5,
            "drift_share_threshold": 0.3,
            "warnings": [],
        },
        "quarantined": ["2026-01-09"],
        "unfinished_intents": 1,
        "model_card": "# Model card\n\n## Summary\n\nGood.",
        "logs": {"audit log": Path("home/audit.jsonl")},
    }
    base.update(changes)
    return HandoffFacts(**base)  # type: ignore[arg-type]


def test_notes_name_what_is_deployed_and_how_to_roll_back() -> None:
    notes = render(facts())
    assert "Version **3** holds `champion`" in notes, notes
    assert "trained on 2026-01-01 .. 2026-01-20" in notes, notes
    assert "pr_auc 0.610, roc_auc 0.900" in notes, notes
    assert "back to version 2" in notes, "the rollback target is the version replaced"
    assert "- audit log: `home/audit.jsonl`" in notes, notes


def test_open_risks_come_first_among_what_needs_doing() -> None:
    notes = render(facts())
    risks = notes.split("## Open risks")[1].split("## ")[0]
    assert "`lifecycle doctor`" in risks, "an interrupted promotion is the first thing to fix"
    assert "share 0.5 of features drifted" in risks, risks
    assert "champion caveat: holdout has 12 positives" in risks, risks
    assert "2026-01-09" in risks, "quarantined batches are named"
    assert "version 4 is abandoned" in risks, risks


def test_routine_records_are_left_out_of_recent_decisions() -> None:
    notes = render(facts())
    table = notes.split("## Recent decisions")[1].split("## ")[0]
    assert "| promote |" in table, table
    assert "batch_passed" not in table, "one line per batch would drown the decisions"


def test_a_home_without_a_champion_says_what_to_run() -> None:
    notes = render(facts(champion=None, model_card=None, window=None, quarantined=[]))
    assert "no version holds `champion` yet" in notes, notes
    assert "Nothing to roll back to" in notes, notes
    assert "model card" not in notes.lower(), "no card without a champion"


def test_the_card_nests_under_the_notes() -> None:
    notes = render(facts())
    assert "\n## Model card" in notes, "the card's top heading is demoted one level"
    assert "\n### Summary" in notes, notes
