"""The prototype-to-production exercise: a notebook-style prototype the candidate makes shippable.

The starter is not the whole project: it keeps the synthetic data generator (``data/``) and the
dataset contract (``features/contract.py``), and adds a prototype script that trains a model
and "ships" it by writing a file, a stub module ``production.py`` whose signatures the graders
call (the promotion gate, the registry step, the monitoring policy) and a ``DESIGN.md`` that
holds only its section headings. The reference solution lives in this package's templates.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.exercises.model import Exercise, ExerciseError, RubricLine

TEMPLATES = Path(__file__).resolve().parent / "templates"
MODULE_FILE = "production.py"
DESIGN_FILE = "DESIGN.md"
#: The sections DESIGN.md must hold (as Markdown headings), in the order the template gives.
DESIGN_SECTIONS = ("Promotion gate", "Registry", "Monitoring policy", "Rollback", "Risks")
#: Starter file -> template it is written from.
STARTER_FILES = {
    "prototype.py": "prototype_notebook.py.txt",
    MODULE_FILE: "prototype_stub.py.txt",
    DESIGN_FILE: "prototype_design.md.txt",
    "Makefile": "prototype_makefile.txt",
}
#: Reference solution file -> template it is written from.
SOLUTION_FILES = {
    MODULE_FILE: "prototype_solution.py.txt",
    DESIGN_FILE: "prototype_solution_design.md.txt",
}
#: The copied project files a starter keeps (a path, or a folder ending in "/"); all else goes.
KEPT = (
    "data/",
    "features/__init__.py",
    "features/contract.py",
    "features/vocabulary.py",
    "pyproject.toml",
    "uv.lock",
    "LICENSE",
    ".gitignore",
)
#: What a starter's pyproject.toml must not declare: the packages and the CLI it lacks.
PYPROJECT_PATCHES = (
    (
        'packages = ["data", "features", "training", "serving", "monitoring", "pipelines"]',
        'packages = ["data", "features"]',
    ),
    ('[project.scripts]\nlifecycle = "pipelines.cli:main"\n\n', ""),
)
#: Files a run of the prototype or of ``ship`` leaves behind, never to be committed.
IGNORED = "\n# The prototype's output and local MLflow stores\nmodel.pkl\nmlruns/\n*.db\n"

BRIEF = f"""\
A data scientist left you `prototype.py`, a notebook-style script (run it top to bottom, or
cell by cell at the `# %%` markers). It generates labelled rows with this project's synthetic
generator (`data/`, described by the dataset contract `features/contract.py` and
`data/contracts/`), trains a classifier and "ships" it by pickling it to `model.pkl`. There is
no promotion gate, no registry and no monitoring: whatever it trains goes out.

Make it production-ready. Write your code in `{MODULE_FILE}` (more modules are fine) and keep
these signatures: hidden graders import `production` and call them.

- `promote(champion, challenger, holdout) -> bool`: the promotion gate. `champion` and
  `challenger` are fitted scikit-learn classifiers (pipelines) that take the contract's feature
  columns and have `predict_proba`; `champion` is None when there is none yet. `holdout` is a
  DataFrame of labelled rows (the contract's feature columns and its label column) neither
  model trained on. Return True to promote the challenger. Refuse a challenger that is worse
  than the champion, or no better (a tie is not an improvement); with no champion, promote a
  challenger that is better than chance.
- `ship(tracking_uri: str) -> str`: the shipping step. Train a challenger as the prototype
  does, gate it against the current champion of the MLflow registry at `tracking_uri` (a local
  SQLite URI such as `sqlite:////tmp/x/mlflow.db`), register it under the contract's
  `model_name`, and point the alias `champion` at it when the gate promotes it. Record the
  holdout metric the gate compared on the version (a version tag or its run's metrics). Return
  the version the `champion` alias points to afterwards. The registered model must load with
  `mlflow.pyfunc.load_model("models:/<model_name>@champion")` and score rows of the contract's
  features. Running `ship` again must leave a champion in place.
- `should_retrain(reference, current) -> tuple[bool, str]`: the monitoring policy. `reference`
  (the data the champion was trained on) and `current` (a recent window, 500 rows or more) are
  DataFrames of the contract's feature columns. Return whether to retrain now and the reason,
  in words an on-call engineer can act on (name the feature(s) that moved). It is scored on
  hidden windows: drifted ones must raise it, clean ones (ordinary day-to-day noise) must not;
  every false alarm costs a retrain.
- `{DESIGN_FILE}`: fill in each section with a short paragraph (40 words or more): promotion
  gate (what it compares, on which rows, and why that margin), registry (what is recorded with
  a version), monitoring policy (what it watches, the thresholds, what it cannot see), rollback
  (how to go back to the previous model, and who decides), risks (what could still go wrong).

`make setup` builds the environment; `make prototype` runs the prototype
(`.venv/bin/python prototype.py`). Add tests of your own as you see fit. scikit-learn,
pandas, numpy, scipy and MLflow are installed (MLflow saves scikit-learn models with skops,
which asks you to name the extra types it may trust).
"""

RUBRIC = (
    RubricLine(
        "gate",
        30,
        "Promotion gate: a clearly better challenger is promoted; a worse, useless or equal "
        "one is refused",
        "test_gate.py",
    ),
    RubricLine(
        "registry",
        25,
        "Registry: `ship` leaves a loadable version with the `champion` alias and its holdout "
        "metric, also when run twice",
        "test_registry.py",
    ),
    RubricLine(
        "drift_recall",
        15,
        "Monitoring: hidden drifted windows raise a retrain, with a reason naming the feature",
        "test_policy.py::test_drift",
    ),
    RubricLine(
        "false_alarms",
        15,
        "Monitoring: hidden clean windows raise no retrain (no false alarms)",
        "test_policy.py::test_clean",
    ),
    RubricLine(
        "design",
        15,
        f"{DESIGN_FILE}: each section (" + ", ".join(DESIGN_SECTIONS) + ") written out",
        "test_design.py",
    ),
)


def _kept(relative: str) -> bool:
    """Whether the copied project file ``relative`` stays in the starter."""
    return any(relative == k or (k.endswith("/") and relative.startswith(k)) for k in KEPT)


def prune(repo: Path) -> None:
    """Delete every copied file the starter does not keep, and the folders left empty."""
    for path in sorted(repo.rglob("*"), reverse=True):
        relative = path.relative_to(repo).as_posix()
        if path.is_file() and not _kept(relative):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def patch_pyproject(repo: Path) -> None:
    """Make the starter's pyproject.toml build only the packages the starter holds.

    Raises:
        ExerciseError: the project's pyproject.toml no longer holds the text patched.
    """
    target = repo / "pyproject.toml"
    text = target.read_text(encoding="utf-8")
    for old, new in PYPROJECT_PATCHES:
        if text.count(old) != 1:
            raise ExerciseError(
                "cannot cut the exercise: pyproject.toml no longer declares the packages and "
                "the CLI the starter leaves out"
            )
        text = text.replace(old, new)
    target.write_text(text, encoding="utf-8")


def write_templates(repo: Path, files: dict[str, str]) -> None:
    """Write each ``repo`` file of ``files`` from its template."""
    for target, template in files.items():
        shutil.copyfile(TEMPLATES / template, repo / target)


def cut(repo: Path, seed: int) -> None:
    """Reduce the copied project to the generator and the contract, and add the prototype."""
    prune(repo)
    patch_pyproject(repo)
    write_templates(repo, STARTER_FILES)
    with (repo / ".gitignore").open("a", encoding="utf-8") as ignore:
        ignore.write(IGNORED)


def restore(root: Path, repo: Path, seed: int) -> None:
    """Write the reference solution (``production.py`` and ``DESIGN.md``) into ``repo``."""
    write_templates(repo, SOLUTION_FILES)


EXERCISE = Exercise(
    name="prototype-production",
    summary="Take a notebook prototype to production: promotion gate, registry, drift policy.",
    time_box="3 hours",
    brief=BRIEF,
    rubric=RUBRIC,
    removed=(
        "benchmarks",
        "docs",
        "monitoring",
        "pipelines",
        "serving",
        "training",
        "tests",
        "deploy",
        ".ci",
        "Dockerfile",
        ".dockerignore",
        "Makefile",
    ),
    cut=cut,
    restore=restore,
)
