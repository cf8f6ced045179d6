from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.audit import append_decision, decision_record, read_decisions


def test_records_are_appended_in_order_with_numbers_and_reason(tmp_path: Path) -> None:
    log = tmp_path / "sub" / "audit.jsonl"
    append_decision(
        log, decision_record("promote", "better", subject={"version": "2"}, numbers={"gain": 0.1})
    )
    append_decision(log, decision_record("rollback", "bad", subject={"to_version": "1"}))
    lines = log.read_text().splitlines()
    assert len(lines) == 2, "one line per decision"
    first = json.loads(lines[0])
    assert (first["kind"], first["version"], first["numbers"]) == ("promote", "2", {"gain": 0.1})
    assert [r["kind"] for r in read_decisions(log)] == ["promote", "rollback"]
    assert [r["kind"] for r in read_decisions(log, {"rollback"})] == ["rollback"], "filter by kind"


def test_absent_log_reads_empty_and_corrupt_line_is_named(tmp_path: Path) -> None:
    assert read_decisions(tmp_path / "none.jsonl") == [], "no log yet, no decisions"
    log = tmp_path / "audit.jsonl"
    log.write_text('{"kind": "promote"}\n{oops\n')
    with pytest.raises(ValueError, match=r"audit\.jsonl:2"):
        read_decisions(log)
