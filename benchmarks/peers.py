"""Peers of the serving benchmark that live outside the project's environment: BentoML.

BentoML serves the champion's own skops file (:mod:`benchmarks.bentoml_service`) from a virtual
environment of its own, made with uv and pinned: ``bentoml`` at :data:`BENTOML_VERSION` and, for
the libraries that compute the score, exactly the versions installed beside the benchmark (so
that both score with the same code, which the 1e-9 check before timing proves). The folder is
cached (``.bench/bentoml-<version>/`` at the repository root, git-ignored): a marker file records
what was installed, and a later run with the same pins reuses the folder without calling uv.

The service imports its environment variables' names from here, inside BentoML's environment:
this module imports only the standard library and PyYAML (a BentoML dependency).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

BENTOML_VERSION = "1.4.40"
#: Distributions pinned to the benchmark's own versions in the BentoML environment.
SHARED_DISTRIBUTIONS = ("numpy", "pandas", "scikit-learn", "scipy", "skops")
MARKER_FILE = ".bench-requirements"
REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_ROOT = REPO_ROOT / ".bench"
SERVICE_TARGET = "benchmarks.bentoml_service:ProbaService"
INSTALL_TIMEOUT_SECONDS = 1800.0
OUTPUT_TAIL_CHARS = 2000
#: ``--peer-threads``: one thread per model call, or whatever the libraries choose.
THREAD_CHOICES = ("1", "default")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: What the service serves, passed in its environment (JSON lists for the last two).
MODEL_FILE_ENV = "BENCH_MODEL_FILE"
TRUSTED_TYPES_ENV = "BENCH_SKOPS_TRUSTED_TYPES"
FEATURES_ENV = "BENCH_FEATURES"
#: The service's adaptive batching: issue 9's setting (a batch waits at most 1 s), BentoML's
#: default batch size.
MAX_LATENCY_MS = 1000
MAX_BATCH_SIZE = 100


class PeerEnvError(RuntimeError):
    """The peer's environment could not be made (no uv, no network, a failed install)."""


@dataclass(frozen=True)
class PeerEnv:
    """A peer's virtual environment: where it lives and what it must hold.

    Attributes:
        folder: The environment's root (``bin/python`` inside).
        requirements: ``name==version`` pins, sorted, installed with uv.
        python_version: ``major.minor.micro`` of the interpreter the environment is made from.
    """

    folder: Path
    requirements: tuple[str, ...]
    python_version: str

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return self.folder / "bin" / "python"

    def script(self, name: str) -> Path:
        """A console script of the environment (e.g. ``bentoml``)."""
        return self.folder / "bin" / name

    def marker_text(self) -> str:
        """What the marker file holds once the environment is complete: Python and the pins."""
        return "\n".join([f"python=={self.python_version}", *self.requirements]) + "\n"


def installed_versions(names: Iterable[str]) -> dict[str, str]:
    """The versions of these distributions installed beside the running interpreter.

    Raises:
        PeerEnvError: One of them is not installed.
    """
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise PeerEnvError(f"{name} is not installed here: run `make setup` first") from None
    return versions


def bentoml_env(
    root: Path, bentoml_version: str, shared: Mapping[str, str], python_version: str
) -> PeerEnv:
    """The BentoML environment's spec: ``root/bentoml-<version>``, bentoml and ``shared`` pinned.

    Raises:
        ValueError: A version is empty.
    """
    pins = {"bentoml": bentoml_version, **shared}
    empty = sorted(name for name, version in pins.items() if not version)
    if empty or not python_version:
        raise ValueError(f"no version for {empty or ['python']}")
    requirements = tuple(sorted(f"{name}=={version}" for name, version in pins.items()))
    return PeerEnv(root / f"bentoml-{bentoml_version}", requirements, python_version)


def is_current(env: PeerEnv) -> bool:
    """True when the folder holds a complete environment with exactly these pins."""
    marker = env.folder / MARKER_FILE
    try:
        return env.python.exists() and marker.read_text() == env.marker_text()
    except OSError:
        return False


def uv_commands(env: PeerEnv, uv: str, python: str) -> list[list[str]]:
    """The uv commands that make ``env`` from interpreter ``python``: a fresh venv, the pins."""
    return [
        [uv, "venv", "--clear", "--quiet", "--python", python, str(env.folder)],
        [uv, "pip", "install", "--quiet", "--python", str(env.python), *env.requirements],
    ]


def find_uv(explicit: str | None) -> str:
    """The uv executable: ``explicit``, else ``uv`` on PATH, else the repository's ``.tools``.

    Raises:
        PeerEnvError: None is found.
    """
    candidates = [explicit] if explicit else [shutil.which("uv"), str(REPO_ROOT / ".tools/bin/uv")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    raise PeerEnvError(f"uv not found ({explicit or 'PATH, .tools/bin/uv'}): run `make setup`")


def ensure_env(env: PeerEnv, uv: str | None, python: str = sys.executable) -> bool:
    """Make ``env`` unless it is current; True when it was made now, False when reused.

    uv (``uv``, else found by :func:`find_uv`) is looked for only when the environment must be
    made. The marker is written last, so an interrupted install is redone by the next run.

    Raises:
        PeerEnvError: uv is not found, or a uv command failed or timed out; the message has its
            output's tail.
    """
    if is_current(env):
        return False
    executable = find_uv(uv)
    env.folder.parent.mkdir(parents=True, exist_ok=True)
    for command in uv_commands(env, executable, python):
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                check=False,
                timeout=INSTALL_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PeerEnvError(f"`{' '.join(command[:3])}` failed: {exc}") from None
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()[-OUTPUT_TAIL_CHARS:]
            raise PeerEnvError(f"`{' '.join(command[:3])}` exited {done.returncode}:\n{output}")
    (env.folder / MARKER_FILE).write_text(env.marker_text())
    return True


def thread_environment(threads: str) -> dict[str, str]:
    """The variables that fix a peer's model threads: all set to ``threads``, none for default.

    Raises:
        ValueError: ``threads`` is not one of :data:`THREAD_CHOICES`.
    """
    if threads not in THREAD_CHOICES:
        raise ValueError(f"threads {threads!r}: expected one of {THREAD_CHOICES}")
    return {} if threads == "default" else dict.fromkeys(THREAD_VARIABLES, threads)


def skops_file(model_dir: Path) -> Path:
    """The skops file of a downloaded MLflow sklearn model folder, as its ``MLmodel`` names it.

    Raises:
        ValueError: The folder's ``MLmodel`` declares no skops-serialized sklearn model, or the
            file is missing.
    """
    meta: Any = yaml.safe_load((model_dir / "MLmodel").read_text())
    flavor = (meta or {}).get("flavors", {}).get("sklearn") or {}
    name = flavor.get("pickled_model")
    if flavor.get("serialization_format") != "skops" or not isinstance(name, str):
        raise ValueError(f"{model_dir} holds no skops-serialized sklearn model")
    path = model_dir / name
    if not path.is_file():
        raise ValueError(f"{path} is missing")
    return path


def bentoml_environment(
    base: Mapping[str, str],
    env: PeerEnv,
    model_file: Path,
    trusted_types: Sequence[str],
    features: Sequence[str],
    bentoml_home: Path,
) -> dict[str, str]:
    """The BentoML server's environment: the service's inputs, its own venv first on PATH.

    No ``PYTHONPATH`` or ``VIRTUAL_ENV`` of the project leaks in; BentoML keeps its state under
    ``bentoml_home`` and sends no usage data.
    """
    child = {k: v for k, v in base.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    child.update(
        {
            "PATH": os.pathsep.join([str(env.folder / "bin"), base.get("PATH", "")]),
            "VIRTUAL_ENV": str(env.folder),
            "BENTOML_HOME": str(bentoml_home),
            "BENTOML_DO_NOT_TRACK": "true",
            MODEL_FILE_ENV: str(model_file),
            TRUSTED_TYPES_ENV: json.dumps(list(trusted_types)),
            FEATURES_ENV: json.dumps(list(features)),
        }
    )
    return child


def bentoml_command(env: PeerEnv) -> tuple[str, ...]:
    """``bentoml serve`` of the service on loopback; ``{port}`` is filled in by the caller.

    Run from the repository root, so that ``benchmarks.bentoml_service`` is importable.
    """
    return (
        str(env.script("bentoml")),
        "serve",
        SERVICE_TARGET,
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--working-dir",
        str(REPO_ROOT),
    )


def bentoml_body(row: Mapping[str, Any], features: Sequence[str]) -> bytes:
    """``POST /predict`` body: ``{"rows": [the row's features]}``."""
    return json.dumps({"rows": [{name: row[name] for name in features}]}).encode()


def bentoml_output(payload: Any) -> float:
    """The probability in BentoML's answer for one row (a JSON list of one number).

    Raises:
        ValueError: The answer is not a list of one number.
    """
    if not isinstance(payload, list) or len(payload) != 1:
        raise ValueError(f"bentoml answered {payload!r}, not one probability")
    value = payload[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"bentoml answered {payload!r}, not one probability")
    return float(value)
