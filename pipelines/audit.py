"""The audit log: every decision the pipeline takes, one JSON object per line, append-only.

Each record says what was decided (``kind``), about which versions or batches, the numbers that
were compared and the reason in words. The same facts are mirrored as MLflow tags on the model
versions concerned, so the registry and the log tell one story.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

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
