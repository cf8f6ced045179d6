"""Let a run home be copied, moved or archived: its MLflow store follows it to the new place.

MLflow's SQLite store records absolute locations: an experiment's artifact root
(``experiments.artifact_location``), each run's (``runs.artifact_uri``), each logged model's
(``logged_models.artifact_location``) and each registered version's
(``model_versions.storage_location``). A home opened somewhere else would read, and write, the
artifacts of the place it was copied from, or nothing at all once that place is gone.

So the home remembers where its store was written (``<home>/mlflow/location.json``), and every
command that opens a home calls :func:`follow_home` first: when the home now lives elsewhere,
every stored path under the old location is rewritten to the same place under the new one, in
one transaction. Paths elsewhere (``./mlruns`` of the folder a command ran from, a model logged
from another place) are left as they are. A tracking server (``tracking_uri``) keeps its own
locations and is never touched.

Nothing here imports MLflow or Prefect (plain ``sqlite3``): it runs before a command does.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from pipelines.settings import HomeLayout, Settings, SettingsError

MARKER_NAME = "location.json"
#: How long to wait for a command that is writing the store right now (seconds).
LOCK_TIMEOUT_S = 30.0
#: The connection's own scratch table: old value -> new value, for one column at a time.
_MOVES = "temp.relocate_moves"


class RelocationError(SettingsError):
    """The home's MLflow store cannot be rewritten for the home's new location.

    A `SettingsError`, so every entry point that reports a bad home reports this the same way.
    """


def marker_path(home: Path) -> Path:
    """The file recording the absolute home folder the MLflow store was last written for."""
    return HomeLayout(home).mlflow / MARKER_NAME


def follow_home(settings: Settings) -> str | None:
    """Rewrite the embedded store's paths if the home moved; say so in one line, else None.

    Raises:
        RelocationError: the store must be rewritten but cannot be (read-only, locked, not a
            database, unreadable marker).
    """
    if settings.tracking_uri:
        return None
    return relocate_store(settings.home)


def relocate_store(home: Path) -> str | None:
    """Point the MLflow SQLite store under ``home`` at ``home`` wherever it was written.

    Where the store was written is read from the marker file; a store without one (written
    before markers existed, or by code that never opened the home through the CLI) is judged
    by its experiments' artifact roots, which the pipeline always places at
    ``<home>/mlflow/artifacts/<experiment>``. Idempotent: a second call finds nothing to do. A
    home without a store is left as it is (no marker is written, so an empty home stays empty).

    Returns:
        ``"run home moved from OLD to NEW: N stored paths rewritten"``, or None when no stored
        path needed rewriting.

    Raises:
        RelocationError: see `follow_home`.
    """
    home = home.expanduser().resolve()
    layout = HomeLayout(home)
    if not layout.mlflow_db.is_file():
        return None
    new_root = str(home)
    recorded = _recorded_root(home)
    if recorded == new_root:
        return None
    try:
        with closing(sqlite3.connect(layout.mlflow_db, timeout=LOCK_TIMEOUT_S)) as db:
            db.isolation_level = None  # transactions are begun and ended explicitly below
            known = {recorded} if recorded else set()
            old_roots = sorted((known | set(inferred_roots(db))) - {new_root})
            counts = rewrite_roots(db, old_roots, new_root) if old_roots else {}
    except sqlite3.Error as exc:
        raise RelocationError(
            f"cannot check or rewrite the paths the MLflow store {layout.mlflow_db} recorded "
            f"for the home's location {home}: {exc}; {_advice(exc)}"
        ) from None
    _write_marker(home)
    total = sum(counts.values())
    if not total:
        return None
    moved_from = " and ".join(old_roots)
    return f"run home moved from {moved_from} to {new_root}: {total} stored paths rewritten"


def path_forms(root: str) -> tuple[str, str, str]:
    """The ways a store spells an absolute folder: plain, ``file:`` URI encoded, and raw.

    ``Path.as_uri()`` percent-encodes (``file:///runs/my%20home``) and MLflow keeps that form
    in the paths it derives; a URI built by hand may not (``file:///runs/my home``). The
    tuple's positions are stable, so the same form of two roots can be zipped together.
    """
    return root, PurePosixPath(root).as_uri(), f"file://{root}"


def rewrite_path(value: str, old_roots: Iterable[str], new_root: str) -> str | None:
    """``value`` moved from under an old root to the same place under ``new_root`` (pure).

    Only whole leading path components match, in any of `path_forms`: root ``/a/b`` covers
    ``/a/b`` and ``/a/b/c``, never ``/a/bc``, and never ``/x/a/b``. The longest matching root
    decides, ``new_root`` included: a path already under ``new_root`` nested inside an old root
    (a home archived into its own ``archive/`` folder) stays. The form is kept (a URI stays a
    URI) and so is the rest of the path, byte for byte.

    Returns:
        The rewritten value, or None when it lies under no old root.
    """
    best_root, best_value = "", None
    for root in (new_root, *old_roots):
        for old_form, new_form in zip(path_forms(root), path_forms(new_root), strict=True):
            if value != old_form and not value.startswith(old_form + "/"):
                continue
            if len(root) > len(best_root):
                best_root = root
                best_value = None if root == new_root else new_form + value[len(old_form) :]
    return best_value


def inferred_roots(db: sqlite3.Connection) -> list[str]:
    """Home folders named by the store's experiments: ``<root>/mlflow/artifacts/<name>``.

    The pipeline creates each experiment with its artifacts there (see
    `training.registry.ensure_experiment`); experiments placed anywhere else name no home.
    """
    if not _has_table(db, "experiments"):
        return []
    roots = set()
    for name, location in db.execute("SELECT name, artifact_location FROM experiments"):
        path = _local_path(location) if isinstance(location, str) else None
        suffix = f"/mlflow/artifacts/{name}"
        if path is not None and path.endswith(suffix) and len(path) > len(suffix):
            roots.add(path[: -len(suffix)])
    return sorted(roots)


def rewrite_roots(
    db: sqlite3.Connection, old_roots: Sequence[str], new_root: str
) -> dict[str, int]:
    """Rewrite every text value of every table under an old root, in one transaction.

    Every column of every ordinary table is searched, so a location MLflow adds in a later
    schema follows too; virtual tables and their shadow tables are skipped. ``db`` must be in
    autocommit mode (``isolation_level = None``); the write lock is taken before anything is
    read, so a concurrent writer is waited for, not interleaved with.

    Returns:
        Rows changed per ``table.column`` (columns without a change are left out).
    """
    if not old_roots:
        return {}
    counts: dict[str, int] = {}
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(f"CREATE TEMP TABLE {_MOVES} (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
        for table, column in list(_columns(db)):
            changed = _rewrite_column(db, table, column, old_roots, new_root)
            if changed:
                counts[f"{table}.{column}"] = changed
        db.execute(f"DROP TABLE {_MOVES}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return counts


def _rewrite_column(
    db: sqlite3.Connection, table: str, column: str, old_roots: Sequence[str], new_root: str
) -> int:
    """Rewrite one column's values under an old root; return the rows changed.

    The new values are staged first and written by one statement, which reads each row's
    value as it was: a value just rewritten is never taken for an old one (nested roots).
    """
    t, c = _quoted(table), _quoted(column)
    prefixes = [form for root in old_roots for form in path_forms(root)]
    match = " OR ".join(f"substr({c}, 1, ?) = ?" for _ in prefixes)
    arguments = [a for prefix in prefixes for a in (len(prefix), prefix)]
    query = f"SELECT DISTINCT {c} FROM {t} WHERE typeof({c}) = 'text' AND ({match})"
    moves = [
        (value, rewritten)
        for (value,) in db.execute(query, arguments).fetchall()
        if (rewritten := rewrite_path(value, old_roots, new_root)) is not None
    ]
    if not moves:
        return 0
    db.execute(f"DELETE FROM {_MOVES}")
    db.executemany(f"INSERT INTO {_MOVES} VALUES (?, ?)", moves)
    update = (
        f"UPDATE {t} SET {c} = (SELECT m.new FROM {_MOVES} AS m WHERE m.old = {t}.{c}) "
        f"WHERE {c} IN (SELECT m.old FROM {_MOVES} AS m)"
    )
    return db.execute(update).rowcount


def _columns(db: sqlite3.Connection) -> Iterator[tuple[str, str]]:
    """``(table, column)`` of every ordinary table; virtual tables and their shadows are not."""
    tables = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    virtual = [name for name, sql in tables if (sql or "").upper().startswith("CREATE VIRTUAL")]
    for name, _ in tables:
        if any(name == v or name.startswith(f"{v}_") for v in virtual):
            continue
        for row in db.execute(f"PRAGMA table_info({_quoted(name)})"):
            yield name, row[1]


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def _quoted(identifier: str) -> str:
    """An SQL identifier in double quotes (a table or column name, never a value)."""
    return '"' + identifier.replace('"', '""') + '"'


def _local_path(location: str) -> str | None:
    """The absolute local path a stored location names (a ``file:`` URI or a plain path)."""
    if location.startswith("file:"):
        parsed = urlparse(location)
        if parsed.netloc not in ("", "localhost"):
            return None
        location = unquote(parsed.path)
    return location if location.startswith("/") else None


def _advice(exc: sqlite3.Error) -> str:
    """What to do about a store that could not be checked or rewritten."""
    message = str(exc).lower()
    if "locked" in message or "busy" in message:
        return "another command is writing to it: run this one again once it has finished"
    if "readonly" in message or "read-only" in message or "unable to open" in message:
        return "make the home folder writable by this user (a container: see its --user)"
    return "it is not a readable MLflow SQLite store: restore it from a copy of the home"


def _recorded_root(home: Path) -> str | None:
    """The home folder the marker names; None when there is no marker.

    Raises:
        RelocationError: the marker exists but cannot be read.
    """
    path = marker_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RelocationError(f"cannot read {path}: {exc.strerror}") from None
    try:
        root = json.loads(text)["home"]
    except (ValueError, KeyError, TypeError):
        root = None
    if not isinstance(root, str) or not root.startswith("/"):
        raise RelocationError(
            f"{path} does not name the home folder the MLflow store was written for "
            '(expected {"home": "/absolute/folder"}); delete it and the store\'s own '
            "experiments will tell"
        )
    return root


def _write_marker(home: Path) -> None:
    """Record ``home`` as the store's location (atomically: a reader sees old or new).

    A home that cannot be written to keeps its old marker: the store was already right for this
    location, or has just been rewritten (which needed the folder writable anyway).
    """
    path = marker_path(home)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        staging.write_text(json.dumps({"home": str(home)}) + "\n", encoding="utf-8")
        staging.replace(path)
    except OSError:
        staging.unlink(missing_ok=True)
