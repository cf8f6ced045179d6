"""Fixtures of the debug-pipeline graders: the seeded fault, the contract and labelled rows.

``EXERCISE_VARIANT`` names the fault the starter was cut with. Every check of every fault runs;
the rubric counts the seeded fault's checks as the fix and the others as regressions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import DatasetContract, load_contract


@dataclass(frozen=True)
class RootCause:
    """What a diagnosis of one fault must name: the file, and one word of each group."""

    path: str
    groups: tuple[tuple[str, ...], ...]


ROOT_CAUSES = {
    "label_maturity": RootCause(
        "training/split.py",
        (("labelled_at", "label_known_at", "known_at"), ("matur", "not yet known", "delay")),
    ),
    "future_rows": RootCause(
        "training/split.py", (("time_split", "in_train"), ("overlap", "future"))
    ),
    "drift_flag": RootCause(
        "monitoring/config.py",
        (("flags_drift",), ("invert", "flipped", "<=", "reversed", "wrong way")),
    ),
    "leaky_feature": RootCause(
        "training/fit.py", (("feature_frame", "build_pipeline"), ("label", "target"), ("leak",))
    ),
}
DAYS = 60
ROWS_PER_DAY = 30
START = pd.Timestamp("2024-01-01")


@pytest.fixture(scope="session")
def variant() -> str:
    """The fault the starter was cut with."""
    return os.environ.get("EXERCISE_VARIANT", "")


@pytest.fixture(scope="session")
def root_cause(variant: str) -> RootCause:
    """What the diagnosis of the seeded fault must name."""
    return ROOT_CAUSES[variant]


@pytest.fixture(scope="session")
def contract() -> DatasetContract:
    """The contract the candidate's project runs by default."""
    from pipelines.settings import DEFAULT_CONTRACT

    return load_contract(DEFAULT_CONTRACT)


@pytest.fixture(scope="session")
def frame(contract: DatasetContract) -> pd.DataFrame:
    """Seeded rows over :data:`DAYS` days, labels already 0/1, with their label times."""
    rng = np.random.default_rng(7)
    n = DAYS * ROWS_PER_DAY
    data: dict[str, object] = {contract.id_column: [f"r-{i}" for i in range(n)]}
    if contract.columns[contract.id_column].dtype == "int":
        data[contract.id_column] = list(range(n))
    for name in contract.features:
        spec = contract.columns[name]
        if spec.categories:
            data[name] = rng.choice(np.array(spec.categories, dtype=object), n)
        else:
            low = float(spec.min) if spec.min is not None else 0.0
            high = float(spec.max) if spec.max is not None else low + 100.0
            values = low + (high - low) * rng.beta(1.0, 8.0, n)
            data[name] = np.round(values) if spec.dtype == "int" else values
    rows = pd.DataFrame(data)
    seconds = np.sort(rng.integers(0, DAYS * 86400, n))
    rows[contract.event_time_column] = START + pd.to_timedelta(seconds, unit="s")
    rows[contract.label_column] = (rng.random(n) < 0.3).astype("int64")
    if contract.label_available_time_column is not None:
        delay = pd.to_timedelta(rng.integers(1, 10 * 86400, n), unit="s")
        rows[contract.label_available_time_column] = rows[contract.event_time_column] + delay
    return rows


@pytest.fixture(scope="session")
def cutoff() -> pd.Timestamp:
    """A cutoff on the last simulated day: the latest rows' labels are not known yet."""
    return START + pd.Timedelta(days=DAYS)


@pytest.fixture(scope="session")
def diagnosis() -> str:
    """The candidate's DIAGNOSIS.md ("" when there is none), read from the repository."""
    path = Path.cwd() / "DIAGNOSIS.md"
    return path.read_text(encoding="utf-8") if path.is_file() else ""
