"""``exercise new``: a standalone git repository cut from this project's tracked files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pipelines.exercises.model import MARKER_FILE, Exercise, ExerciseError

#: Never copied into a starter: the kit itself (its hidden graders) and its own tests.
KIT_PATHS = ("pipelines/exercises", "tests/pipelines/test_exercise")
#: Who makes a starter's first commit (no user or system git config is read).
GIT_IDENTITY = ("-c", "user.name=exercise kit", "-c", "user.email=exercise-kit@localhost")


def _git(folder: Path, *args: str) -> str:
    """Run git in ``folder`` (no user or system config) and return its stdout."""
    result = subprocess.run(
        ["git", *GIT_IDENTITY, "-C", str(folder), *args],
        capture_output=True,
        text=True,
        check=False,
        env={
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        },
    )
    if result.returncode != 0:
        raise ExerciseError(f"git {args[0]} failed in {folder}: {result.stderr.strip()}")
    return result.stdout


def _excluded(path: str, removed: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in removed) or any(
        path.startswith(p) for p in KIT_PATHS
    )


def tracked_files(root: Path) -> list[str]:
    """The project's tracked files that exist in the working tree (as they are there)."""
    listing = _git(root, "ls-files", "-z")
    return [p for p in listing.split("\0") if p and (root / p).is_file()]


def check_destination(dest: Path) -> None:
    """Refuse a destination that is a file or a folder with something in it."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ExerciseError(f"{dest} exists and is not an empty folder: choose a new folder")


def copy_project(root: Path, dest: Path, removed: tuple[str, ...]) -> int:
    """Copy the tracked files of ``root`` into ``dest`` except ``removed``; the count copied."""
    count = 0
    for relative in tracked_files(root):
        if _excluded(relative, removed):
            continue
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
        count += 1
    return count


def readme(exercise: Exercise) -> str:
    """The starter's README: the brief, the time box and the rubric."""
    rows = "\n".join(f"| {line.text} | {line.points} |" for line in exercise.rubric)
    return (
        f"# Take-home exercise: {exercise.name}\n\n"
        f"{exercise.summary}\n\n"
        f"**Time box: {exercise.time_box}.** Commit your work in this repository; stop at the "
        "time box and write down in this README what you would do next.\n\n"
        f"## Brief\n\n{exercise.brief}\n"
        f"## Rubric ({exercise.max_points} points)\n\n"
        "| What is scored | Points |\n|---|---|\n"
        f"{rows}\n\n"
        "Each line is scored by hidden tests and measurements run against this repository; a "
        "line earns its points in proportion to its checks that pass.\n\n"
        "## Setup\n\n`make setup` creates `.venv` from `uv.lock`; `make help` lists the rest.\n"
    )


def create_exercise(exercise: Exercise, root: Path, dest: Path, seed: int = 0) -> Path:
    """Write the starter repository of ``exercise`` into ``dest`` and make its first commit.

    ``seed`` picks the variant (recorded in the marker file for ``grade``).

    Raises:
        ExerciseError: ``dest`` is not empty, or git failed.
    """
    check_destination(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        copy_project(root, dest, exercise.removed)
        exercise.cut(dest, seed)
        (dest / "README.md").write_text(readme(exercise), encoding="utf-8")
        (dest / MARKER_FILE).write_text(f"{exercise.name}\n{seed}\n", encoding="utf-8")
        _git(dest, "init", "-q", "-b", "main")
        _git(dest, "add", "-A")
        _git(dest, "commit", "-q", "-m", f"Starter for the {exercise.name} exercise")
    except BaseException:
        _empty(dest)  # no half-made starter is left behind
        raise
    return dest


def _empty(folder: Path) -> None:
    """Delete what ``folder`` holds (it was empty before ``create_exercise``)."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
