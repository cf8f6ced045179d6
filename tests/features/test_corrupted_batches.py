"""A standing table of corrupted batches: each kind is blocked with its reason, raw file intact.

One clean day is accepted first; then each corruption of the next day (2026-01-02) goes through
the gate alone, in folders of its own, with the run's clock set once both days' labels are
known. Every case must end in quarantine with the expected failure named, and the raw file's
sha256 unchanged.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.batches import parquet_bytes
from data.generator import generate_day
from data.scenarios import get_scenario
from features.contract import DatasetContract, load_contract
from features.validation import VALIDATION_FILE, ValidationGate

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-01-02"
#: The run's clock: late enough that the two days' labels (3 to 10 days late) are known.
NOW = datetime.datetime(2026, 1, 13)

Corrupt = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]


def _set(column: str, value: object, rows: slice = slice(0, 5)) -> Corrupt:
    def corrupt(frame: pd.DataFrame, _: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        values = out[column].astype(object)
        values.iloc[rows] = value
        out[column] = values.infer_objects()
        return out

    return corrupt


def _scale(column: str, factor: float) -> Corrupt:
    return lambda frame, _: frame.assign(**{column: frame[column] * factor})


def _where(mask: Callable[[pd.DataFrame], pd.Series], column: str, value: object) -> Corrupt:
    def corrupt(frame: pd.DataFrame, _: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out.loc[mask(out), column] = value
        return out

    return corrupt


def _shift_times(delta: pd.Timedelta) -> Corrupt:
    def corrupt(frame: pd.DataFrame, _: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(
            event_time=frame["event_time"] + delta,
            label_available_at=frame["label_available_at"] + delta,
        )

    return corrupt


def _copy_of_accepted(frame: pd.DataFrame, accepted: pd.DataFrame) -> pd.DataFrame:
    return accepted.copy()


def _reused_ids(frame: pd.DataFrame, accepted: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out.index[:50], "transaction_id"] = accepted["transaction_id"].iloc[:50].to_numpy()
    return out


def _swap_counts(frame: pd.DataFrame, _: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(txn_count_1h=frame["txn_count_24h"] + 1)


CASES: dict[str, tuple[Corrupt, str]] = {
    "amounts in cents": (_scale("amount", 100), "expect_column_median_to_be_between"),
    "amounts in thousands": (_scale("amount", 0.001), "expect_column_median_to_be_between"),
    "negative amount": (_set("amount", -5.0), "expect_column_values_to_be_between"),
    "missing amount": (_set("amount", np.nan), "expect_column_values_to_not_be_null"),
    "amount as text": (
        lambda f, _: f.assign(amount=f["amount"].astype(str)),
        "expect_column_values_to_be_in_type_list",
    ),
    "unknown merchant category": (
        _set("merchant_category", "casino"),
        "expect_column_values_to_be_in_set",
    ),
    "channel in upper case": (
        lambda f, _: f.assign(channel=f["channel"].str.upper()),
        "expect_column_values_to_be_in_set",
    ),
    "renamed column": (
        lambda f, _: f.rename(columns={"merchant_category": "mcc"}),
        "expect_table_columns_to_match_set",
    ),
    "dropped column": (
        lambda f, _: f.drop(columns=["country"]),
        "expect_table_columns_to_match_set",
    ),
    "extra column": (
        lambda f, _: f.assign(card_number="4111"),
        "expect_table_columns_to_match_set",
    ),
    "duplicated ids": (
        _set("transaction_id", "tx-dup", slice(0, 2)),
        "expect_column_values_to_be_unique",
    ),
    "missing id": (
        _set("transaction_id", None, slice(0, 1)),
        "expect_column_values_to_not_be_null",
    ),
    "label outside 0/1": (_set("is_fraud", 2), "expect_column_values_to_be_in_set"),
    "every row labelled positive": (
        lambda f, _: f.assign(is_fraud=1),
        "expect_column_values_to_not_be_in_set",
    ),
    "no positive label at all": (
        lambda f, _: f.assign(is_fraud=0),
        "expect_column_values_to_be_in_set",
    ),
    "label known before the event": (
        lambda f, _: f.assign(label_available_at=f["event_time"] - pd.Timedelta(hours=1)),
        "expect_column_pair_values_a_to_be_greater_than_b",
    ),
    "device score filled in for card-present": (
        _where(lambda f: f["channel"] == "card_present", "device_trust_score", 0.0),
        "expect_column_values_to_be_null",
    ),
    "device score missing online": (
        _where(lambda f: f["channel"] == "online", "device_trust_score", np.nan),
        "expect_column_values_to_not_be_null",
    ),
    "velocity counters swapped": (
        _swap_counts,
        "expect_column_pair_values_a_to_be_greater_than_b",
    ),
    "age out of range": (_set("customer_age", 150), "expect_column_values_to_be_between"),
    "truncated extract": (lambda f, _: f.head(20), "expect_table_row_count_to_be_between"),
    "tz-aware event times": (
        lambda f, _: f.assign(event_time=f["event_time"].dt.tz_localize("UTC")),
        "expect_column_values_to_be_in_type_list",
    ),
    "category column as pandas Categorical": (
        lambda f, _: f.assign(country=f["country"].astype("category")),
        "expect_column_values_to_be_in_type_list",
    ),
    "event times five years ahead": (
        _shift_times(pd.Timedelta(days=5 * 365)),
        "event_time_outside_batch_date",
    ),
    "rows of another day": (_shift_times(pd.Timedelta(days=-3)), "event_time_outside_batch_date"),
    "copy of an accepted batch under a new date": (_copy_of_accepted, "duplicate_batch"),
    "ids already accepted": (_reused_ids, "ids_already_accepted"),
}


@pytest.fixture(scope="module")
def contract() -> DatasetContract:
    return load_contract(REPO / "data" / "contracts" / "card_fraud.yaml")


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, contract: DatasetContract) -> ValidationGate:
    """One gate (one GX context) for every case; each case files into folders of its own."""
    return ValidationGate(tmp_path_factory.mktemp("gx"), contract, now=lambda: NOW)


@pytest.fixture(scope="module")
def days() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Day 0 (accepted first) and day 1 (the one corrupted), clean, 600 rows each."""
    scenario = get_scenario("none")
    first, second = (generate_day(i, scenario, seed=11, days=2, rows=600) for i in (0, 1))
    return first, second


def test_the_table_covers_at_least_25_kinds() -> None:
    assert len(CASES) >= 25, f"{len(CASES)} kinds of corrupted batch"


@pytest.mark.parametrize("kind", list(CASES))
def test_each_corrupted_batch_is_blocked_with_its_reason_and_the_raw_file_intact(
    kind: str, tmp_path: Path, gate: ValidationGate, days: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    corrupt, expected = CASES[kind]
    accepted, clean = days
    raw, validated, quarantine = (tmp_path / name for name in ("raw", "validated", "quarantine"))
    raw.mkdir()
    (raw / "2026-01-01.parquet").write_bytes(parquet_bytes(accepted))
    first = gate.validate_pending(raw, validated, quarantine, publish_docs=False)
    assert [o.success for o in first] == [True], f"the clean first day is accepted: {first}"

    batch = raw / f"{DAY}.parquet"
    batch.write_bytes(parquet_bytes(corrupt(clean, accepted)))
    before = hashlib.sha256(batch.read_bytes()).hexdigest()
    outcomes = gate.validate_pending(raw, validated, quarantine, publish_docs=False)

    assert [o.batch_id for o in outcomes] == [DAY], outcomes
    outcome = outcomes[0]
    assert not outcome.success, f"{kind}: the batch must be blocked"
    failed = {f.expectation_type for f in outcome.failures}
    assert expected in failed, f"{kind}: expected {expected} among {sorted(failed)}"
    assert all(f.reason for f in outcome.failures), f"{kind}: every failure gives its reason"
    assert hashlib.sha256(batch.read_bytes()).hexdigest() == before, "the raw file is untouched"
    record = json.loads((quarantine / DAY / VALIDATION_FILE).read_text())
    assert record["raw_sha256"] == before, "quarantine pins the raw file's content"
    assert not (validated / f"{DAY}.parquet").exists(), "a blocked batch is never validated"
    shutil.rmtree(tmp_path)
