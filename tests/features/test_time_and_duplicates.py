"""The gate's own checks: event times on the batch's date and not after now, and no batch (or
id) accepted twice; every blocked batch is quarantined with its raw file untouched."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from data.batches import write_batches
from data.generator import generate_day
from data.scenarios import get_scenario
from features.contract import DatasetContract, load_contract
from features.validation import (
    DUPLICATE_BATCH,
    EVENT_TIME_AFTER_NOW,
    EVENT_TIME_OUTSIDE_DATE,
    IDS_ALREADY_ACCEPTED,
    INDEX_DIR,
    LABEL_TIME_AFTER_NOW,
    VALIDATION_FILE,
    AcceptedIndex,
    BatchOutcome,
    FailedExpectation,
    ValidationGate,
)

REPO = Path(__file__).resolve().parents[2]
START = datetime.date(2026, 1, 1)
#: The run's simulated clock: the end of the third generated day.
NOW = datetime.datetime(2026, 1, 4, 0, 0)


@pytest.fixture(scope="module")
def contract() -> DatasetContract:
    return load_contract(REPO / "data" / "contracts" / "card_fraud.yaml")


def day(index: int) -> pd.DataFrame:
    return generate_day(index, get_scenario("none"), seed=3, days=5, rows=300)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Home:
    """Raw, validated, quarantine and GX folders of one test, and a gate on the fixed clock."""

    def __init__(self, root: Path, contract: DatasetContract) -> None:
        self.raw, self.validated, self.quarantine = (root / n for n in ("raw", "ok", "q"))
        # The generator ships each day's labels ahead of their time, as the demo replays them.
        self.gate = ValidationGate(root / "gx", contract, now=lambda: NOW, labels_ahead=True)

    def write(self, batch_id: str, frame: pd.DataFrame) -> Path:
        self.raw.mkdir(parents=True, exist_ok=True)
        path = self.raw / f"{batch_id}.parquet"
        frame.to_parquet(path)
        return path

    def run(self) -> dict[str, BatchOutcome]:
        before = {p.name: sha256(p) for p in self.raw.glob("*.parquet")}
        outcomes = self.gate.validate_pending(
            self.raw, self.validated, self.quarantine, publish_docs=False
        )
        after = {p.name: sha256(p) for p in self.raw.glob("*.parquet")}
        assert after == before, "the gate never changes a raw file"
        for outcome in outcomes:
            assert outcome.sha256 == before[f"{outcome.batch_id}.parquet"], "hash of the raw file"
            if not outcome.success:
                record = json.loads((outcome.destination / VALIDATION_FILE).read_text())
                assert record["failures"], f"{outcome.batch_id}: reasons recorded in quarantine"
                copy = outcome.destination / f"{outcome.batch_id}.parquet"
                assert sha256(copy) == outcome.sha256, "the quarantined copy has the raw bytes"
        return {o.batch_id: o for o in outcomes}


@pytest.fixture
def home(tmp_path: Path, contract: DatasetContract) -> Home:
    home = Home(tmp_path, contract)
    write_batches([(START + datetime.timedelta(days=i), day(i)) for i in range(2)], home.raw)
    outcomes = home.run()
    assert all(o.success for o in outcomes.values()), [o.failures for o in outcomes.values()]
    return home


def failure(outcome: BatchOutcome, kind: str) -> str:
    reasons = [f.reason for f in outcome.failures if f.expectation_type == kind]
    assert reasons, f"{outcome.batch_id} should fail {kind}: {outcome.failures}"
    assert all(f.guards_against for f in outcome.failures), "each failure says what it guards"
    return reasons[0]


def test_a_clean_next_day_passes_and_is_indexed(home: Home) -> None:
    write_batches([(START + datetime.timedelta(days=2), day(2))], home.raw)
    outcome = home.run()["2026-01-03"]
    assert outcome.success, outcome.failures
    entries = sorted(p.name for p in (home.validated / INDEX_DIR).iterdir())
    assert entries == ["2026-01-01.json", "2026-01-02.json", "2026-01-03.json"], entries


def test_a_batch_five_years_ahead_is_blocked(home: Home) -> None:
    future = day(2).assign(event_time=lambda f: f["event_time"] + pd.DateOffset(years=5))
    future["label_available_at"] += pd.DateOffset(years=5)
    future["transaction_id"] = "f-" + future["transaction_id"]
    home.write("2031-01-03", future)
    outcome = home.run()["2031-01-03"]
    assert not outcome.success, "events from the future are blocked"
    reason = failure(outcome, EVENT_TIME_AFTER_NOW)
    assert reason.startswith("300 of 300 rows have event_time after now (2026-01-04 00:00)"), reason
    assert outcome.destination == home.quarantine / "2031-01-03", "quarantined"


def test_rows_of_another_day_are_blocked(home: Home) -> None:
    frame = day(2)
    frame.loc[:11, "event_time"] = pd.Timestamp("2025-12-30 10:00")
    home.write("2026-01-03", frame)
    outcome = home.run()["2026-01-03"]
    reason = failure(outcome, EVENT_TIME_OUTSIDE_DATE)
    assert reason == (
        "12 of 300 rows have event_time outside 2026-01-03 ± 1h, e.g. 2025-12-30 10:00, "
        "2025-12-30 10:00, 2025-12-30 10:00"
    ), reason


@pytest.mark.parametrize(
    ("moment", "passes"),
    [
        ("2026-01-02 23:00", True),  # midnight minus the 1h tolerance
        ("2026-01-02 22:59:59", False),
        ("2026-01-04 01:00", True),  # next midnight plus the tolerance (also now + 1h)
        ("2026-01-04 01:00:01", False),
    ],
)
def test_the_tolerance_is_respected_at_its_edges(home: Home, moment: str, passes: bool) -> None:
    frame = day(2)
    frame.loc[0, "event_time"] = pd.Timestamp(moment)
    frame.loc[0, "label_available_at"] = pd.Timestamp(moment) + pd.Timedelta(minutes=1)
    frame.loc[0, "label_available_at"] = min(
        frame.loc[0, "label_available_at"], pd.Timestamp("2026-01-04 01:00")
    )
    home.write("2026-01-03", frame)
    outcome = home.run()["2026-01-03"]
    kinds = [f.expectation_type for f in outcome.failures]
    assert outcome.success is passes, f"{moment}: {outcome.failures}"
    if not passes:
        assert EVENT_TIME_OUTSIDE_DATE in kinds, kinds


def test_a_byte_identical_copy_under_a_new_date_is_blocked(home: Home) -> None:
    shutil.copyfile(home.raw / "2026-01-02.parquet", home.raw / "2026-01-03.parquet")
    outcome = home.run()["2026-01-03"]
    reason = failure(outcome, DUPLICATE_BATCH)
    assert reason.startswith("identical to accepted batch 2026-01-02 (sha256 "), reason
    ids = failure(outcome, IDS_ALREADY_ACCEPTED)
    assert ids.startswith("300 of 300 transaction_id values were accepted before"), ids
    assert not (home.validated / "2026-01-03.parquet").exists(), "not validated"


def test_a_batch_reusing_some_ids_is_blocked(home: Home) -> None:
    frame = day(2)
    reused = day(1)["transaction_id"].iloc[:41].to_numpy()
    frame.loc[:40, "transaction_id"] = reused
    home.write("2026-01-03", frame)
    outcome = home.run()["2026-01-03"]
    reason = failure(outcome, IDS_ALREADY_ACCEPTED)
    assert reason.startswith(
        "41 of 300 transaction_id values were accepted before (41 in 2026-01-02), e.g. "
        "tx-20260102-000000"
    ), reason
    assert [f.expectation_type for f in outcome.failures] == [IDS_ALREADY_ACCEPTED], "only that"


def test_the_index_is_rebuilt_from_a_validated_folder_without_one(
    home: Home, contract: DatasetContract
) -> None:
    shutil.rmtree(home.validated / INDEX_DIR)  # as left by a version of the gate without it
    index = AcceptedIndex.load(home.validated, contract.id_column)
    assert len(index) == 2, "both validated batches indexed"
    assert "2026-01-02" in index, "by batch id"
    assert (home.validated / INDEX_DIR / "2026-01-01.json").is_file(), "the entries are written"
    shutil.copyfile(home.raw / "2026-01-01.parquet", home.raw / "2026-01-03.parquet")
    outcome = home.run()["2026-01-03"]
    reason = failure(outcome, DUPLICATE_BATCH)
    assert "2026-01-01" in reason, reason


def test_the_default_clock_is_the_real_time(tmp_path: Path, contract: DatasetContract) -> None:
    gate = ValidationGate(tmp_path / "gx", contract)
    frame = day(0)
    tomorrow = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(days=1)
    frame["event_time"] = pd.Timestamp(tomorrow)
    batch_id = f"{tomorrow:%Y-%m-%d}"
    outcome = gate.check(batch_id, frame.to_parquet()).outcome
    assert outcome.failed(EVENT_TIME_AFTER_NOW), outcome.failures


def test_labels_known_after_now_are_blocked_unless_allowed(
    tmp_path: Path, contract: DatasetContract
) -> None:
    gate = ValidationGate(tmp_path / "gx", contract, now=lambda: NOW)
    payload = day(2).to_parquet()
    outcome = gate.check("2026-01-03", payload).outcome
    reason = failure_of(outcome.failures, LABEL_TIME_AFTER_NOW)
    assert reason.startswith("300 of 300 rows have label_available_at after now"), reason
    allowed = ValidationGate(tmp_path / "gx", contract, now=lambda: NOW, labels_ahead=True)
    assert allowed.check("2026-01-03", payload).outcome.success, "allowed for a replay"


def failure_of(failures: list[FailedExpectation], kind: str) -> str:
    return next(f.reason for f in failures if f.expectation_type == kind)
