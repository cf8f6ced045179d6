"""A monitoring window over the PostgreSQL log store finds what it finds over the files.

The same prediction and label records go into the JSON-lines files and into PostgreSQL tables
(`serving.log_store`); `monitor_window` then reads each store and writes the same summary.
Skipped with the reason when PostgreSQL is not installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.contract import DatasetContract
from monitoring.config import MonitoringConfig
from monitoring.window import monitor_window
from serving.log_store import PostgresLogStore
from tests.monitoring.frames import day_list, make_frame
from tests.monitoring.test_window import write_labels, write_prediction_log
from tests.postgres import postgres_unavailable, running_postgres

WINDOW = date(2026, 3, 4)


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(f"PostgreSQL log store not tested: {reason}")
    with running_postgres() as server:
        yield server.url()


def copy_into(store: PostgresLogStore, predictions: Path, labels: Path) -> None:
    """Every record of the files, in file order, appended to the store."""
    for path in sorted(predictions.glob("*.jsonl")):
        store.append_predictions([json.loads(line) for line in path.read_text().splitlines()])
    lines = (labels / "labels.jsonl").read_text().splitlines()
    store.append_labels([json.loads(line) for line in lines])


def test_a_window_over_postgres_summarises_like_the_files(
    contract: DatasetContract, reference: pd.DataFrame, tmp_path: Path, database_url: str
) -> None:
    traffic = pd.concat(
        [
            make_frame(contract, 300, seed=40 + i, day=d)
            for i, d in enumerate(day_list(date(2026, 3, 1), 4))
        ],
        ignore_index=True,
    )
    write_prediction_log(traffic, tmp_path / "predictions", contract)
    available = traffic[contract.label_available_field]
    write_labels(traffic, tmp_path / "labels", contract, available, available)
    store = PostgresLogStore(database_url, contract)
    copy_into(store, tmp_path / "predictions", tmp_path / "labels")
    config = MonitoringConfig(performance_days=4, min_labelled_positives=5, write_html=False)

    def summary(predictions: Path | PostgresLogStore, labels: Path | PostgresLogStore) -> dict:
        output = monitor_window(
            reference,
            contract,
            predictions_dir=predictions,
            labels_dir=labels,
            monitoring_dir=tmp_path / ("files" if isinstance(predictions, Path) else "table"),
            window=WINDOW,
            threshold=0.2,
            config=config,
        )
        return output.summary.to_dict()

    from_files = summary(tmp_path / "predictions", tmp_path / "labels")
    from_table = summary(store, store)
    store.close()
    assert from_files["n_rows"] == 300, from_files
    assert from_files["n_labelled"] > 0, "matured labels joined"
    assert from_table == from_files
