"""The audit log: every decision the pipeline takes, one JSON object per line, append-only.

Each record says what was decided (``kind``), about which versions or batches, the numbers that
were compared and the reason in words. The same facts are mirrored as MLflow tags on the model
versions concerned, so the registry and the log tell one story.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from features import vocabulary as vocab

DecisionKind = Literal[
    "batch_passed",
    "batch_blocked",
    "promote",
    "reject",
    "rollback",
    "retrain",
    "hold",
]


def decision_record(
    kind: DecisionKind,
    reason: str,
    *,
    subject: Mapping[str, Any],
    numbers: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Build one audit record; ``subject`` names what was decided about (versions, batch)."""
    return {
        "at": (at or datetime.now(UTC)).isoformat(),
        "kind": kind,
        "reason": reason,
        **dict(subject),
        "numbers": dict(numbers or {}),
    }


def append_decision(path: Path, record: Mapping[str, Any]) -> None:
    """Append one record and fsync it, so a crash right after a decision cannot lose it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, default=str, sort_keys=False)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_decisions(path: Path, kinds: set[str] | None = None) -> list[dict[str, Any]]:
    """All records in order (optionally only some kinds); an absent log reads as empty."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not a JSON record ({exc.msg})") from None
        if kinds is None or record.get("kind") in kinds:
            records.append(record)
    return records


# --------------------------------------------------------------------------- crash-safe changes
#
# A promotion or rollback changes two stores: the registry (alias, tags) and this log. Neither
# can commit with the other, so every change is written ahead: an *intent* (the whole decision,
# with an id) is appended to the intent journal before the registry is touched, and the outcome
# record (``promote``/``reject``/``rollback``, carrying the intent's id) is appended last. An
# intent without an outcome is an interrupted change: everything needed to finish it is in the
# intent, and each step of finishing it is idempotent, so it is completed (never guessed at)
# on the next run. The journal is a file of its own beside the log, so that the log keeps one
# record per decision for its readers.

PROMOTE_INTENT = "promote_intent"
ROLLBACK_INTENT = "rollback_intent"
INTENT_KINDS = frozenset({PROMOTE_INTENT, ROLLBACK_INTENT})
RECOVERED_NOTE = "completed after an interrupted run"


def intent_log(audit_log: Path) -> Path:
    """The intent journal beside ``audit_log``: ``audit.jsonl`` -> ``audit.intents.jsonl``."""
    return audit_log.with_name(f"{audit_log.stem}.intents{audit_log.suffix}")


def promotion_intent(
    model: str, decision: Mapping[str, Any], *, at: datetime | None = None
) -> dict[str, Any]:
    """The intent of applying a gate decision (``PromotionDecision.to_dict()``), with a new id."""
    promoted = decision["verdict"] == "promote"
    return {
        "at": (at or datetime.now(UTC)).isoformat(),
        "kind": PROMOTE_INTENT,
        "intent": uuid.uuid4().hex,
        "model": model,
        "verdict": decision["verdict"],
        "reason": decision["reason"],
        "challenger_version": decision["challenger_version"],
        "champion_version": decision["champion_version"],
        "champion_after": decision["challenger_version"]
        if promoted
        else decision["champion_version"],
        "warnings": list(decision.get("warnings", [])),
        "breached_segments": list(decision.get("breached_segments", [])),
        "numbers": dict(decision.get("numbers", {})),
    }


def rollback_intent(
    model: str, from_version: str, to_version: str, reason: str, *, at: datetime | None = None
) -> dict[str, Any]:
    """The intent of moving ``champion`` from ``from_version`` back to ``to_version``."""
    return {
        "at": (at or datetime.now(UTC)).isoformat(),
        "kind": ROLLBACK_INTENT,
        "intent": uuid.uuid4().hex,
        "model": model,
        "from_version": from_version,
        "to_version": to_version,
        "reason": reason,
        "numbers": {},
    }


def outcome_record(
    intent: Mapping[str, Any], *, note: str | None = None, at: datetime | None = None
) -> dict[str, Any]:
    """The audit record that closes ``intent``: the decision itself, carrying the intent's id."""
    if intent["kind"] == PROMOTE_INTENT:
        kind: DecisionKind = "promote" if intent["verdict"] == "promote" else "reject"
        subject: dict[str, Any] = {
            "model": intent["model"],
            "challenger_version": intent["challenger_version"],
            "champion_version": intent["champion_version"],
            "champion_after": intent["champion_after"],
            "warnings": list(intent["warnings"]),
        }
    else:
        kind = "rollback"
        subject = {
            "model": intent["model"],
            "from_version": intent["from_version"],
            "to_version": intent["to_version"],
        }
    subject["intent"] = intent["intent"]
    if note is not None:
        subject["note"] = note
    return decision_record(
        kind, intent["reason"], subject=subject, numbers=intent["numbers"], at=at
    )


def intent_tags(intent: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The version tags an intent sets, per version, as the exact strings the registry holds."""
    at = intent["at"]
    if intent["kind"] == ROLLBACK_INTENT:
        return {
            intent["from_version"]: {
                "rolled_back": "true",
                "rollback.reason": intent["reason"],
                "rollback.at": at,
            }
        }
    gate = vocab.GATE_TAG_PREFIX
    challenger, champion = intent["challenger_version"], intent["champion_version"]
    tags: dict[str, dict[str, str]] = {
        challenger: {
            f"{gate}verdict": intent["verdict"],
            f"{gate}reason": intent["reason"],
            f"{gate}compared_with": champion or "none",
            f"{gate}numbers": json.dumps(intent["numbers"], default=str),
            f"{gate}warnings": json.dumps(intent["warnings"], default=str),
            f"{gate}at": at,
        }
    }
    if intent["verdict"] == "promote" and champion is not None:
        tags[challenger][vocab.PREVIOUS_CHAMPION_TAG] = champion
        tags[champion] = {vocab.REPLACED_BY_TAG: challenger}
    return tags


@dataclass(frozen=True)
class RegistryState:
    """What the registry holds for one model: where its aliases point and its versions' tags."""

    champion: str | None
    challenger: str | None
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    """The steps still missing to finish one intent, in the order they must run."""

    intent: Mapping[str, Any]
    set_champion: str | None
    """Version to point ``champion`` at, or None when it is already right (or not to move)."""
    tags: Mapping[str, Mapping[str, str]]
    """Only the tags that are missing or differ, per version."""
    remove_challenger: bool
    """True when ``challenger`` still points at the version the gate judged."""
    outcome: Mapping[str, Any]

    def describe(self) -> str:
        """One line for a person: which intent, and what was (or is to be) done to finish it."""
        intent = self.intent
        if intent["kind"] == PROMOTE_INTENT:
            what = f"{intent['verdict']} of version {intent['challenger_version']}"
        else:
            what = f"rollback {intent['from_version']} -> {intent['to_version']}"
        steps = []
        if self.set_champion is not None:
            steps.append(f"{vocab.CHAMPION} -> {self.set_champion}")
        steps.extend(f"tags {sorted(tags)} on {version}" for version, tags in self.tags.items())
        if self.remove_challenger:
            steps.append(f"removed {vocab.CHALLENGER} alias")
        steps.append(f"recorded {self.outcome['kind']}")
        return f"{intent['model']}: finished the interrupted {what} ({'; '.join(steps)})"


def unfinished_intents(
    intents: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]], model: str
) -> list[Mapping[str, Any]]:
    """Intents of ``model`` that no audit record closes (by intent id), oldest first."""
    closed = {r["intent"] for r in records if r.get("intent") and r.get("kind") not in INTENT_KINDS}
    return [
        i
        for i in intents
        if i.get("kind") in INTENT_KINDS and i.get("model") == model and i["intent"] not in closed
    ]


def plan_completion(
    intent: Mapping[str, Any], state: RegistryState, *, note: str | None = RECOVERED_NOTE
) -> Completion:
    """What is left to do to finish ``intent`` given the registry as it is now (pure).

    Promote intents re-point ``champion`` at the judged version only when the verdict was to
    promote; a reject never touches it. The challenger alias is removed only while it still
    points at the judged version (a newer challenger trained since is left waiting). Rollback
    intents re-point ``champion`` at the version rolled back to.
    """
    if intent["kind"] == PROMOTE_INTENT:
        target = intent["challenger_version"] if intent["verdict"] == "promote" else None
        remove_challenger = state.challenger == intent["challenger_version"]
    elif intent["kind"] == ROLLBACK_INTENT:
        target = intent["to_version"]
        remove_challenger = False
    else:
        raise ValueError(f"not an intent record: kind {intent.get('kind')!r}")
    missing = {}
    for version, wanted in intent_tags(intent).items():
        held = state.tags.get(version, {})
        differ = {k: v for k, v in wanted.items() if held.get(k) != v}
        if differ:
            missing[version] = differ
    return Completion(
        intent=intent,
        set_champion=target if target is not None and state.champion != target else None,
        tags=missing,
        remove_challenger=remove_challenger,
        outcome=outcome_record(intent, note=note),
    )


def pending_completions(
    intents: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    state: RegistryState,
    model: str,
) -> list[Completion]:
    """Every unfinished intent of ``model`` with what is left to do, against one registry state.

    When more than one is unfinished the adapter re-reads the registry between completions;
    this view plans each against the same ``state``.
    """
    return [plan_completion(i, state) for i in unfinished_intents(intents, records, model)]
