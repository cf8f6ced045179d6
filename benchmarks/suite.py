"""The rest of ``make bench``: batch scoring and monitoring, each through its own ``main``.

:mod:`benchmarks.scoring` and :mod:`benchmarks.monitoring` run in a child process each, after
the servers have stopped (so that neither shares the cores with a server), printing as they do
alone. Each writes its results file into a temporary folder instead of ``benchmarks/results``
(its module's ``RESULTS_DIR``, redirected by the child before ``main`` runs): a run with fewer
rows than the dedicated targets' must not replace their files, and ``make bench`` keeps
everything in its own file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.peers import REPO_ROOT

#: The child: import the module, point its RESULTS_DIR at argv[2], run its main on the rest.
CHILD_CODE = (
    "import importlib, sys; from pathlib import Path; "
    "module = importlib.import_module(sys.argv[1]); "
    "assert hasattr(module, 'RESULTS_DIR'), sys.argv[1] + ' has no RESULTS_DIR'; "
    "module.RESULTS_DIR = Path(sys.argv[2]); "
    "raise SystemExit(module.main(sys.argv[3:]))"
)
SCORING, MONITORING = "benchmarks.scoring", "benchmarks.monitoring"


class SuiteError(RuntimeError):
    """A sub-benchmark failed or wrote no results file."""


def child_command(module: str, argv: Sequence[str], results_dir: Path) -> list[str]:
    """The command that runs ``module.main(argv)`` with its results written to ``results_dir``."""
    return [sys.executable, "-c", CHILD_CODE, module, str(results_dir), *argv]


def scoring_argv(rows: int, repeats: int) -> list[str]:
    """``benchmarks.scoring``'s arguments for ``rows`` rows, ``repeats`` timed runs a variant."""
    return ["--rows", str(rows), "--repeats", str(repeats)]


def monitoring_argv(rows: int) -> list[str]:
    """``benchmarks.monitoring``'s arguments for a window of ``rows`` logged predictions."""
    return ["--rows", str(rows)]


def single_result(results_dir: Path) -> dict[str, Any]:
    """The one JSON file a sub-benchmark wrote into ``results_dir``.

    Raises:
        SuiteError: There is not exactly one, or it is not a JSON object.
    """
    files = sorted(results_dir.glob("*.json"))
    if len(files) != 1:
        raise SuiteError(f"expected one results file in {results_dir}, found {len(files)}")
    document = json.loads(files[0].read_text())
    if not isinstance(document, dict):
        raise SuiteError(f"{files[0].name} holds no JSON object")
    return document


def run_sub_benchmark(module: str, argv: Sequence[str]) -> dict[str, Any]:
    """Run one sub-benchmark to completion (its output goes to ours) and return its results.

    Raises:
        SuiteError: It exited non-zero or wrote no single results file.
    """
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as folder:
        sys.stdout.flush()
        done = subprocess.run(child_command(module, argv, Path(folder)), cwd=REPO_ROOT, check=False)
        if done.returncode != 0:
            raise SuiteError(f"{module} exited {done.returncode}")
        return single_result(Path(folder))
