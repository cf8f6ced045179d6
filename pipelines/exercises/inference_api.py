"""The inference-api exercise: the scoring app is removed; the candidate builds it to a spec."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.exercises.model import Exercise, RubricLine

TEMPLATES = Path(__file__).resolve().parent / "templates"
APP = Path("serving") / "app.py"

BRIEF = """\
The scoring service of this pipeline is missing: `serving/app.py` holds only the signature of
`create_app`. Build the HTTP API that serves the champion model. Everything around it exists:
the dataset contract (`features/contract.py`, `data/contracts/`), the serving settings
(`serving/config.py`), the model store with its swap rules and smoke test
(`serving/model_store.py`), the MLflow source, the request and response schemas derived from
the contract (`serving/schemas.py`), scoring helpers, the prediction log and metrics.

### The spec

- `create_app(config, source=None, clock=utc_now) -> FastAPI` in `serving/app.py`, with that
  signature. It does no I/O when called: the model is loaded when the app starts (lifespan),
  from `source` (an object with `model_name`, `alias_version()` and `fetch(version)`, see
  `ModelSource`), or from the MLflow registry when `source` is None.
- `POST /v1/predict` takes ONE row object, or a JSON array of rows, with the contract's
  columns (the id column, every feature; extra segments and the event time optional). It
  answers one prediction object, or an array in request order. A prediction has exactly:
  `request_id`, the id column (echoed as sent), the contract's `score_name` (the model's
  probability of the positive class), `decision` (1 when the score reaches the version's
  threshold tag, else 0), `threshold`, `model_name` and `model_version` (the version that
  scored the row).
- Contract validation: a row with a missing feature, a value of the wrong type, a number
  outside the contract's range, a category the contract does not list, or a field the
  contract does not have is refused with **422**. Every error answer is JSON with a `detail`
  string; a 422 also lists `errors`, one per bad value, each with a `field` naming it (for
  example `body.<column>` or `body[2].<column>`). Malformed JSON, an empty body or an empty
  array are 4xx, never 5xx.
- `GET /health` answers 200 `{"status": "ok"}` whenever the process runs. `GET /ready` answers
  200 with `model_name` and `model_version` once a model is loaded, and 503 (JSON with
  `detail`) before; until then `POST /v1/predict` answers 503 too.
- `GET /v1/model` answers the serving version: `name`, `version`, `threshold`.
- No request may produce a 5xx, whatever its body.
- Under 8 concurrent clients, the 95th percentile latency of a one-row prediction stays
  below 500 ms on a laptop.

`make setup` builds the environment; `make unit` runs the project's own tests. The tests of
the removed app went with it; the end-to-end ones that serve a model (the demo) fail until the
app exists. `lifecycle serve` runs your app against a registry, `lifecycle demo` the whole
lifecycle with it.
"""

RUBRIC = (
    RubricLine(
        "predict",
        30,
        "Predict: one row and a batch in order, scores equal the model's, decision rule",
        "test_predict.py",
    ),
    RubricLine(
        "versioned",
        15,
        "Versioned answers: model name and version in every prediction and in /v1/model",
        "test_versioned.py",
    ),
    RubricLine(
        "validation",
        20,
        "Contract validation: invalid rows are 422 with a JSON body naming each bad field",
        "test_validation.py",
    ),
    RubricLine(
        "health",
        10,
        "/health always 200; /ready 503 before a model is loaded and 200 after",
        "test_health.py",
    ),
    RubricLine(
        "fuzz", 15, "Fuzzing: no 5xx on malformed requests, every error is JSON", "test_fuzz.py"
    ),
    RubricLine(
        "latency",
        10,
        "Latency: p95 of one-row predictions under 500 ms at 8 concurrent clients",
        "test_latency.py",
    ),
)


def _imports_the_app(path: Path) -> bool:
    return "serving.app" in path.read_text(encoding="utf-8", errors="replace")


def cut(repo: Path, seed: int) -> None:
    """Replace the app by its stub and drop the tests and benchmarks that import the app."""
    shutil.copyfile(TEMPLATES / "inference_api_app.py.txt", repo / APP)
    for test in sorted((repo / "tests").rglob("test_*.py")):
        if _imports_the_app(test):
            test.unlink()


def restore(root: Path, repo: Path, seed: int) -> None:
    """Put the project's whole serving package (the reference solution) back into ``repo``."""
    for module in sorted((root / "serving").glob("*.py")):
        shutil.copyfile(module, repo / "serving" / module.name)


EXERCISE = Exercise(
    name="inference-api",
    summary="Build the model's scoring API to a spec (validation, versions, health, no 5xx).",
    time_box="3 hours",
    brief=BRIEF,
    rubric=RUBRIC,
    removed=("benchmarks/serving.py", "benchmarks/soak.py", "tests/benchmarks/test_soak.py"),
    cut=cut,
    restore=restore,
)
