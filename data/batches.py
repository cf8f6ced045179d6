"""The raw batch store: immutable daily Parquet files, written atomically, never replaced.

Every way data enters a run (a built-in generator, `lifecycle ingest`, the demo's replay) writes
its batches through here, so they share one rule: a batch file appears whole or not at all, and
an existing file is never overwritten (rewriting identical content is a no-op).
"""

from __future__ import annotations

import datetime
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


class BatchExistsError(FileExistsError):
    """A raw batch file already exists with different content; raw batches are immutable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"raw batch {path} already exists with different content; raw batches are never "
            "overwritten. Generate into another home folder (LIFECYCLE_HOME) or remove the old "
            "run with `make clean`."
        )


@dataclass(frozen=True)
class WrittenBatch:
    """What `write_batches` did with one batch.

    Attributes:
        batch_id: The batch's date as `YYYY-MM-DD`, also its file stem.
        path: The Parquet file.
        rows: Number of rows in the batch.
        status: `written` (new file) or `unchanged` (an identical file was already there).
    """

    batch_id: str
    path: Path
    rows: int
    status: Literal["written", "unchanged"]


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as Parquet bytes, without its index: equal frames give equal bytes."""
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


def same_content(path: Path, payload: bytes, frame: pd.DataFrame) -> bool:
    """True if the file at `path` holds `frame`.

    Same bytes is the fast path; a file written by another pyarrow version may differ in bytes
    and still hold an equal frame, which counts as the same content.
    """
    if path.read_bytes() == payload:
        return True
    try:
        existing = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException):  # unreadable: not the same content
        return False
    try:
        pd.testing.assert_frame_equal(
            existing.reset_index(drop=True), frame.reset_index(drop=True), check_exact=True
        )
    except AssertionError:
        return False
    return True


def write_new_file(path: Path, payload: bytes) -> bool:
    """Write `payload` to `path` atomically unless `path` exists; True if it was written.

    The bytes go to a hidden temporary file first, then are linked into place: a hard link
    fails if the name exists, so even a concurrent writer cannot be overwritten. Where the file
    system has no hard links, a rename is used instead.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # no hard links here (some network or FUSE file systems)
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def write_batches(
    batches: Iterable[tuple[datetime.date, pd.DataFrame]], raw_dir: Path
) -> list[WrittenBatch]:
    """Write each batch to `raw_dir/YYYY-MM-DD.parquet`, never replacing a different batch.

    An existing file with the same content is left alone (status `unchanged`), so rerunning a
    generation is safe. Each file is written to a temporary name and renamed into place, so a
    reader never sees half a file. Identical frames give byte-identical files.

    Raises:
        BatchExistsError: A file for that date exists with different content; it is untouched.
    """
    raw_dir.mkdir(parents=True, exist_ok=True)
    written: list[WrittenBatch] = []
    for day, frame in batches:
        batch_id = f"{day:%Y-%m-%d}"
        path = raw_dir / f"{batch_id}.parquet"
        payload = parquet_bytes(frame)
        status: Literal["written", "unchanged"] = "unchanged"
        if path.exists() or not write_new_file(path, payload):
            if not same_content(path, payload, frame):
                raise BatchExistsError(path)
        else:
            status = "written"
        written.append(WrittenBatch(batch_id=batch_id, path=path, rows=len(frame), status=status))
    return written
