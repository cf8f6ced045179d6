"""The committed sample under data/sample/ is small, valid where it should be, and current."""

from __future__ import annotations

import pandas as pd

from data.generator import sample_batches
from features.contract import DatasetContract

from .checks import contract_violations
from .conftest import SAMPLE_DIR

REGENERATE = "run `python -m data.generator --write-sample` and commit data/sample/"


def test_sample_files_match_the_generator() -> None:
    expected = {
        f"{folder}/{day:%Y-%m-%d}.parquet": frame
        for folder, batches in sample_batches().items()
        for day, frame in batches
    }
    present = sorted(str(p.relative_to(SAMPLE_DIR)) for p in SAMPLE_DIR.rglob("*.parquet"))
    assert present == sorted(expected), f"sample files {present}; {REGENERATE}"
    for name, frame in expected.items():
        committed = pd.read_parquet(SAMPLE_DIR / name)
        pd.testing.assert_frame_equal(
            committed, frame, obj=f"{name} is stale: {REGENERATE}", check_exact=True
        )


def test_sample_is_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*.parquet"))
    assert total < 200_000, f"sample is {total} bytes; keep it under 200 KB"


def test_clean_sample_conforms_and_bad_days_do_not(contract: DatasetContract) -> None:
    for path in sorted((SAMPLE_DIR / "clean").glob("*.parquet")):
        problems = contract_violations(pd.read_parquet(path), contract)
        assert problems == [], f"{path.name}: {problems}"
    quality = contract_violations(
        pd.read_parquet(SAMPLE_DIR / "quality_incident" / "2026-01-02.parquet"), contract
    )
    assert any(p.startswith("amount: max") for p in quality), f"cents exceed max: {quality}"
    schema = contract_violations(
        pd.read_parquet(SAMPLE_DIR / "schema_break" / "2026-01-02.parquet"), contract
    )
    assert schema, "the schema break must be detected"
    assert schema[0].startswith("columns"), f"schema break is a column problem: {schema}"
