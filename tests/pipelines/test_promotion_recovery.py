"""Crash-safe promotion: the pure recovery plan, the fault hook, and kill -9 at each step.

The pure part plans what is left of an intent from hand-made records and registry states. The
end-to-end part kills `lifecycle promote` with SIGKILL at each checkpoint (``LIFECYCLE_FAULT``,
never timing luck), re-runs it, and checks that the registry, the tags and the audit log agree.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from data.batches import write_batches
from data.generator import DEFAULT_START
from data.usecases import use_case
from features import vocabulary as vocab
from pipelines.audit import (
    PROMOTE_INTENT,
    RECOVERED_NOTE,
    ROLLBACK_INTENT,
    RegistryState,
    intent_log,
    outcome_record,
    pending_completions,
    plan_completion,
    promotion_intent,
    read_decisions,
    rollback_intent,
    unfinished_intents,
)
from pipelines.faults import FAULT_VARIABLE
from pipelines.settings import load_settings, unknown_variables
from tests.pipelines.cli_runner import cli_env, killed_at, lifecycle

MODEL = "card-fraud"
AT = datetime(2026, 2, 1, 12, 0)


def decision(
    verdict: str = "promote", challenger: str = "2", champion: str | None = "1"
) -> dict[str, Any]:
    """A gate decision as ``PromotionDecision.to_dict()`` gives it."""
    return {
        "verdict": verdict,
        "reason": f"{verdict}: pr_auc 0.61 vs 0.48",
        "challenger_version": challenger,
        "champion_version": champion,
        "numbers": {"challenger": 0.61, "champion": 0.48, "gain": 0.13},
        "breached_segments": [],
        "warnings": ["few positives"],
    }


def gate_tags(intent: Mapping[str, Any]) -> dict[str, str]:
    """The gate tags a completed promote intent leaves on the challenger."""
    return {
        "gate.verdict": intent["verdict"],
        "gate.reason": intent["reason"],
        "gate.compared_with": intent["champion_version"] or "none",
        "gate.numbers": json.dumps(intent["numbers"]),
        "gate.warnings": json.dumps(intent["warnings"]),
        "gate.at": intent["at"],
    }


# --------------------------------------------------------------------------- pure: which is open


def test_an_intent_is_unfinished_until_an_outcome_carries_its_id() -> None:
    first = promotion_intent(MODEL, decision(challenger="2"), at=AT)
    second = promotion_intent(MODEL, decision(challenger="3", champion="2"), at=AT)
    records = [
        {"kind": "batch_passed", "batch": "2026-01-01"},
        outcome_record(first),
        {"kind": "promote", "reason": "before intents existed"},
    ]

    assert first["intent"] != second["intent"], "each intent gets its own id"
    assert unfinished_intents([first, second], records, MODEL) == [second], (
        "only the intent no outcome closes is unfinished"
    )
    assert unfinished_intents([first], records, MODEL) == [], "a closed intent is done"
    assert unfinished_intents([], records, MODEL) == [], "an empty journal has nothing open"


def test_intents_of_another_model_are_left_alone() -> None:
    other = promotion_intent("churn-model", decision(), at=AT)

    assert unfinished_intents([other], [], MODEL) == [], "another model's intent is not ours"
    assert unfinished_intents([other], [], "churn-model") == [other], "it is open for its model"


def test_an_intent_record_does_not_close_another_intent() -> None:
    intent = promotion_intent(MODEL, decision(), at=AT)
    copy = {**intent, "kind": ROLLBACK_INTENT}

    assert unfinished_intents([intent], [copy], MODEL) == [intent], (
        "only an outcome record closes an intent, not another intent with the same id"
    )


# --------------------------------------------------------------------------- pure: what is left


def test_crash_after_the_intent_leaves_every_step() -> None:
    intent = promotion_intent(MODEL, decision(), at=AT)
    state = RegistryState(champion="1", challenger="2", tags={"1": {}, "2": {"threshold": "0.4"}})

    plan = plan_completion(intent, state)

    assert plan.set_champion == "2", "the champion alias moves to the promoted version"
    assert plan.tags == {
        "2": {**gate_tags(intent), vocab.PREVIOUS_CHAMPION_TAG: "1"},
        "1": {vocab.REPLACED_BY_TAG: "2"},
    }, plan.tags
    assert plan.remove_challenger, "the judged version still holds the challenger alias"
    outcome = plan.outcome
    assert (outcome["kind"], outcome["intent"], outcome["note"]) == (
        "promote",
        intent["intent"],
        RECOVERED_NOTE,
    ), outcome
    assert (outcome["champion_after"], outcome["numbers"]) == ("2", intent["numbers"]), outcome


def test_crash_after_the_alias_leaves_the_tags_and_the_challenger_alias() -> None:
    intent = promotion_intent(MODEL, decision(), at=AT)
    state = RegistryState(champion="2", challenger="2", tags={"1": {}, "2": {}})

    plan = plan_completion(intent, state)

    assert plan.set_champion is None, "the alias already moved: it is not moved again"
    assert set(plan.tags) == {"1", "2"}, plan.tags
    assert plan.remove_challenger, "champion = challenger = v2 is the wedge to undo"


def test_crash_after_the_tags_leaves_only_the_challenger_alias_and_the_record() -> None:
    intent = promotion_intent(MODEL, decision(), at=AT)
    done = {"2": {**gate_tags(intent), "previous_champion": "1"}, "1": {"replaced_by": "2"}}
    state = RegistryState(champion="2", challenger="2", tags=done)

    plan = plan_completion(intent, state)

    assert (plan.set_champion, plan.tags, plan.remove_challenger) == (None, {}, True), plan


def test_crash_before_the_record_leaves_only_the_record() -> None:
    intent = promotion_intent(MODEL, decision(), at=AT)
    done = {"2": {**gate_tags(intent), "previous_champion": "1"}, "1": {"replaced_by": "2"}}
    state = RegistryState(champion="2", challenger=None, tags=done)

    plan = plan_completion(intent, state)

    assert (plan.set_champion, plan.tags, plan.remove_challenger) == (None, {}, False), plan
    assert plan.outcome["kind"] == "promote", "the outcome is still written"
    assert "recorded promote" in plan.describe(), plan.describe()


def test_a_partly_written_tag_set_is_completed_and_a_wrong_value_corrected() -> None:
    intent = promotion_intent(MODEL, decision(), at=AT)
    partial = {"gate.verdict": "promote", "gate.reason": "stale text"}
    state = RegistryState(champion="2", challenger=None, tags={"2": partial, "1": {}})

    plan = plan_completion(intent, state)

    assert "gate.verdict" not in plan.tags["2"], "a tag already right is not rewritten"
    assert plan.tags["2"]["gate.reason"] == intent["reason"], "a differing tag is corrected"


def test_a_reject_never_moves_the_champion() -> None:
    intent = promotion_intent(MODEL, decision(verdict="reject"), at=AT)
    state = RegistryState(champion="1", challenger="2", tags={})

    plan = plan_completion(intent, state)

    assert plan.set_champion is None, "a rejected challenger never becomes champion"
    assert plan.tags == {"2": gate_tags(intent)}, "only the gate tags, no lineage tags"
    assert plan.remove_challenger, "the judged challenger stops waiting"
    assert (plan.outcome["kind"], plan.outcome["champion_after"]) == ("reject", "1"), plan.outcome


def test_a_newer_challenger_keeps_its_alias() -> None:
    intent = promotion_intent(MODEL, decision(), at=AT)
    state = RegistryState(champion="1", challenger="3", tags={})

    plan = plan_completion(intent, state)

    assert not plan.remove_challenger, "v3 was trained since: it keeps waiting"
    assert plan.set_champion == "2", "the interrupted promotion of v2 is still finished"


def test_the_first_promotion_has_no_previous_champion() -> None:
    intent = promotion_intent(MODEL, decision(challenger="1", champion=None), at=AT)
    state = RegistryState(champion=None, challenger="1", tags={})

    plan = plan_completion(intent, state)

    assert plan.set_champion == "1", plan
    assert plan.tags == {"1": gate_tags(intent)}, "no previous_champion, no replaced_by"
    assert plan.tags["1"]["gate.compared_with"] == "none", plan.tags


def test_an_interrupted_rollback_moves_champion_back_and_tags_the_version_left() -> None:
    intent = rollback_intent(MODEL, "2", "1", "bad latency", at=AT)
    state = RegistryState(champion="2", challenger=None, tags={"2": {}, "1": {}})

    plan = plan_completion(intent, state)

    assert plan.set_champion == "1", plan
    assert plan.tags == {
        "2": {"rolled_back": "true", "rollback.reason": "bad latency", "rollback.at": intent["at"]}
    }, plan.tags
    assert not plan.remove_challenger, "a rollback leaves the challenger alone"
    assert (plan.outcome["kind"], plan.outcome["from_version"], plan.outcome["to_version"]) == (
        "rollback",
        "2",
        "1",
    ), plan.outcome
    done = RegistryState(champion="1", challenger=None, tags={"2": plan.tags["2"]})
    again = plan_completion(intent, done)
    assert (again.set_champion, again.tags) == (None, {}), "completing twice changes nothing"


def test_a_normal_run_has_no_recovery_note_and_a_non_intent_is_refused() -> None:
    intent = promotion_intent(MODEL, decision(), at=AT)
    state = RegistryState(champion="1", challenger="2")

    assert "note" not in plan_completion(intent, state, note=None).outcome, "no note when normal"
    with pytest.raises(ValueError, match="not an intent"):
        plan_completion({"kind": "promote"}, state)


def test_pending_completions_plans_each_open_intent() -> None:
    closed = promotion_intent(MODEL, decision(challenger="2"), at=AT)
    open_ = promotion_intent(MODEL, decision(challenger="3", champion="2"), at=AT)
    state = RegistryState(champion="2", challenger="3")

    plans = pending_completions([closed, open_], [outcome_record(closed)], state, MODEL)

    assert [p.intent["intent"] for p in plans] == [open_["intent"]], plans
    assert plans[0].intent["kind"] == PROMOTE_INTENT


def test_intent_journal_sits_beside_the_audit_log(tmp_path: Path) -> None:
    assert intent_log(tmp_path / "audit.jsonl") == tmp_path / "audit.intents.jsonl"


# --------------------------------------------------------------------------- the fault hook


@pytest.mark.parametrize("fault", ["promote:after_alias", None])
def test_checkpoint_kills_only_when_named(fault: str | None) -> None:
    env = {k: v for k, v in cli_env(Path.cwd()).items() if k != FAULT_VARIABLE}
    if fault is not None:
        env[FAULT_VARIABLE] = fault
    code = "from pipelines.faults import checkpoint; checkpoint('promote:after_alias'); print('on')"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )

    if fault is None:
        assert (done.returncode, done.stdout) == (0, "on\n"), done
    else:
        assert done.returncode == -signal.SIGKILL, f"killed by SIGKILL at the named point: {done}"
        assert done.stdout == "", "nothing after the checkpoint ran"


def test_settings_accept_the_fault_variable() -> None:
    assert unknown_variables({FAULT_VARIABLE: "promote:after_alias"}) == [], "it is known"


# --------------------------------------------------------------------------- kill -9, end to end

DAYS = 40
ONSET = 16
INCIDENT = 8
ROWS = 800
PROMOTE_CHECKPOINTS = [
    "promote:after_intent",
    "promote:after_alias",
    "promote:after_tags",
    "promote:after_challenger_alias",
]


@pytest.fixture(scope="module")
def prepared_home(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    """A home with v1 as champion and a better v2 (trained after drift) as challenger."""
    from pipelines.flows import promote_flow, train_flow, validate_flow

    home = tmp_path_factory.mktemp("prepared")
    case = use_case("card_fraud")
    settings = load_settings(home=home)
    days = (
        (
            DEFAULT_START + timedelta(days=i),
            case.generate_day(
                i,
                "default",
                seed=3,
                days=DAYS,
                rows=ROWS,
                incident_day=INCIDENT,
                onset_day=ONSET,
            ),
        )
        for i in range(DAYS)
    )
    write_batches(days, settings.paths.raw)
    validate_flow(settings)
    train_flow(settings, cutoff=datetime(2026, 1, ONSET + 1))
    assert promote_flow(settings).verdict == "promote", "v1 is promoted on the floor"
    end = datetime.combine(DEFAULT_START + timedelta(days=DAYS), datetime.min.time())
    assert train_flow(settings, cutoff=end).version == "2", "v2 waits as challenger"
    return home


def alias(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(MODEL, name).version)
    except MlflowException:
        return None


@pytest.mark.e2e
@pytest.mark.parametrize("fault", PROMOTE_CHECKPOINTS)
def test_promote_killed_at_each_step_is_finished_by_the_next_run(
    fault: str, prepared_home: Path, prefect_api: str, tmp_path: Path
) -> None:
    from pipelines.flows import repair

    # The copy's model versions still point at the prepared home's artifacts; promote and
    # rollback only read them, so each case starts from the same registry without retraining.
    home = tmp_path / "home"
    shutil.copytree(prepared_home, home)
    settings = load_settings(home=home)
    uri = settings.resolved_tracking_uri  # the registry too: in-process flows set a global one
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    killed = killed_at(home, fault, "promote", prefect_api=prefect_api)
    assert killed.code == -signal.SIGKILL, f"the process died by SIGKILL at {fault}\n{killed}"
    # The journal holds v1's (closed) intent from the prepared home, then the killed run's.
    intents = read_decisions(intent_log(settings.paths.audit_log))[1:]
    assert [(i["kind"], i["challenger_version"]) for i in intents] == [(PROMOTE_INTENT, "2")], (
        f"the intent was written before the registry was touched: {intents}"
    )
    assert not read_decisions(settings.paths.audit_log, {"promote", "reject"})[1:], (
        "no outcome for v2 yet: only v1's promotion is recorded"
    )

    rerun = lifecycle(home, "promote", prefect_api=prefect_api)
    assert rerun.code == 0, f"the re-run finishes the interrupted promotion\n{rerun}"
    assert "promote version 2 (champion was 1)" in rerun.stdout, str(rerun)
    assert "already the champion" not in rerun.stderr, str(rerun)

    assert alias(client, vocab.CHAMPION) == "2", "v2 is the champion"
    assert alias(client, vocab.CHALLENGER) is None, "no challenger alias is left"
    new, old = (client.get_model_version(MODEL, v).tags for v in ("2", "1"))
    assert new["gate.verdict"] == "promote", new
    assert new["gate.at"] == intents[0]["at"], "the tags carry the decision's time"
    assert new[vocab.PREVIOUS_CHAMPION_TAG] == "1", new
    assert old[vocab.REPLACED_BY_TAG] == "2", old

    outcomes = [
        r
        for r in read_decisions(settings.paths.audit_log, {"promote", "reject"})
        if r.get("intent") == intents[0]["intent"]
    ]
    assert len(outcomes) == 1, f"exactly one outcome closes the intent: {outcomes}"
    outcome = outcomes[0]
    assert (outcome["kind"], outcome["champion_after"]) == ("promote", "2"), outcome
    assert outcome["champion_after"] == alias(client, vocab.CHAMPION), "log matches registry"
    assert outcome["note"] == RECOVERED_NOTE, outcome
    assert outcome["numbers"] == intents[0]["numbers"], "the recorded numbers are the decision's"
    assert len(read_decisions(intent_log(settings.paths.audit_log))) == 2, "no new intent"
    assert repair(settings) == [], "nothing is left unfinished"

    back = lifecycle(home, "promote", "--rollback", prefect_api=prefect_api)
    assert back.code == 0, f"rollback works after the recovery\n{back}"
    assert "rolled back champion 2 -> 1" in back.stdout, str(back)
    assert alias(client, vocab.CHAMPION) == "1", "v1 is champion again"
    rollback = read_decisions(settings.paths.audit_log, {"rollback"})
    assert [(r["from_version"], r["to_version"]) for r in rollback] == [("2", "1")], rollback
    assert rollback[0]["intent"], "the rollback outcome carries its intent's id"


@pytest.mark.e2e
def test_rollback_killed_after_the_alias_is_finished_not_repeated(
    prepared_home: Path, prefect_api: str, tmp_path: Path
) -> None:
    from pipelines.flows import promote_flow

    home = tmp_path / "home"
    shutil.copytree(prepared_home, home)
    settings = load_settings(home=home)
    uri = settings.resolved_tracking_uri  # the registry too: in-process flows set a global one
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert promote_flow(settings).verdict == "promote", "v2 is promoted (no fault)"

    killed = killed_at(
        home, "rollback:after_alias", "promote", "--rollback", prefect_api=prefect_api
    )
    assert killed.code == -signal.SIGKILL, f"killed after the alias moved\n{killed}"
    assert alias(client, vocab.CHAMPION) == "1", "the alias moved before the kill"

    rerun = lifecycle(home, "promote", "--rollback", prefect_api=prefect_api)
    assert rerun.code == 0, f"the re-run finishes the rollback\n{rerun}"
    assert "rolled back champion 2 -> 1" in rerun.stdout, "it reports the interrupted rollback"
    assert alias(client, vocab.CHAMPION) == "1", "it did not roll back a second step"
    assert client.get_model_version(MODEL, "2").tags["rolled_back"] == "true", "v2 is tagged"
    rollbacks = read_decisions(settings.paths.audit_log, {"rollback"})
    assert len(rollbacks) == 1, f"one rollback is recorded: {rollbacks}"
    assert rollbacks[0]["note"] == RECOVERED_NOTE, rollbacks
