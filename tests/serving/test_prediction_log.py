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
    declared_label,
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


def test_prediction_record_has_the_documented_keys_in_order(contract):
    item = valid_item(contract, "t-9", event_time=None)
    (record,) = prediction_records(batch_of(contract, [item]), contract, LOGGED)
    expected = [
        "request_id",
        contract.id_column,
        contract.event_time_column,
        "logged_at",
        "model_name",
        "model_version",
        contract.score_name,
        "decision",
        "threshold",
        *contract.input_columns,
    ]
    assert list(record) == expected, "exactly the documented keys, in the documented order"
    assert record["event_time"] == "2024-03-02T23:59:59", "receipt time when no event time"
    assert record["logged_at"] == "2024-03-03T00:00:01", "logged_at is the writer's clock"
    assert (record["model_version"], record["decision"]) == ("7", 1), "version str, decision int"
    assert record[contract.score_name] == 0.9, "the score under the contract's score name"
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


def test_extra_segments_are_logged_after_the_features(renewal_contract):
    items = [
        valid_item(renewal_contract, 1, region="east"),
        valid_item(renewal_contract, "a-2"),
    ]
    records = prediction_records(batch_of(renewal_contract, items), renewal_contract, LOGGED)
    keys = list(records[0])
    assert keys[6] == "cancel_score", "the score under the contract's score_name"
    assert "score" not in keys, "no column literally named score"
    assert keys[-5:] == [*renewal_contract.features, "region"], "features, then extra segments"
    assert [r["region"] for r in records] == ["east", None], "a left-out segment is null"
    assert [r["account_id"] for r in records] == [1, "a-2"], "ids as given"
    assert records[0]["snapshot_time"] == "2024-03-02T23:59:59", "contract's event-time column"


def test_feature_frame_leaves_extra_segments_out(renewal_contract):
    rows = [valid_item(renewal_contract, 1, region="east", support_calls=None)]
    frame = feature_frame(rows, renewal_contract)
    assert list(frame.columns) == list(renewal_contract.features), "the model sees features only"


def test_text_labels_are_recorded_raw_with_label_available_at(renewal_contract):
    labels = [
        {"account_id": 4, "cancelled": "yes", "label_available_at": dt.datetime(2024, 4, 1)},
        {"account_id": "x", "cancelled": np.str_("no")},
    ]
    records = label_records(labels, renewal_contract, RECEIVED)
    assert records == [
        {
            "account_id": 4,
            "cancelled": "yes",
            "received_at": "2024-03-02T23:59:59",
            "label_available_at": "2024-04-01T00:00:00",
        },
        {"account_id": "x", "cancelled": "no", "received_at": "2024-03-02T23:59:59"},
    ], "raw labels, the contract's label-available field"


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1), (np.int64(0), 0), ("1", None), (True, None), (1.0, None)]
)
def test_int_labels_must_be_integers(contract, value, expected):
    if expected is None:
        with pytest.raises(ValueError, match="is_fraud"):
            declared_label(value, contract)
    else:
        got = declared_label(value, contract)
        assert (got, type(got)) == (expected, int), "a plain int, as the contract declares it"


@pytest.mark.parametrize("value", [1, "Yes", None, "maybe"])
def test_text_labels_must_be_one_of_the_declared_values(renewal_contract, value):
    with pytest.raises(ValueError, match=r"not one of \['no', 'yes'\]"):
        label_records([{"account_id": 1, "cancelled": value}], renewal_contract, RECEIVED)
