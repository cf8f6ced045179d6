"""A run home copied, moved or archived keeps working: its MLflow store follows it.

The pure part rewrites hand-made values and a hand-made SQLite file. The real part trains and
promotes a model in a home, moves the home away (its store still names the old folder, which
no longer exists), then serves a copy through `lifecycle serve` and archives another copy the
way `lifecycle demo` does.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import pandas as pd
import pytest
from mlflow import MlflowClient

from data.batches import write_batches
from data.generator import DEFAULT_START
from data.usecases import use_case
from features import vocabulary as vocab
from features.contract import load_contract
from pipelines.demo import archive_home
from pipelines.relocate import (
    RelocationError,
    follow_home,
    marker_path,
    relocate_store,
    rewrite_path,
    rewrite_roots,
)
from pipelines.settings import SettingsError, load_settings
from tests.pipelines.cli_runner import start
from training import registry

MODEL = "card-fraud"
DAYS = 20
ROWS = 300
#: Where MLflow 3 keeps absolute locations in its SQLite store (found by grepping a real one).
LOCATION_COLUMNS = {
    "experiments.artifact_location",
    "runs.artifact_uri",
    "logged_models.artifact_location",
    "model_versions.storage_location",
}


# --------------------------------------------------------------------------- pure rewriting


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/runs/old", "/srv/new home"),
        ("/runs/old/mlflow/artifacts/1", "/srv/new home/mlflow/artifacts/1"),
        ("file:///runs/old/mlflow/a%20b", "file:///srv/new%20home/mlflow/a%20b"),
        ("file:///runs/old", "file:///srv/new%20home"),
    ],
)
def test_a_path_under_the_old_root_moves_under_the_new_one_in_its_own_form(
    value: str, expected: str
) -> None:
    assert rewrite_path(value, ["/runs/old"], "/srv/new home") == expected


def test_a_uri_written_without_percent_encoding_keeps_that_form() -> None:
    old = "/runs/my home"
    assert rewrite_path("file:///runs/my home/x", [old], "/srv/b") == "file:///srv/b/x"
    assert rewrite_path("file:///runs/my%20home/x", [old], "/srv/b c") == "file:///srv/b%20c/x"


@pytest.mark.parametrize(
    "value",
    [
        "/runs/older/mlflow",  # a sibling whose name starts the same
        "/x/runs/old/mlflow",  # the root in the middle, not at the start
        "file:///x/runs/old",
        "runs/old/mlflow",  # relative
        "s3://bucket/runs/old",
        "models:/m-123",
        '{"uri": "/runs/old/data"}',  # inside a document, not a path
        "",
    ],
)
def test_only_whole_leading_components_match(value: str) -> None:
    assert rewrite_path(value, ["/runs/old"], "/srv/new") is None


def test_a_path_already_under_a_nested_new_root_stays() -> None:
    # The demo archives a home into its own archive/ folder: the new root is inside the old.
    old, new = "/h", "/h/archive/T"
    assert rewrite_path("/h/mlflow/a", [old], new) == "/h/archive/T/mlflow/a"
    assert rewrite_path("/h/archive/T/mlflow/a", [old], new) is None, "rewritten once only"
    # And back: the old root is inside the new one, so the longer (old) match decides.
    assert rewrite_path("/h/archive/T/mlflow/a", [new], old) == "/h/mlflow/a"
    assert rewrite_path("/h/mlflow/a", [new], old) is None


def _store(path: Path, script: str) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.executescript(script)


def _rows(path: Path, table: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()


def test_rewrite_roots_changes_only_leading_matches_of_text_values(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    _store(
        store,
        """
        CREATE TABLE runs (id INTEGER, uri TEXT, note VARCHAR(50), blob BLOB);
        INSERT INTO runs VALUES (1, 'file:///old/mlflow/1', '/old/x', x'2f6f6c642f78');
        INSERT INTO runs VALUES (2, 'file:///old/mlflow/2', 'see /old/x', NULL);
        INSERT INTO runs VALUES (3, 'file:///older/mlflow/3', '/old', NULL);
        CREATE TABLE "my runs" ("a b" TEXT);
        INSERT INTO "my runs" VALUES ('/old/y');
        """,
    )
    with closing(sqlite3.connect(store, isolation_level=None)) as db:
        counts = rewrite_roots(db, ["/old"], "/new")
    assert counts == {"runs.uri": 2, "runs.note": 2, "my runs.a b": 1}, counts
    assert _rows(store, "runs") == [
        (1, "file:///new/mlflow/1", "/new/x", b"/old/x"),
        (2, "file:///new/mlflow/2", "see /old/x", None),
        (3, "file:///older/mlflow/3", "/new", None),
    ], "blobs, other folders and paths inside sentences are left alone"
    assert _rows(store, '"my runs"') == [("/new/y",)], "names are quoted"


def test_a_value_is_rewritten_once_even_when_roots_nest(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    _store(store, "CREATE TABLE t (old TEXT); INSERT INTO t VALUES ('/a/c'), ('/a/b/c/d');")
    with closing(sqlite3.connect(store, isolation_level=None)) as db:
        assert rewrite_roots(db, ["/a", "/a/b/c"], "/a/b") == {"t.old": 2}
    # '/a/c' becomes '/a/b/c', which is an old root itself: it must not move a second time.
    assert _rows(store, "t") == [("/a/b/c",), ("/a/b/d",)]


def test_rewrite_roots_is_one_transaction(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    _store(
        store,
        """
        CREATE TABLE a (p TEXT);
        INSERT INTO a VALUES ('/old/1');
        CREATE TABLE b (p TEXT CHECK (p NOT LIKE '/new/%'));
        INSERT INTO b VALUES ('/old/2');
        """,
    )
    with (
        closing(sqlite3.connect(store, isolation_level=None)) as db,
        pytest.raises(sqlite3.IntegrityError),
    ):
        rewrite_roots(db, ["/old"], "/new")
    assert _rows(store, "a") == [("/old/1",)], "the first table's change was rolled back"


def test_a_home_without_a_store_is_left_as_it_is(tmp_path: Path) -> None:
    assert relocate_store(tmp_path) is None
    assert list(tmp_path.iterdir()) == [], "no marker: an empty home stays empty"


def test_an_unreadable_marker_is_named_with_what_to_do(tmp_path: Path) -> None:
    marker = marker_path(tmp_path)
    marker.parent.mkdir(parents=True)
    (marker.parent / "mlflow.db").touch()
    marker.write_text("{not json")
    with pytest.raises(RelocationError, match=r"location\.json.*delete it") as caught:
        relocate_store(tmp_path)
    assert isinstance(caught.value, SettingsError), "reported like any bad setting"


def _experiments_store(home: Path, *locations: tuple[str, str]) -> Path:
    """A store holding only ``experiments(name, artifact_location)`` rows, under ``home``."""
    store = home / "mlflow" / "mlflow.db"
    store.parent.mkdir(parents=True)
    with closing(sqlite3.connect(store)) as db:
        db.execute("CREATE TABLE experiments (name TEXT, artifact_location TEXT)")
        db.executemany("INSERT INTO experiments VALUES (?, ?)", locations)
        db.commit()
    return store


def test_a_store_without_marker_is_placed_by_its_experiments(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = _experiments_store(
        home,
        ("card-fraud", "file:///old%20place/mlflow/artifacts/card-fraud"),
        ("Default", "/old placer/mlruns/0"),  # a sibling folder: not the home
    )
    said = relocate_store(home)
    assert said == f"run home moved from /old place to {home}: 1 stored paths rewritten", said
    assert _rows(store, "experiments") == [
        ("card-fraud", f"{home.as_uri()}/mlflow/artifacts/card-fraud"),
        ("Default", "/old placer/mlruns/0"),
    ]
    assert json.loads(marker_path(home).read_text()) == {"home": str(home)}
    assert relocate_store(home) is None, "idempotent"


def test_a_store_another_command_holds_is_named_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pipelines.relocate.LOCK_TIMEOUT_S", 0.05)
    store = _experiments_store(tmp_path, ("x", "/old/mlflow/artifacts/x"))
    with closing(sqlite3.connect(store, isolation_level=None)) as writer:
        writer.execute("BEGIN EXCLUSIVE")
        with pytest.raises(RelocationError, match="another command is writing to it"):
            relocate_store(tmp_path)
        writer.execute("ROLLBACK")
    assert not marker_path(tmp_path).exists(), "nothing recorded: the next command tries again"


def test_a_file_that_is_no_store_is_named(tmp_path: Path) -> None:
    store = tmp_path / "mlflow" / "mlflow.db"
    store.parent.mkdir()
    store.write_text("not a database " * 20)
    with pytest.raises(RelocationError, match=r"mlflow\.db.*not a readable MLflow SQLite store"):
        relocate_store(tmp_path)


# --------------------------------------------------------------------------- a real home


@pytest.fixture(scope="module")
def moved_home(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    """A home with a promoted champion, moved away from where its store was written.

    Batches go straight to the validated folder: the validation gate has its own tests, and
    what matters here is what training and promotion store in MLflow.
    """
    from pipelines.flows import promote_flow, train_flow

    base = tmp_path_factory.mktemp("relocate")
    written = base / "written"
    settings = load_settings(home=written)
    case = use_case("card_fraud")
    days = (
        (
            DEFAULT_START + timedelta(days=i),
            case.generate_day(i, "none", seed=3, days=DAYS, rows=ROWS),
        )
        for i in range(DAYS)
    )
    write_batches(days, settings.paths.validated)
    end = datetime.combine(DEFAULT_START + timedelta(days=DAYS), datetime.min.time())
    assert train_flow(settings, cutoff=end).version == "1"
    assert promote_flow(settings).verdict == "promote", "v1 is promoted on the floor"
    moved = base / "moved"
    written.rename(moved)
    return moved


def _original(moved: Path) -> Path:
    return moved.parent / "written"


def _text_values(store: Path) -> list[str]:
    """Every text value of every table (small stores only)."""
    values: list[str] = []
    with closing(sqlite3.connect(store)) as db:
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                values.extend(v for v in row if isinstance(v, str))
    return values


def _under(values: list[str], folder: Path) -> list[str]:
    return [v for v in values if v.startswith((f"{folder}/", f"{folder.as_uri()}/"))]


def test_every_location_mlflow_stores_is_rewritten(moved_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "copy"
    shutil.copytree(moved_home, home)
    store = home / "mlflow" / "mlflow.db"
    assert _under(_text_values(store), _original(moved_home)), "the store names the old folder"

    with closing(sqlite3.connect(store, isolation_level=None)) as db:
        counts = rewrite_roots(db, [str(_original(moved_home))], str(home))
    assert set(counts) == LOCATION_COLUMNS, counts
    values = _text_values(store)
    assert not _under(values, _original(moved_home)), "nothing names the old folder any more"
    assert len(_under(values, home)) == sum(counts.values()), "each now names the copy"


def test_a_copied_home_serves_its_champion_with_the_original_gone(
    moved_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "copy"
    shutil.copytree(moved_home, home)
    port = _free_port()
    server = start(home, "serve", "--port", str(port))
    try:
        base = f"http://127.0.0.1:{port}"
        ready = _wait_ready(base, server.process)
        assert ready == {"status": "ready", "model_name": MODEL, "model_version": "1"}, ready
        answer = httpx.post(f"{base}/v1/predict", json=_one_row(home), timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()[vocab.MODEL_VERSION] == "1", answer.json()
    finally:
        server.process.terminate()
    run = server.finish()
    said = f"home: run home moved from {_original(moved_home)} to {home}: "
    lines = [line for line in run.stdout.splitlines() if line.startswith(said)]
    assert lines, f"the command says what it rewrote\n{run}"
    assert lines[0].endswith(" stored paths rewritten"), lines[0]
    assert json.loads(marker_path(home).read_text()) == {"home": str(home)}
    assert relocate_store(home) is None, "a second opening has nothing to do"


def test_an_archived_run_reads_its_own_artifacts(moved_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(moved_home, home)
    archived = archive_home(home, datetime(2026, 2, 1, 12))
    assert archived is not None, "there was a run to archive"
    assert json.loads(marker_path(archived).read_text()) == {"home": str(archived)}

    store = archived / "mlflow" / "mlflow.db"
    values = _text_values(store)
    assert not _under(values, home / "mlflow"), "nothing names the new run's artifact folder"
    assert not _under(values, _original(moved_home)), "nor where the run was written"
    uri = f"sqlite:///{store}"
    client = registry.connect(uri)
    champion = client.get_model_version_by_alias(MODEL, vocab.CHAMPION)
    download = urlparse(client.get_model_version_download_uri(MODEL, champion.version))
    location = Path(unquote(download.path))
    assert location.is_relative_to(archived), f"the champion's files are in the archive: {location}"
    assert location.is_dir(), f"and they are there: {location}"
    assert champion.run_id, "the version names its training run"
    run = MlflowClient(tracking_uri=uri).get_run(champion.run_id)
    assert run.info.artifact_uri.startswith(f"{archived.as_uri()}/"), run.info.artifact_uri
    pipeline = registry.load_pipeline(MODEL, champion.version)
    assert hasattr(pipeline, "predict_proba"), "the archived champion loads"


def test_a_tracking_server_store_is_never_touched(moved_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(moved_home, home)
    before = (home / "mlflow" / "mlflow.db").read_bytes()
    settings = load_settings(home=home, tracking_uri="http://127.0.0.1:5000")
    assert follow_home(settings) is None
    assert (home / "mlflow" / "mlflow.db").read_bytes() == before
    assert not marker_path(home).exists()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, process: subprocess.Popen[str]) -> object:
    """The body of GET /ready once it answers 200 (None if the server dies or stays down)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            response = httpx.get(f"{base}/ready", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return None


def _one_row(home: Path) -> dict[str, object]:
    """The first validated row as the API takes it (no label)."""
    contract = load_contract(load_settings(home=home).contract)
    frame = pd.read_parquet(sorted((home / "data" / "validated").glob("*.parquet"))[-1])
    columns = [contract.id_column, *contract.input_columns, contract.event_time_column]
    rows: list[dict[str, object]] = json.loads(
        frame[columns].head(1).to_json(orient="records", date_format="iso", date_unit="us")
    )
    return rows[0]
