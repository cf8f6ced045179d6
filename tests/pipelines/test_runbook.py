"""Every `lifecycle` command in docs/runbook.md runs, in order, against a demo home.

The home comes from a real demo run (default scenario: a blocked batch, drift, retrains,
promotions), so the runbook's commands meet the state an operator would: a champion that
replaced another, quarantined batches, monitoring windows.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from pipelines.settings import REPO_ROOT
from tests.pipelines.cli_runner import lifecycle

RUNBOOK = REPO_ROOT / "docs" / "runbook.md"
#: Exit codes a command may end with on a healthy home, beyond 0: `promote` is 1 when the gate
#: rejects the challenger (the runbook says so).
ALSO_ALLOWED = {("promote",): {1}}


def runbook_commands(text: str) -> list[list[str]]:
    """The `lifecycle` command lines of the runbook's bash blocks, split as a shell would."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("lifecycle ")]


def test_the_runbook_has_commands_for_each_kind_of_incident() -> None:
    commands = runbook_commands(RUNBOOK.read_text(encoding="utf-8"))
    names = {args[0] for args in commands}
    assert {"doctor", "validate", "monitor", "train", "promote", "handoff"} <= names, names
    assert commands[-2][:2] == ["promote", "--rollback"], "the rollback is spelled out"


@pytest.mark.e2e
def test_every_runbook_command_runs_against_a_demo_home(
    default_demo: Path, tmp_path: Path, prefect_api: str
) -> None:
    home = tmp_path / "home"
    shutil.copytree(default_demo, home)  # the runbook rolls back and retrains: work on a copy
    for args in runbook_commands(RUNBOOK.read_text(encoding="utf-8")):
        run = lifecycle(home, *args, prefect_api=prefect_api)
        allowed = {0} | ALSO_ALLOWED.get(tuple(args), set())
        assert run.code in allowed, f"the runbook's command fails as written\n{run}"
        if args[0] == "handoff" and "--out" not in args:
            assert "holds `champion`" in run.stdout, str(run)
            assert "in quarantine" in run.stdout, "the blocked batch is an open risk"
        if args[:2] == ["promote", "--rollback"]:
            assert "rolled back champion" in run.stdout, str(run)
    notes = home / "handoff.md"
    assert "## How to roll back" in notes.read_text(encoding="utf-8"), "handoff wrote its file"
