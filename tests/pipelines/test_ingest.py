"""`lifecycle ingest`'s core: parsing against the contract, one immutable batch per day."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from features.contract import DatasetContract, load_contract, parse_contract
from features.validation import validate_frame
from pipelines.ingest import (
    NO_EVENT_TIME,
    NOT_A_DATETIME,
    NOT_A_NUMBER,
    NOT_WHOLE,
    REASON_COLUMN,
    IngestError,
    ingest,
    parse_rows,
    source_sha256,
)

REPO = Path(__file__).resolve().parents[2]

TOY = {
    "name": "toy",
    "id_column": "row_id",
    "id_generated": True,
    "event_time_column": "at",
    "label_column": "answer",
    "positive_label": "yes",
    "label_delay": "7d",
    "columns": {
        "row_id": {"dtype": "string"},
        "at": {"dtype": "datetime"},
        "value": {"dtype": "float", "nullable": True, "min": 0},
        "count": {"dtype": "int", "nullable": True},
        "kind": {"dtype": "category", "categories": ["a", "b"]},
        "answer": {"dtype": "category", "categories": ["no", "yes"]},
    },
    "features": ["value", "count", "kind"],
    "costs": {"false_negative": 10, "false_positive": 1},
}

TOY_CSV = """at,value,count,kind,answer
2026-01-02T10:00:00Z,1.5,3,a,yes
2026-01-01T23:30:00-02:00,2.0,,b,no
2026-01-01 08:00:00,0.5,4,a,no
2026-01-03,,5,b,yes
"""


@pytest.fixture
def toy() -> DatasetContract:
    return parse_contract(TOY)


@pytest.fixture
def with_ids() -> DatasetContract:
    """The toy contract with a source id column instead of generated ids."""
    return parse_contract({**TOY, "id_column": "key", "id_generated": False} | _key_columns())


def _key_columns() -> dict[str, object]:
    columns = {"key": {"dtype": "string"}, **TOY["columns"]}  # type: ignore[dict-item]
    del columns["row_id"]
    return {"columns": columns}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "raw", tmp_path / "ingest"


def _raw_files(raw: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(raw.glob("*.parquet"))} if raw.is_dir() else {}


def test_csv_becomes_one_batch_per_utc_day_in_the_gates_dtypes(tmp_path, toy):
    raw, records = _dirs(tmp_path)
    report = ingest(_write(tmp_path / "toy.csv", TOY_CSV), toy, raw, records)

    assert [b.batch_id for b in report.batches] == ["2026-01-01", "2026-01-02", "2026-01-03"], (
        "one batch per UTC day: the -02:00 evening row belongs to the next UTC day"
    )
    assert all(b.status == "written" for b in report.batches), "a fresh folder gets new files"
    assert (report.rows_read, report.rows_ingested, report.rows_rejected) == (4, 4, 0), (
        "every row parsed and was written"
    )
    day2 = pd.read_parquet(raw / "2026-01-02.parquet")
    assert list(day2.columns) == list(toy.columns), "columns in contract order, id included"
    assert list(day2["at"]) == [
        pd.Timestamp("2026-01-02 01:30"),
        pd.Timestamp("2026-01-02 10:00"),
    ], "sorted by event time; the offset converted to naive UTC"
    outcome = validate_frame(day2, toy)
    assert outcome.success, f"the gate accepts the parsed dtypes: {outcome.summary()}"
    assert str(day2["count"].dtype) == "Int64", "an int column with a gap is nullable Int64"
    assert str(pd.read_parquet(raw / "2026-01-01.parquet")["count"].dtype) == "int64", (
        "an int column without gaps that day stays int64"
    )
    assert day2["count"].isna().tolist() == [True, False], "the empty cell is missing"
    assert all(isinstance(v, str) for v in day2["kind"]), "categories are Python str"
    stored = json.loads(report.report_path.read_text())
    assert stored["status"] == "ingested", "the report says the batches were written"
    assert stored["sha256"] == hashlib.sha256((tmp_path / "toy.csv").read_bytes()).hexdigest(), (
        "the report is keyed by the file's content hash"
    )
    assert report.report_path.parent.name == report.sha256[:16], "record folder is hash16"


def test_csv_and_parquet_of_the_same_rows_give_the_same_batches(tmp_path, toy):
    csv = _write(tmp_path / "toy.csv", TOY_CSV)
    frame = pd.read_csv(csv)
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")  # tz-aware, typed
    frame.to_parquet(tmp_path / "toy.parquet")

    from_csv = ingest(csv, toy, tmp_path / "a", tmp_path / "ia")
    from_parquet = ingest(tmp_path / "toy.parquet", toy, tmp_path / "b", tmp_path / "ib")

    for left, right in zip(from_csv.batches, from_parquet.batches, strict=True):
        pd.testing.assert_frame_equal(
            pd.read_parquet(left.path), pd.read_parquet(right.path), obj=left.batch_id
        )
    assert from_csv.sha256 != from_parquet.sha256, "two different files, two content hashes"


def test_a_folder_is_read_in_name_order_and_hashed_as_one_source(tmp_path, toy):
    lines = TOY_CSV.splitlines(keepends=True)
    folder = tmp_path / "drop"
    first = _write(folder / "a.csv", "".join(lines[:3]))
    pd.read_csv(_write(tmp_path / "b.csv", lines[0] + "".join(lines[3:]))).to_parquet(
        folder / "b.parquet"
    )
    _write(folder / "README.txt", "not data")

    report = ingest(folder, toy, *_dirs(tmp_path))

    assert (report.rows_read, report.rows_ingested) == (4, 4), "rows of both files ingested"
    assert report.sha256 == source_sha256([first, folder / "b.parquet"]), (
        "the folder's hash is that of its data files concatenated in name order"
    )


def test_unparseable_rows_block_the_whole_file_and_are_saved(tmp_path, toy):
    raw, records = _dirs(tmp_path)
    bad = TOY_CSV + "2026-01-03,abc,6,a,no\n2026-13-45,1.0,2.5,a,no\n,1.0,1,a,no\n"
    source = _write(tmp_path / "bad.csv", bad)

    with pytest.raises(IngestError) as caught:
        ingest(source, toy, raw, records)

    message = str(caught.value)
    assert "\n" not in message, "the error is one line"
    assert message.startswith("3 of 7 rows could not be parsed"), message
    for part in ("value: 1 not a number, e.g. 'abc'", "at: 1 not an ISO 8601", "'2026-13-45'"):
        assert part in message, f"the error names column, reason and example: {part}"
    assert "count: 1 not a whole number, e.g. '2.5'" in message, message
    assert "rerun with --skip-bad-rows" in message, "the error says how to go on"
    assert _raw_files(raw) == {}, "all or nothing: no batch was written"
    rejected_path = records / source_sha256([source])[:16] / "rejected.csv"
    assert str(rejected_path) in message, "the error says where the rejected rows are"
    rejected = pd.read_csv(rejected_path, dtype=str, keep_default_na=False)
    assert rejected["value"].tolist() == ["abc", "1.0", "1.0"], "original text kept"
    assert rejected["source_row"].tolist() == ["5", "6", "7"], "1-based data row numbers"
    assert rejected[REASON_COLUMN].tolist() == [
        f"value: {NOT_A_NUMBER} ('abc')",
        f"at: {NOT_A_DATETIME} ('2026-13-45'); count: {NOT_WHOLE} ('2.5')",
        f"at: {NO_EVENT_TIME}",
    ], "one reason per failing column"
    stored = json.loads((rejected_path.parent / "report.json").read_text())
    assert stored["status"] == "rejected", "the record says nothing was ingested"

    with pytest.raises(IngestError):  # a failed ingest is no "already ingested"
        ingest(source, toy, raw, records)


def test_skip_bad_rows_ingests_the_others_and_still_saves_the_rejects(tmp_path, toy):
    raw, records = _dirs(tmp_path)
    source = _write(tmp_path / "bad.csv", TOY_CSV + "2026-01-03,abc,6,a,no\n")

    report = ingest(source, toy, raw, records, skip_bad_rows=True)

    assert (report.rows_read, report.rows_ingested, report.rows_rejected) == (5, 4, 1), (
        "four good rows written, the bad one counted"
    )
    assert [(r.column, r.count, r.examples) for r in report.rejections] == [
        ("value", 1, ("abc",))
    ], "the report gives column, count and example"
    assert report.rejected_path is not None, "the rejected rows are saved even when skipped"
    assert report.rejected_path.is_file(), "in the file the report names"
    assert sum(len(pd.read_parquet(p)) for p in raw.glob("*.parquet")) == 4, "good rows only"
    again = ingest(source, toy, raw, records)
    assert again.already_ingested, "a rerun of the same file is a no-op"
    assert again.rows_rejected == 1, "that still reports the rejected row"


def test_ingesting_the_same_file_again_is_a_no_op(tmp_path, toy):
    raw, records = _dirs(tmp_path)
    source = _write(tmp_path / "toy.csv", TOY_CSV)
    first = ingest(source, toy, raw, records)
    before = _raw_files(raw)

    again = ingest(source, toy, raw, records)

    assert again.already_ingested, "the same content is recognised by its hash"
    assert again.ingested_at == first.ingested_at, "the answer says when it was ingested"
    assert [b.batch_id for b in again.batches] == [b.batch_id for b in first.batches], (
        "and which batches it made"
    )
    assert "already ingested" in again.summary(), again.summary()
    assert _raw_files(raw) == before, "nothing in the raw folder changed"


def test_new_rows_for_a_filled_day_get_a_suffixed_batch_and_never_touch_the_first(tmp_path, toy):
    raw, records = _dirs(tmp_path)
    ingest(_write(tmp_path / "one.csv", TOY_CSV), toy, raw, records)
    before = _raw_files(raw)

    later = "at,value,count,kind,answer\n2026-01-02T18:00:00,9.0,1,b,no\n"
    report = ingest(_write(tmp_path / "two.csv", later), toy, raw, records)

    (batch,) = report.batches
    assert batch.status == "written", "the new rows are written"
    assert re.fullmatch(r"2026-01-02\.[0-9a-f]{8}", batch.batch_id), (
        f"a second batch of the day is YYYY-MM-DD.<8 hex>, got {batch.batch_id}"
    )
    payload = batch.path.read_bytes()
    assert batch.batch_id.endswith(hashlib.sha256(payload).hexdigest()[:8]), (
        "the suffix is the payload's hash"
    )
    assert {k: v for k, v in _raw_files(raw).items() if k in before} == before, (
        "existing batches are byte for byte unchanged"
    )


def test_a_re_export_with_extra_rows_writes_only_the_new_ones(tmp_path, toy):
    raw, records = _dirs(tmp_path)
    ingest(_write(tmp_path / "monday.csv", TOY_CSV), toy, raw, records)

    grown = TOY_CSV + "2026-01-03T12:00:00,7.0,2,a,yes\n"  # same rows, same order, plus one
    report = ingest(_write(tmp_path / "tuesday.csv", grown), toy, raw, records)

    assert (report.rows_ingested, report.rows_already_present) == (1, 4), (
        "rows already in a batch of their day are not written twice"
    )
    statuses = {b.batch_id[:10]: b.status for b in report.batches}
    assert statuses == {
        "2026-01-01": "unchanged",
        "2026-01-02": "unchanged",
        "2026-01-03": "written",
    }, statuses
    (new,) = [b for b in report.batches if b.status == "written"]
    assert len(pd.read_parquet(new.path)) == 1, "the new batch holds only the new row"


def test_an_id_already_ingested_with_other_values_is_rejected(tmp_path, with_ids):
    raw, records = _dirs(tmp_path)
    header = "key,at,value,count,kind,answer\n"
    ingest(
        _write(tmp_path / "a.csv", header + "k1,2026-01-01,1.0,1,a,no\n"), with_ids, raw, records
    )
    before = _raw_files(raw)

    changed = header + "k1,2026-01-01,2.0,1,a,no\nk2,2026-01-01,3.0,1,a,no\n"
    with pytest.raises(IngestError, match="1 of 2 rows could not be ingested") as caught:
        ingest(_write(tmp_path / "b.csv", changed), with_ids, raw, records)

    assert "id already ingested in raw batch 2026-01-01" in str(caught.value), caught.value
    assert _raw_files(raw) == before, "nothing written beside the first version of k1"


def test_generated_ids_are_stable_hashes_of_values_and_position(tmp_path, toy):
    duplicated = TOY_CSV + TOY_CSV.splitlines(keepends=True)[1]  # row 1 again, at row 5
    source = _write(tmp_path / "toy.csv", duplicated)
    first = ingest(source, toy, tmp_path / "r1", tmp_path / "i1")
    second = ingest(source, toy, tmp_path / "r2", tmp_path / "i2")

    ids = [i for b in first.batches for i in pd.read_parquet(b.path)["row_id"]]
    again = [i for b in second.batches for i in pd.read_parquet(b.path)["row_id"]]
    assert ids == again, "the same file gives the same ids"
    assert len(set(ids)) == 5, "equal rows at different positions get different ids"
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids), "16 hex characters"


def test_undeclared_columns_are_left_out_and_reported(tmp_path, toy):
    raw, records = _dirs(tmp_path)
    extra = TOY_CSV.replace("answer\n", "answer,comment\n", 1).replace("yes\n", "yes,hi\n")
    report = ingest(_write(tmp_path / "extra.csv", extra), toy, raw, records)

    assert report.ignored_columns == ("comment",), "the extra column is listed"
    assert "comment" not in pd.read_parquet(report.batches[0].path).columns, "and dropped"


def test_missing_contract_columns_fail_naming_them(tmp_path, toy):
    raw, records = _dirs(tmp_path)
    frame = pd.read_csv(_write(tmp_path / "toy.csv", TOY_CSV)).drop(columns=["kind", "value"])
    frame.to_csv(tmp_path / "short.csv", index=False)

    with pytest.raises(IngestError, match=r"lacks contract column\(s\) \['value', 'kind'\]"):
        ingest(tmp_path / "short.csv", toy, raw, records)
    assert _raw_files(raw) == {}, "nothing written"


def test_an_existing_batch_of_the_day_is_never_replaced(tmp_path, toy):
    raw, records = _dirs(tmp_path)
    raw.mkdir()
    (raw / "2026-01-01.parquet").write_bytes(b"not parquet at all")

    report = ingest(_write(tmp_path / "toy.csv", TOY_CSV), toy, raw, records)

    assert (raw / "2026-01-01.parquet").read_bytes() == b"not parquet at all", "untouched"
    assert report.batches[0].batch_id.startswith("2026-01-01."), "the day got a suffixed batch"


def test_parse_rows_is_pure_and_parses_every_dtype(toy):
    source = pd.DataFrame(
        {
            "at": ["2026-01-01T00:00:00+01:00", "2026-01-01", " "],
            "value": ["1e3", "nan", "2"],
            "count": ["3.0", "", "7"],
            "kind": ["a", "b", "a"],
            "answer": ["yes", "", "no"],
        }
    )

    parsed = parse_rows(source, toy, source_name="mem.csv")

    assert (len(parsed.frame), len(parsed.rejected)) == (2, 1), "the row without a time fails"
    assert parsed.frame["at"].tolist() == [
        pd.Timestamp("2025-12-31 23:00"),
        pd.Timestamp("2026-01-01"),
    ], "offsets converted to UTC"
    assert parsed.frame["value"].iloc[0] == 1000.0, "scientific notation parses"
    assert pd.isna(parsed.frame["value"].iloc[1]), "text nan is a missing number"
    assert parsed.frame["count"].tolist()[0] == 3, "a whole float is an int"
    assert parsed.frame["answer"].tolist() == ["yes", None], "empty text is missing"
    assert parsed.origin["source_row"].tolist() == [1, 2], "each row's origin is kept"


def test_card_fraud_sample_exported_as_csv_passes_the_gate(tmp_path):
    contract = load_contract(REPO / "data" / "contracts" / "card_fraud.yaml")
    day = pd.read_parquet(REPO / "data" / "sample" / "clean" / "2026-01-01.parquet")
    day.to_csv(tmp_path / "day.csv", index=False)

    report = ingest(tmp_path / "day.csv", contract, *_dirs(tmp_path))

    (batch,) = report.batches
    ingested = pd.read_parquet(batch.path)
    expected = day.sort_values(contract.event_time_column, kind="mergesort")
    pd.testing.assert_frame_equal(ingested, expected.reset_index(drop=True))
    outcome = validate_frame(ingested, contract)
    assert outcome.success, outcome.summary()
