"""Raw batches are immutable: identical content is skipped, different content refused."""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.batches import BatchExistsError, write_batches, write_new_file
from data.generator import generate


def _batches(seed: int = 1) -> list[tuple[datetime.date, pd.DataFrame]]:
    return list(generate("none", 2, seed, rows_per_day=60))


def test_writes_one_parquet_file_per_day_that_reads_back_equal(tmp_path: Path) -> None:
    batches = _batches()
    written = write_batches(batches, tmp_path / "raw")
    assert [w.batch_id for w in written] == ["2026-01-01", "2026-01-02"], "batch ids are dates"
    assert [w.status for w in written] == ["written", "written"], "new files"
    assert [w.rows for w in written] == [60, 60], "row counts"
    for (_, frame), batch in zip(batches, written, strict=True):
        assert batch.path == tmp_path / "raw" / f"{batch.batch_id}.parquet", "file name"
        pd.testing.assert_frame_equal(pd.read_parquet(batch.path), frame, obj=batch.batch_id)
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [
        "2026-01-01.parquet",
        "2026-01-02.parquet",
    ], "no temporary files left behind"


def test_identical_input_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_batches(_batches(), tmp_path / "a")
    second = write_batches(_batches(), tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes(), f"{a.batch_id} differs in bytes"


def test_rewriting_identical_batches_is_a_no_op(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_batches(_batches(), raw)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in raw.iterdir()}
    again = write_batches(_batches(), raw)
    assert [w.status for w in again] == ["unchanged", "unchanged"], "identical content skipped"
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in raw.iterdir()}
    assert after == before, "files must not be touched"


def test_equal_content_in_different_bytes_counts_as_unchanged(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    day, frame = _batches()[0]
    path = raw / f"{day:%Y-%m-%d}.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression="gzip")
    written = write_batches([(day, frame)], raw)
    assert written[0].status == "unchanged", "same frame, other encoding: unchanged"


def test_different_content_for_an_existing_day_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_batches(_batches(seed=1), raw)
    original = (raw / "2026-01-01.parquet").read_bytes()
    with pytest.raises(BatchExistsError) as info:
        write_batches(_batches(seed=2), raw)
    message = str(info.value)
    assert "2026-01-01.parquet" in message, f"message names the file: {message}"
    assert "never overwritten" in message, f"message explains immutability: {message}"
    assert "make clean" in message, f"message says what to do: {message}"
    assert info.value.path == raw / "2026-01-01.parquet", "error carries the path"
    assert (raw / "2026-01-01.parquet").read_bytes() == original, "raw file untouched"
    assert sorted(p.name for p in raw.iterdir()) == [
        "2026-01-01.parquet",
        "2026-01-02.parquet",
    ], "no temporary files left behind"


def test_an_unreadable_existing_file_is_refused_not_replaced(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    day, frame = _batches()[0]
    path = raw / f"{day:%Y-%m-%d}.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(BatchExistsError):
        write_batches([(day, frame)], raw)
    assert path.read_bytes() == b"not parquet", "existing file untouched"


def test_the_final_write_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "2026-01-01.parquet"
    path.write_bytes(b"written by someone else")
    assert write_new_file(path, b"ours") is False, "must report that the file already existed"
    assert path.read_bytes() == b"written by someone else", "the other file is kept"
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "temporary file removed"
