from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.contract import DatasetContract
from monitoring.errors import LogFormatError, MonitoringInputError
from monitoring.labels import matured_performance_frame, read_labels, read_prediction_log


def predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c", "d"],
            "fraud_probability": [0.9, 0.1, 0.4, 0.2],
            "logged_at": pd.to_datetime(["2026-03-01 10:00"] * 4),
        }
    )


def labels(rows: list[tuple[str, int, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": [r[0] for r in rows],
            "is_fraud": [r[1] for r in rows],
            "received_at": pd.to_datetime([r[2] for r in rows]),
            "label_available_at": pd.to_datetime(pd.Series([r[3] for r in rows], dtype=object)),
        }
    )


def test_join_keeps_every_prediction_and_the_latest_label(contract: DatasetContract) -> None:
    known = labels(
        [
            ("a", 0, "2026-03-05", "2026-03-05"),
            ("a", 1, "2026-03-07", "2026-03-07"),  # corrected later: wins
            ("b", 0, "2026-03-06", "2026-03-06"),
            ("zz", 1, "2026-03-06", "2026-03-06"),  # no such prediction: ignored
        ]
    )
    joined = matured_performance_frame(predictions(), known, contract)
    assert len(joined) == 4, "one row per prediction"
    by_id = joined.set_index("transaction_id")["is_fraud"]
    assert by_id["a"] == 1, "the label received last wins"
    assert by_id["b"] == 0, "b's label"
    assert by_id[["c", "d"]].isna().all(), "no label yet for c and d"
    assert str(joined["is_fraud"].dtype) == "Int64", "nullable labels"


def test_as_of_ignores_labels_not_yet_known(contract: DatasetContract) -> None:
    known = labels(
        [
            ("a", 0, "2026-03-05", "2026-03-05"),
            ("a", 1, "2026-03-09", "2026-03-09"),  # after as_of: the earlier label stands
            ("b", 1, "2026-03-09", None),  # no available time: received_at decides
            ("c", 1, "2026-03-02", "2026-03-10"),  # received early but matures after as_of
        ]
    )
    joined = matured_performance_frame(
        predictions(), known, contract, as_of=datetime(2026, 3, 8)
    ).set_index("transaction_id")
    assert joined.loc["a", "is_fraud"] == 0, "the 03-09 correction was not known yet"
    assert pd.isna(joined.loc["b", "is_fraud"]), "received after as_of"
    assert pd.isna(joined.loc["c", "is_fraud"]), "label_available_at after as_of"


def test_a_retried_prediction_counts_once(contract: DatasetContract) -> None:
    scored = pd.concat(
        [
            predictions(),
            pd.DataFrame(
                {
                    "transaction_id": ["a"],
                    "fraud_probability": [0.5],
                    "logged_at": pd.to_datetime(["2026-03-01 10:05"]),
                }
            ),
        ],
        ignore_index=True,
    )
    known = labels([("a", 1, "2026-03-05", "2026-03-05")])
    joined = matured_performance_frame(scored, known, contract)
    assert len(joined) == 4, "a was scored twice"
    assert joined.set_index("transaction_id").loc["a", "fraud_probability"] == 0.5, (
        "last logged wins"
    )


def test_join_rejects_frames_without_their_columns(contract: DatasetContract) -> None:
    with pytest.raises(MonitoringInputError, match=r"\['is_fraud', 'received_at'\]"):
        matured_performance_frame(predictions(), pd.DataFrame({"transaction_id": []}), contract)
    with pytest.raises(MonitoringInputError, match="already hold label"):
        matured_performance_frame(
            predictions().assign(is_fraud=0), labels([("a", 1, "2026-03-05", None)]), contract
        )


def write_lines(path: Path, records: list[dict[str, Any]], tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)


def prediction_record(i: int, day: str) -> dict[str, Any]:
    return {
        "request_id": f"r{i}",
        "transaction_id": f"t{i}",
        "event_time": f"{day}T10:00:00",
        "logged_at": f"{day}T10:00:01+00:00",
        "fraud_probability": 0.1,
    }


def test_truncated_last_line_is_skipped_and_counted(
    tmp_path: Path, contract: DatasetContract
) -> None:
    write_lines(
        tmp_path / "2026-03-01.jsonl",
        [prediction_record(1, "2026-03-01"), prediction_record(2, "2026-03-01")],
        tail='{"request_id": "r3", "transa',
    )
    write_lines(tmp_path / "2026-03-03.jsonl", [prediction_record(4, "2026-03-03")])
    read = read_prediction_log(tmp_path, contract, date(2026, 3, 1), date(2026, 3, 3))
    assert len(read.frame) == 3, "two complete lines on 03-01, one on 03-03"
    assert read.skipped_lines == 1, "the half-written line is counted"
    assert "skipped 1 truncated or unusable line(s)" in read.warnings()[0], read.warnings()
    assert "2026-03-01.jsonl line(s) 3" in read.warnings()[0], "file and line named"
    assert [p.name for p in read.missing_files] == ["2026-03-02.jsonl"], read.missing_files
    assert str(read.frame["event_time"].dtype) == "datetime64[ns]", "tz-naive UTC times"
    assert read.frame["logged_at"].iloc[0] == pd.Timestamp("2026-03-01 10:00:01"), "UTC"


def test_a_corrupt_middle_line_is_skipped_and_reported(
    tmp_path: Path, contract: DatasetContract
) -> None:
    path = tmp_path / "2026-03-01.jsonl"
    path.write_text(
        json.dumps(prediction_record(1, "2026-03-01"))
        + "\nnot json\n"
        + json.dumps(prediction_record(2, "2026-03-01"))
        + "\n[1, 2]\n"
        + json.dumps(prediction_record(3, "2026-03-01"))
        + "\n"
    )
    read = read_prediction_log(tmp_path, contract, date(2026, 3, 1), date(2026, 3, 1))
    assert list(read.frame["transaction_id"]) == ["t1", "t2", "t3"], "the usable lines are read"
    assert read.skipped_lines == 2, "the corrupt line and the non-object line"
    assert read.skipped == ((path, (2, 4)),), read.skipped
    assert "2026-03-01.jsonl line(s) 2, 4" in read.warnings()[0], read.warnings()


def test_times_out_of_range_or_not_iso_are_skipped(
    tmp_path: Path, contract: DatasetContract
) -> None:
    far = {**prediction_record(9, "9999-12-31"), "event_time": "9999-12-31T10:00:00"}
    write_lines(tmp_path / "9999-12-31.jsonl", [far])
    odd = {**prediction_record(5, "2026-03-01"), "logged_at": "yesterday"}
    write_lines(tmp_path / "2026-03-01.jsonl", [prediction_record(1, "2026-03-01"), far, odd])
    read = read_prediction_log(tmp_path, contract, date(2026, 3, 1), date(2026, 3, 1))
    assert list(read.frame["transaction_id"]) == ["t1"], "only the usable row is kept"
    assert read.skipped_lines == 2, "year 9999 and a non-ISO logged_at"
    assert "2026-03-01.jsonl line(s) 2, 3" in read.warnings()[0], read.warnings()
    assert str(read.frame["event_time"].dtype) == "datetime64[ns]", "times parsed"
    last = read_prediction_log(tmp_path, contract, date(9999, 12, 30), date(9999, 12, 31))
    assert last.frame.empty, "the year-9999 file holds no usable row"
    assert last.skipped_lines == 1, "and says so instead of crashing"


def test_read_labels_parses_times_and_tolerates_a_missing_file(
    tmp_path: Path, contract: DatasetContract
) -> None:
    empty = read_labels(tmp_path, contract)
    assert empty.frame.empty, "no label has arrived"
    assert empty.missing_files == (tmp_path / "labels.jsonl",), "says where it looked"
    write_lines(
        tmp_path / "labels.jsonl",
        [
            {"transaction_id": "a", "is_fraud": 1, "received_at": "2026-03-05T00:00:00Z"},
            {
                "transaction_id": "b",
                "is_fraud": 0,
                "received_at": "2026-03-06T01:00:00+01:00",
                "label_available_at": "2026-03-06T00:00:00",
            },
        ],
    )
    read = read_labels(tmp_path, contract)
    assert list(read.frame["is_fraud"]) == [1, 0], "labels"
    assert str(read.frame["is_fraud"].dtype) == "int64", "0/1 int64"
    assert read.frame["received_at"].iloc[1] == pd.Timestamp("2026-03-06 00:00"), "to UTC"
    assert pd.isna(read.frame["label_available_at"].iloc[0]), "not carried: missing"


def test_read_labels_rejects_a_label_outside_the_contract(
    tmp_path: Path, contract: DatasetContract
) -> None:
    write_lines(
        tmp_path / "labels.jsonl",
        [{"transaction_id": "a", "is_fraud": 2, "received_at": "2026-03-05T00:00:00"}],
    )
    with pytest.raises(LogFormatError, match=r"labels\.jsonl: .*holds \[2\], not one of \[0, 1\]"):
        read_labels(tmp_path, contract)
    write_lines(
        tmp_path / "labels.jsonl",
        [{"transaction_id": "a", "is_fraud": "yes", "received_at": "2026-03-05T00:00:00"}],
    )
    with pytest.raises(LogFormatError, match=r"holds \['yes'\]"):
        read_labels(tmp_path, contract)


# --- a contract with text labels, a label delay and no label-available column ---------------


def churn_predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "snapshot_time": pd.to_datetime(["2026-03-01 10:00"] * 3),
            "churn_probability": [0.8, 0.1, 0.3],
            "logged_at": pd.to_datetime(["2026-03-01 10:00"] * 3),
        }
    )


def test_read_labels_turns_text_labels_into_0_1(tmp_path: Path, churn: DatasetContract) -> None:
    write_lines(
        tmp_path / "labels.jsonl",
        [
            {"customer_id": "a", "churned": "yes", "received_at": "2026-03-09T00:00:00Z"},
            {
                "customer_id": "b",
                "churned": "no",
                "received_at": "2026-03-09T00:00:00Z",
                "label_available_at": "2026-03-05T00:00:00Z",
            },
        ],
    )
    read = read_labels(tmp_path, churn)
    assert list(read.frame.columns) == [
        "customer_id",
        "churned",
        "received_at",
        "label_available_at",
    ], "the contract has no label-available column: the log's optional field is used"
    assert list(read.frame["churned"]) == [1, 0], "'yes' is the positive label"
    assert str(read.frame["churned"].dtype) == "int64", "0/1 int64"
    assert pd.isna(read.frame["label_available_at"].iloc[0]), "not carried"
    assert read.frame["label_available_at"].iloc[1] == pd.Timestamp("2026-03-05"), "carried"
    empty = read_labels(tmp_path / "none", churn)
    assert "label_available_at" in empty.frame.columns, "same columns without a log"


def test_read_labels_names_the_file_of_an_unknown_text_label(
    tmp_path: Path, churn: DatasetContract
) -> None:
    write_lines(
        tmp_path / "labels.jsonl",
        [
            {"customer_id": "a", "churned": "yes", "received_at": "2026-03-09T00:00:00"},
            {"customer_id": "b", "churned": "Yes", "received_at": "2026-03-09T00:00:00"},
        ],
    )
    with pytest.raises(LogFormatError) as caught:
        read_labels(tmp_path, churn)
    message = str(caught.value)
    assert str(tmp_path / "labels.jsonl") in message, message
    assert "['Yes']" in message, message
    assert "['no', 'yes']" in message, message


def test_label_delay_decides_when_a_label_is_known(tmp_path: Path, churn: DatasetContract) -> None:
    write_lines(
        tmp_path / "labels.jsonl",
        [
            {"customer_id": "a", "churned": "yes", "received_at": "2026-03-02T00:00:00"},
            {
                "customer_id": "b",
                "churned": "no",
                "received_at": "2026-03-02T00:00:00",
                "label_available_at": "2026-03-03T00:00:00",  # carried: it wins over the delay
            },
        ],
    )
    known = read_labels(tmp_path, churn).frame
    before = matured_performance_frame(
        churn_predictions(), known, churn, as_of=datetime(2026, 3, 8, 9, 59)
    ).set_index("customer_id")
    assert pd.isna(before.loc["a", "churned"]), "event 03-01 10:00 + 7d is not reached yet"
    assert before.loc["b", "churned"] == 0, "b carried an earlier label-available time"
    after = matured_performance_frame(
        churn_predictions(), known, churn, as_of=datetime(2026, 3, 8, 10, 0)
    ).set_index("customer_id")
    assert after.loc["a", "churned"] == 1, "known exactly 7 days after the event"
    assert pd.isna(after.loc["c", "churned"]), "no label for c"
    assert str(after["churned"].dtype) == "Int64", "nullable 0/1"
    with pytest.raises(MonitoringInputError, match="'snapshot_time'"):
        matured_performance_frame(
            churn_predictions().drop(columns="snapshot_time"),
            known,
            churn,
            as_of=datetime(2026, 3, 8),
        )
