"""Delayed labels from a CSV or Parquet file into the home's label log, all or nothing.

Most tests call :func:`pipelines.labels.append_label_file` directly; one runs `lifecycle labels`
in a subprocess to check the command wires the same function to the same log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.labels import LabelFileError, append_label_file
from pipelines.settings import Settings, load_settings

LIFECYCLE = Path(sys.executable).parent / "lifecycle"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in [k for k in os.environ if k.startswith("LIFECYCLE_")]:
        monkeypatch.delenv(key)
    return load_settings(home=tmp_path / "home")


def label_log(settings: Settings) -> Path:
    return settings.paths.labels / "labels.jsonl"


def read_log(settings: Settings) -> list[dict[str, Any]]:
    path = label_log(settings)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def without_receipt(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records minus `received_at`, the one field that depends on the clock."""
    return [{k: v for k, v in r.items() if k != "received_at"} for r in records]


def test_csv_labels_are_appended_with_their_availability_time(settings: Settings) -> None:
    path = write(
        settings.home.parent / "labels.csv",
        "transaction_id,is_fraud,label_available_at\n"
        "tx-20260101-000001,1,2026-01-05 10:30:00\n"
        "tx-20260101-000002,0,\n"
        "tx-20260101-000003,0,2026-01-08T00:00:00\n",
    )
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    count = append_label_file(settings, path).appended

    records = read_log(settings)
    assert count == 3, f"every row is appended, got {count}"
    assert without_receipt(records) == [
        {
            "transaction_id": "tx-20260101-000001",
            "is_fraud": 1,
            "label_available_at": "2026-01-05T10:30:00",
        },
        {"transaction_id": "tx-20260101-000002", "is_fraud": 0},
        {
            "transaction_id": "tx-20260101-000003",
            "is_fraud": 0,
            "label_available_at": "2026-01-08T00:00:00",
        },
    ], f"ids, labels and (when given) availability times are kept in file order: {records}"
    received = {dt.datetime.fromisoformat(r["received_at"]) for r in records}
    assert len(received) == 1, f"one file, one receipt time: {received}"
    assert received.pop() >= before - dt.timedelta(seconds=1), "received_at is the append time"


def test_parquet_labels_are_appended(settings: Settings) -> None:
    path = settings.home.parent / "labels.parquet"
    pd.DataFrame(
        {
            "transaction_id": ["tx-a", "tx-b"],
            "is_fraud": [0, 1],
            "label_available_at": pd.to_datetime(["2026-02-01 08:00", "2026-02-03 09:15"]),
        }
    ).to_parquet(path)

    count = append_label_file(settings, path).appended

    assert count == 2, f"both rows are appended, got {count}"
    assert without_receipt(read_log(settings)) == [
        {"transaction_id": "tx-a", "is_fraud": 0, "label_available_at": "2026-02-01T08:00:00"},
        {"transaction_id": "tx-b", "is_fraud": 1, "label_available_at": "2026-02-03T09:15:00"},
    ], "a Parquet file gives the same records as a CSV"


def test_timezone_aware_availability_times_are_stored_as_utc(settings: Settings) -> None:
    path = settings.home.parent / "labels.parquet"
    pd.DataFrame(
        {
            "transaction_id": ["tx-a"],
            "is_fraud": [1],
            "label_available_at": pd.to_datetime(["2026-02-01 10:00"]).tz_localize("Europe/Berlin"),
        }
    ).to_parquet(path)

    append_label_file(settings, path)

    (record,) = read_log(settings)
    assert record["label_available_at"] == "2026-02-01T09:00:00", (
        f"10:00 in Berlin (UTC+1) is stored as tz-naive UTC: {record}"
    )


def test_files_append_to_one_log(settings: Settings) -> None:
    first = write(settings.home.parent / "a.csv", "transaction_id,is_fraud\ntx-1,0\ntx-2,1\n")
    second = write(settings.home.parent / "b.csv", "transaction_id,is_fraud\ntx-3,1\n")

    counts = [append_label_file(settings, f).appended for f in (first, second)]

    ids = [r["transaction_id"] for r in read_log(settings)]
    assert counts == [2, 1], f"each call returns what it appended: {counts}"
    assert ids == ["tx-1", "tx-2", "tx-3"], f"the second file is appended after the first: {ids}"


def test_ids_are_kept_as_written(settings: Settings) -> None:
    path = write(settings.home.parent / "labels.csv", "transaction_id,is_fraud\n00123,1\n4.50,0\n")

    append_label_file(settings, path)

    ids = [r["transaction_id"] for r in read_log(settings)]
    assert ids == ["00123", "4.50"], (
        f"numeric-looking ids keep their text, or they would never match a prediction: {ids}"
    )


BAD_FILES = [
    pytest.param(
        "labels.csv",
        "transaction_id,label\ntx-1,1\n",
        r"missing column\(s\) \['is_fraud'\]",
        id="label-column-missing",
    ),
    pytest.param(
        "labels.csv",
        "id,is_fraud\ntx-1,1\n",
        r"missing column\(s\) \['transaction_id'\]",
        id="id-column-missing",
    ),
    pytest.param(
        "labels.csv",
        "transaction_id,is_fraud\ntx-1,0\ntx-2,1\ntx-3,2\n",
        r"1 row\(s\) .* label outside \[0, 1\], first at row 4",
        id="label-2-on-the-last-row",
    ),
    pytest.param(
        "labels.csv",
        "transaction_id,is_fraud\ntx-1,1\ntx-2,\n",
        r"label outside \[0, 1\], first at row 3",
        id="label-missing",
    ),
    pytest.param(
        "labels.csv",
        "transaction_id,is_fraud\ntx-1,yes\n",
        r"label outside \[0, 1\], first at row 2",
        id="label-not-a-number",
    ),
    pytest.param(
        "labels.csv",
        "transaction_id,is_fraud\n,1\ntx-2,0\n",
        r"missing id .* first at row 2",
        id="id-missing",
    ),
    pytest.param(
        "labels.csv",
        "transaction_id,is_fraud,label_available_at\ntx-1,1,2026-01-05\ntx-2,0,next week\n",
        r"label_available_at",
        id="availability-time-unreadable",
    ),
    pytest.param(
        "labels.parquet",
        "not a parquet file",
        r"cannot read",
        id="parquet-unreadable",
    ),
    pytest.param(
        "labels.json",
        '[{"transaction_id": "tx-1", "is_fraud": 1}]',
        r"expected a \.csv or \.parquet file",
        id="unsupported-format",
    ),
]


@pytest.mark.parametrize(("name", "content", "problem"), BAD_FILES)
def test_a_bad_file_appends_nothing(
    settings: Settings, name: str, content: str, problem: str
) -> None:
    good = write(settings.home.parent / "good.csv", "transaction_id,is_fraud\ntx-0,0\n")
    append_label_file(settings, good)
    before = label_log(settings).read_bytes()
    path = write(settings.home.parent / name, content)

    with pytest.raises(LabelFileError, match=problem) as raised:
        append_label_file(settings, path)

    assert str(path) in str(raised.value), f"the message names the file: {raised.value}"
    assert label_log(settings).read_bytes() == before, "the log is exactly as before: no row added"


def test_lifecycle_labels_appends_a_file_to_the_home_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = write(tmp_path / "labels.csv", "transaction_id,is_fraud\ntx-1,1\ntx-2,0\n")
    scored = {"transaction_id": "tx-1", "event_time": "2026-01-01T10:00:00+00:00"}
    write(home / "predictions" / "2026-01-01.jsonl", json.dumps(scored) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    env.update(LIFECYCLE_HOME=str(home), NO_COLOR="1")

    run = subprocess.run(
        [str(LIFECYCLE), "labels", str(path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    output = f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert run.returncode == 0, f"a good file is accepted\n{output}"
    assert "appended 2 label(s)" in run.stdout, f"the command says how many it appended\n{output}"
    assert "1 match a scored row" in run.stdout, f"and how many were scored\n{output}"
    assert "1 label(s) name an id the prediction log does not hold" in run.stderr, output
    log = home.resolve() / "labels" / "labels.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["transaction_id"], r["is_fraud"]) for r in lines] == [("tx-1", 1), ("tx-2", 0)], (
        f"the home's label log holds the file's rows: {lines}"
    )
