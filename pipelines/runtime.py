"""Process-level wiring done once at an entry point: Prefect's environment and code lineage.

Prefect reads its settings from the environment when it is first imported, so the CLI calls
:func:`prefect_environment` and applies the result *before* importing any flow module.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from pipelines.settings import REPO_ROOT, Settings


def prefect_environment(settings: Settings, current: Mapping[str, str]) -> dict[str, str]:
    """Environment variables Prefect and MLflow should see, given the current environment.

    By default flows run against Prefect's local ephemeral API with its database under the run
    home. A user's own ``PREFECT_*`` values (e.g. ``PREFECT_API_URL`` of a server) always win.
    """
    defaults = {
        # MLflow would copy this repo's uv.lock into every model; the model states its own
        # requirements (training.registry.pip_requirements), so skip the seconds that costs.
        "MLFLOW_LOG_UV_FILES": "false",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        # MLflow's INFO lines (database migrations, environment inference) are not for users.
        "MLFLOW_LOGGING_LEVEL": "ERROR",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",  # we load via features.model_io only
        "PREFECT_HOME": str(settings.paths.prefect),
        # The ephemeral server needs ~12 s to start on 2 busy cores; the 20 s default is tight.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        # No usage telemetry from a laptop demo; it also contends for the SQLite file.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Our commands print their own progress and turn expected failures into one line;
        # Prefect would print each task's INFO lines and the traceback of an expected failure.
        # Set PREFECT_LOGGING_LEVEL=INFO to see them (states still reach the Prefect API).
        "PREFECT_LOGGING_LEVEL": "CRITICAL",
        # Other libraries log through the root logger, which Prefect prints at WARNING: e.g.
        # SQLAlchemy's pool racing the local API server's shutdown prints a traceback after a
        # command that succeeded. Not for users; PREFECT_LOGGING_ROOT_LEVEL=WARNING shows them.
        "PREFECT_LOGGING_ROOT_LEVEL": "CRITICAL",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    }
    return {key: value for key, value in defaults.items() if key not in current}


def code_revision(root: Path = REPO_ROOT) -> str:
    """The git commit of the code that runs, with ``-dirty`` if it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head}-dirty" if dirty else head
