"""The prediction and label logs (pure record builders, the background writer) and scoring."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from serving.prediction_log import (
    LabelLog,
    PredictionLogWriter,
    ScoredBatch,
    label_records,
    prediction_records,
)
from serving.scoring import decisions, feature_frame
from tests.serving.conftest import valid_item

RECEIVED = dt.datetime(2024, 3, 2, 23, 59, 59)
LOGGED = dt.datetime(2024, 3, 3, 0, 0, 1)


def batch_of(contract, items, request_id="r-1"):
    return ScoredBatch(
        request_id=request_id,
        items=items,
        scores=[0.9] * len(items),
        decisions=[1] * len(items),
        model_name="m",
        model_version="7",
        threshold=0.5,
        received_at=RECEIVED,
    )


def test_prediction_record_has_the_registry_keys(contract):
    item = valid_item(contract, "t-9", event_time=None)
    (record,) = prediction_records(batch_of(contract, [item]), contract, LOGGED)
    expected = {
        "request_id",
        "transaction_id",
        "event_time",
        "logged_at",
        "model_name",
        "model_version",
        "score",
        "decision",
        "threshold",
        *contract.features,
    }
    assert set(record) == expected, "exactly the documented keys"
    assert record["event_time"] == "2024-03-02T23:59:59", "receipt time when no event time"
    assert record["logged_at"] == "2024-03-03T00:00:01", "logged_at is the writer's clock"
    assert (record["model_version"], record["decision"]) == ("7", 1), "version str, decision int"
    assert record["amount"] == item["amount"], "features at top level"


def test_aware_event_time_is_written_as_naive_utc(contract):
    aware = dt.datetime(2024, 3, 1, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    item = valid_item(contract, event_time=aware)
    (record,) = prediction_records(batch_of(contract, [item]), contract, LOGGED)
    assert record["event_time"] == "2024-02-29T23:30:00", "converted to UTC, offset dropped"


def test_writer_writes_every_line_to_its_event_date_on_close(tmp_path, contract):
    writer = PredictionLogWriter(tmp_path / "pred", contract, clock=lambda: LOGGED)
    writer.start()
    day1 = dt.datetime(2024, 3, 1, 10)
    day2 = dt.datetime(2024, 3, 2, 10)
    for i in range(50):
        items = [
            valid_item(contract, f"a{i}", event_time=day1),
            valid_item(contract, f"b{i}", event_time=day2),
        ]
        writer.submit(batch_of(contract, items, request_id=f"r{i}"))
    writer.close()
    files = sorted(p.name for p in (tmp_path / "pred").iterdir())
    assert files == ["2024-03-01.jsonl", "2024-03-02.jsonl"], "one file per event date"
    lines = (tmp_path / "pred" / "2024-03-01.jsonl").read_text().splitlines()
    ids = [json.loads(line)["transaction_id"] for line in lines]
    assert ids == [f"a{i}" for i in range(50)], "all lines, in submission order"
    assert writer.lines_written == 100, "counts every line"


def test_submit_after_close_writes_synchronously(tmp_path, contract):
    writer = PredictionLogWriter(tmp_path, contract, clock=lambda: LOGGED)
    writer.start()
    writer.close()
    writer.submit(batch_of(contract, [valid_item(contract)]))
    assert (tmp_path / "2024-03-02.jsonl").exists(), "nothing is dropped after close"


def test_write_failure_is_counted_not_silent(tmp_path, contract):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log folder should be")
    lost: list[int] = []
    writer = PredictionLogWriter(blocker, contract, clock=lambda: LOGGED, on_error=lost.append)
    writer.start()
    writer.submit(batch_of(contract, [valid_item(contract), valid_item(contract, "t-2")]))
    writer.close()
    assert lost == [2], "the lost lines are reported"


def test_label_records_and_log(tmp_path, contract):
    labels = [
        {"transaction_id": "t-1", "is_fraud": 1, "label_available_at": dt.datetime(2024, 3, 9)},
        {"transaction_id": "t-2", "is_fraud": 0, "label_available_at": None},
    ]
    records = label_records(labels, contract, RECEIVED)
    log = LabelLog(tmp_path / "labels")
    written = log.append(records) + log.append(records[:1])
    lines = [json.loads(x) for x in log.path.read_text().splitlines()]
    assert written == 3, "three records appended"
    assert lines[0] == {
        "transaction_id": "t-1",
        "is_fraud": 1,
        "received_at": "2024-03-02T23:59:59",
        "label_available_at": "2024-03-09T00:00:00",
    }, "label record keys"
    assert "label_available_at" not in lines[1], "absent availability time is omitted"


def test_feature_frame_has_training_dtypes(contract):
    rows = [valid_item(contract, device_trust_score=None), valid_item(contract, "t-2")]
    frame = feature_frame(rows, contract)
    assert list(frame.columns) == list(contract.features), "features in contract order"
    assert frame["amount"].dtype == np.float64, "float column"
    assert frame["customer_age"].dtype == np.int64, "int column"
    assert frame["channel"].dtype == object, "categories are plain object strings"
    assert np.isnan(frame["device_trust_score"].iloc[0]), "None becomes NaN"


@pytest.mark.parametrize(("threshold", "expected"), [(0.5, [0, 1, 1]), (0.0, [1, 1, 1])])
def test_decision_is_score_at_or_above_threshold(threshold, expected):
    got = decisions(np.array([0.2, 0.5, 0.9]), threshold).tolist()
    assert got == expected, "decision = score >= threshold"
