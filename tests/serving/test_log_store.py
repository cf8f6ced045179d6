"""The two log stores: JSON-lines files and PostgreSQL tables give monitoring the same frames.

One throwaway PostgreSQL serves the module (`tests.postgres`); each test has its own tables
(a table prefix per test). Without PostgreSQL on the machine the PostgreSQL tests are skipped
with the reason.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from features.contract import DatasetContract
from monitoring.labels import (
    matured_performance_frame,
    read_labels,
    read_prediction_log,
    scored_ids,
)
from monitoring.policy import RetrainDecision, Verdict
from pipelines.labels import append_label_file
from pipelines.monitor import record_window, window_record
from pipelines.serve import log_store
from pipelines.settings import load_settings
from serving.app import create_app
from serving.log_store import (
    DEFAULT_TABLE_PREFIX,
    JsonLinesLogStore,
    LogStore,
    LogStoreError,
    PostgresLogStore,
    WindowRecord,
    redacted_url,
)
from serving.prediction_log import PredictionLogWriter, ScoredBatch, label_records
from tests.monitoring.summaries import performance, window
from tests.postgres import PostgresServer, free_port, postgres_unavailable, running_postgres
from tests.serving.conftest import ConstantModel, FakeSource, make_config, synthetic_frame
from tests.serving.conftest import valid_item as base_item

DAY = dt.date(2024, 3, 1)
RECEIVED = dt.datetime(2024, 3, 4, 12, 0)

PgStores = Callable[[DatasetContract], PostgresLogStore]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(f"PostgreSQL log store not tested: {reason}")
    with running_postgres() as server:
        yield server


@pytest.fixture
def pg_stores(postgres: PostgresServer) -> Iterator[PgStores]:
    """Stores on one fresh pair of tables (the same prefix each call: several replicas)."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    opened: list[PostgresLogStore] = []

    def make(contract: DatasetContract) -> PostgresLogStore:
        store = PostgresLogStore(postgres.url(), contract, table_prefix=prefix)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def clock_from(start: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock one second later on each call (a new ``logged_at`` per drained batch)."""
    ticks = iter(range(1_000_000))
    return lambda: start + dt.timedelta(seconds=next(ticks))


def item(contract: DatasetContract, number: int) -> dict[str, object]:
    """A valid request item; event times spread over three days, some missing (received)."""
    row_id: str | int = (
        number if contract.columns[contract.id_column].dtype == "int" else f"r{number}"
    )
    values = base_item(contract, row_id)
    for name in contract.features:
        spec = contract.columns[name]
        if spec.dtype == "float":
            values[name] = None if spec.nullable and number % 5 == 0 else (number % 17) / 3 + 1
        elif spec.categories:
            values[name] = spec.categories[number % len(spec.categories)]
    extra = [s for s in contract.segments if s not in contract.features]
    for name in extra:  # an optional segment, absent on the first day (a null column)
        if number % 3:
            values[name] = contract.columns[name].categories[0]  # type: ignore[index]
    if number % 4:
        values[contract.event_time_column] = dt.datetime.combine(
            DAY + dt.timedelta(days=number % 3), dt.time(number % 24, 7)
        )
    return values


def batch(contract: DatasetContract, request_id: str, numbers: range) -> ScoredBatch:
    items = [item(contract, n) for n in numbers]
    return ScoredBatch(
        request_id=request_id,
        items=items,
        scores=[(n % 10) / 10 for n in numbers],
        decisions=[int(n % 10 >= 3) for n in numbers],
        model_name="m",
        model_version=str(1 + numbers.start % 2),
        threshold=0.3,
        received_at=RECEIVED,
    )


def log_predictions(store: LogStore, contract: DatasetContract, requests: int = 30) -> None:
    writer = PredictionLogWriter(store, contract, clock_from(dt.datetime(2024, 3, 4, 13)))
    writer.start()
    for number in range(requests):
        writer.submit(batch(contract, f"req-{number}", range(number * 4, number * 4 + 4)))
    writer.close()


def labels(contract: DatasetContract) -> list[list[dict[str, object]]]:
    """Three deliveries of label records: a first batch, a relabel, a late one."""
    first, second = contract.label_values[0], contract.label_values[1]
    ids = [item(contract, n)[contract.id_column] for n in range(12)]
    available = contract.label_available_field
    deliveries = [
        [{contract.id_column: i, contract.label_column: first} for i in ids[:8]],
        [{contract.id_column: ids[2], contract.label_column: second}],
        [{contract.id_column: i, contract.label_column: second} for i in ids[8:]],
    ]
    if contract.label_delay is None:
        deliveries[0][0][available] = dt.datetime(2024, 3, 3, 8)
    return [
        label_records(values, contract, RECEIVED + dt.timedelta(hours=hour))
        for hour, values in enumerate(deliveries)
    ]


@pytest.mark.parametrize("which", ["contract", "renewal_contract"])
def test_monitoring_reads_equal_frames_from_both_stores(
    which: str, request: pytest.FixtureRequest, tmp_path: Path, pg_stores: PgStores
) -> None:
    contract: DatasetContract = request.getfixturevalue(which)
    files = JsonLinesLogStore(tmp_path / "predictions", tmp_path / "labels", contract)
    table = pg_stores(contract)
    for store in (files, table):
        log_predictions(store, contract)
        for delivery in labels(contract):
            assert store.append_labels(delivery) == len(delivery)
    start, end = DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=4)

    from_files = read_prediction_log(files, contract, start, end)
    from_table = read_prediction_log(table, contract, start, end)
    assert len(from_files.frame) == 120, "every row logged"
    pd.testing.assert_frame_equal(from_table.frame, from_files.frame)
    pd.testing.assert_frame_equal(
        read_prediction_log(tmp_path / "predictions", contract, start, end).frame,
        from_files.frame,
        obj="the folder as a source reads like the file store",
    )
    assert [p.name for p in from_table.missing_files] == [
        p.stem for p in from_files.missing_files
    ], "the same days are missing"
    assert from_table.skipped_lines == from_files.skipped_lines == 0

    labels_files, labels_table = read_labels(files, contract), read_labels(table, contract)
    assert len(labels_files.frame) == 13, "every delivery is a row, the relabel too"
    pd.testing.assert_frame_equal(labels_table.frame, labels_files.frame)
    pd.testing.assert_frame_equal(
        matured_performance_frame(from_table.frame, labels_table.frame, contract),
        matured_performance_frame(from_files.frame, labels_files.frame, contract),
    )
    assert (
        table.scored_ids()
        == files.scored_ids()
        == scored_ids(tmp_path / "predictions", contract.id_column)
    )
    assert table.rows_by_day() == files.rows_by_day()


def test_empty_stores_read_alike(
    tmp_path: Path, contract: DatasetContract, pg_stores: PgStores
) -> None:
    files = JsonLinesLogStore(tmp_path / "p", tmp_path / "l", contract)
    table = pg_stores(contract)
    for store in (files, table):
        predictions = read_prediction_log(store, contract, DAY, DAY)
        assert predictions.frame.empty
        assert len(predictions.missing_files) == 1
        assert store.scored_ids() == set()
        assert store.rows_by_day() == {}
    pd.testing.assert_frame_equal(
        read_labels(table, contract).frame, read_labels(files, contract).frame
    )
    assert read_labels(table, contract).missing_files, "no label yet: named as missing"


def test_two_writers_lose_nothing_and_duplicate_nothing(
    contract: DatasetContract, pg_stores: PgStores
) -> None:
    """Two serving workers (a store and a writer each) log at once, creating the tables too."""
    per_writer, rows = 150, 3
    go = threading.Barrier(2)

    def serve(worker: str) -> None:
        writer = PredictionLogWriter(pg_stores(contract), contract, clock_from(RECEIVED))
        writer.start()
        go.wait(10)
        for number in range(per_writer):
            first = number * rows
            writer.submit(batch(contract, f"{worker}-{number}", range(first, first + rows)))
        writer.close()
        assert writer.lines_written == per_writer * rows, f"{worker} wrote every row"

    threads = [threading.Thread(target=serve, args=(w,)) for w in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    reader = pg_stores(contract)
    frame = read_prediction_log(reader, contract, DAY - dt.timedelta(days=1), RECEIVED.date()).frame
    assert len(frame) == 2 * per_writer * rows, "no row lost"
    keys = frame[["request_id", contract.id_column]]
    assert not keys.duplicated().any(), "no row twice"
    assert sum(reader.rows_by_day().values()) == len(frame)


def test_a_replayed_request_is_stored_once(contract: DatasetContract, pg_stores: PgStores) -> None:
    store = pg_stores(contract)
    first = PredictionLogWriter(store, contract, clock_from(RECEIVED))
    first.submit(batch(contract, "same", range(4)))  # not started: written synchronously
    replay = PredictionLogWriter(store, contract, clock_from(RECEIVED + dt.timedelta(hours=1)))
    replay.submit(batch(contract, "same", range(4)))
    replay.submit(batch(contract, "same", range(2, 6)))  # two rows new, two replayed
    assert (first.lines_written, replay.lines_written) == (4, 2), "only new rows count"
    frame = read_prediction_log(store, contract, DAY - dt.timedelta(days=1), RECEIVED.date()).frame
    assert len(frame) == 6, "the replayed rows are not stored again"
    kept = frame[frame[contract.id_column] == "r0"]["logged_at"]
    assert list(kept) == [pd.Timestamp(RECEIVED)], "the first write stands"


def test_a_repeated_label_is_stored_once_and_a_relabel_is_kept(
    contract: DatasetContract, pg_stores: PgStores
) -> None:
    store = pg_stores(contract)
    label_col = contract.label_column

    def deliver(value: object, hour: int) -> None:
        values = [{contract.id_column: "r1", label_col: value}]
        store.append_labels(label_records(values, contract, RECEIVED + dt.timedelta(hours=hour)))

    deliver(0, 0)
    deliver(0, 1)  # a retried delivery: no row
    deliver(1, 2)  # a relabel: a row
    deliver(0, 3)  # back again: a row (the latest was 1)
    frame = read_labels(store, contract).frame
    assert list(frame[label_col]) == [0, 1, 0], "one row per change"
    assert frame[contract.label_available_field].isna().all()
    assert list(frame["received_at"].dt.hour) == [12, 14, 15], "the first receipt stands"


def test_two_replicas_taking_the_same_labels_store_them_once(
    contract: DatasetContract, pg_stores: PgStores
) -> None:
    values = [{contract.id_column: f"r{n}", contract.label_column: 1} for n in range(50)]
    records = label_records(values, contract, RECEIVED)
    stores = [pg_stores(contract), pg_stores(contract)]
    stores[0].label_log()  # the tables exist before the race
    threads = [threading.Thread(target=s.append_labels, args=(records,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(read_labels(stores[0], contract).frame) == 50


def test_the_app_logs_to_the_store_it_is_given(
    tmp_path: Path, contract: DatasetContract, pg_stores: PgStores
) -> None:
    source = FakeSource(contract=contract)
    source.add(
        "1", ConstantModel(0.9), synthetic_frame(contract, 5, seed=1)[list(contract.features)]
    )
    source.alias = "1"
    store = pg_stores(contract)
    config = make_config(tmp_path, contract, "unused://")
    app = create_app(config, source=source, clock=lambda: RECEIVED, log_store=store)
    with TestClient(app) as client:
        answer = client.post(
            "/v1/predict", json=[base_item(contract, "a"), base_item(contract, "b")]
        )
        assert answer.status_code == 200, answer.text
        label = {contract.id_column: "a", contract.label_column: 1}
        assert client.post("/v1/labels", json=[label]).status_code == 200
    assert store.scored_ids() == {"a", "b"}, "written by the writer thread, drained at shutdown"
    assert list(read_labels(store, contract).frame[contract.id_column]) == ["a"]
    assert not (tmp_path / "predictions").exists(), "no file written"


def test_a_dropped_connection_is_replaced_without_losing_the_write(
    contract: DatasetContract, postgres: PostgresServer
) -> None:
    """The server ends the store's session (a restart, a proxy timeout): the next write works."""
    url = postgres.create_database(f"drop_{uuid.uuid4().hex[:8]}")
    store = PostgresLogStore(url, contract)
    writer = PredictionLogWriter(store, contract, clock_from(RECEIVED))
    writer.submit(batch(contract, "before", range(2)))
    with psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    assert ended == [(True,)], "the store's session was ended"
    writer.submit(batch(contract, "after", range(2, 4)))
    assert writer.lines_written == 4, "the second batch went through a new connection"
    assert store.scored_ids() == {"r0", "r1", "r2", "r3"}
    store.close()


def test_a_database_outage_refuses_labels_and_keeps_scoring(
    tmp_path: Path, contract: DatasetContract
) -> None:
    source = FakeSource(contract=contract)
    source.add(
        "1", ConstantModel(0.9), synthetic_frame(contract, 5, seed=1)[list(contract.features)]
    )
    source.alias = "1"
    down = PostgresLogStore(f"postgresql://u@127.0.0.1:{free_port()}/x", contract)
    config = make_config(tmp_path, contract, "unused://")
    app = create_app(config, source=source, clock=lambda: RECEIVED, log_store=down)
    with TestClient(app) as client:
        label = {contract.id_column: "a", contract.label_column: 1}
        refused = client.post("/v1/labels", json=[label])
        assert refused.status_code == 503, refused.text
        assert client.post("/v1/predict", json=base_item(contract, "a")).status_code == 200
        app.state.services.prediction_log.flush()
        metrics = client.get("/metrics").text
    assert "serving_prediction_log_errors_total 1.0" in metrics, "the lost line is counted"


def test_an_unreachable_database_is_a_storage_error_without_the_password(
    contract: DatasetContract,
) -> None:
    port = free_port()
    url = f"postgresql://user:s3cret@127.0.0.1:{port}/logs"
    store = PostgresLogStore(url, contract, connect_timeout=1)
    with pytest.raises(LogStoreError) as caught:
        store.append_labels(
            label_records([{contract.id_column: "x", contract.label_column: 1}], contract, RECEIVED)
        )
    assert isinstance(caught.value, OSError), "the API answers 503 for an OSError"
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in store.location
    assert redacted_url(url) == f"postgresql://user@127.0.0.1:{port}/logs"


def test_settings_pick_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contract: DatasetContract
) -> None:
    for key in [k for k in os.environ if k.startswith("LIFECYCLE_")]:
        monkeypatch.delenv(key)
    default = load_settings(home=tmp_path)
    assert isinstance(log_store(default, contract), JsonLinesLogStore), "files by default"
    monkeypatch.setenv("LIFECYCLE_LOG_DATABASE_URL", "postgresql://u:pw@db.internal/logs")
    chosen = log_store(load_settings(home=tmp_path), contract)
    assert isinstance(chosen, PostgresLogStore)
    assert chosen.location.startswith("postgresql://u@db.internal/logs"), chosen.location


def test_a_label_file_goes_to_the_database_of_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres: PostgresServer
) -> None:
    for key in [k for k in os.environ if k.startswith("LIFECYCLE_")]:
        monkeypatch.delenv(key)
    url = postgres.create_database(f"labels_{uuid.uuid4().hex[:8]}")
    settings = load_settings(home=tmp_path / "home", log_database_url=url)
    from features.contract import load_contract

    contract = load_contract(settings.contract)
    store = log_store(settings, contract)
    log_predictions(store, contract, requests=2)
    csv = tmp_path / "labels.csv"
    csv.write_text(f"{contract.id_column},{contract.label_column}\nr0,1\nr1,0\nunknown,0\n")
    done = append_label_file(settings, csv)
    assert (done.appended, done.matched) == (3, 2)
    assert done.location.startswith("postgresql://"), done.location
    assert len(read_labels(store, contract).frame) == 3
    assert not settings.paths.labels.exists(), "nothing under the home"
    store.close()


def recorded(champion: str, verdict: Verdict, index: int, drop: float | None) -> WindowRecord:
    """The row the monitor writes for window ``index`` (from ``START``) with this verdict."""
    summary = window(index, 0.1 * index, None if drop is None else performance(drop))
    decision = RetrainDecision(
        verdict=verdict,
        reason=f"{verdict} on window {index}",
        trigger="drift" if verdict == "retrain" else None,
        numbers={},
        in_cooldown=False,
        window_id=summary.window_id,
    )
    return window_record(summary, decision, champion)


def window_rows(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT window_id, window_end, drift_share, drift_share_threshold, pr_auc, "
            "reference_pr_auc, champion_version, verdict, reason, trigger, written_at "
            f"FROM {DEFAULT_TABLE_PREFIX}windows ORDER BY window_id"
        ).fetchall()


def test_the_monitor_keeps_one_row_per_window_and_a_rerun_updates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres: PostgresServer
) -> None:
    for key in [k for k in os.environ if k.startswith("LIFECYCLE_")]:
        monkeypatch.delenv(key)
    url = postgres.create_database(f"windows_{uuid.uuid4().hex[:8]}")
    settings = load_settings(home=tmp_path / "home", log_database_url=url)
    from features.contract import load_contract

    contract = load_contract(settings.contract)
    for index in range(3):  # the monitor's own task, without a Prefect run around it
        record_window.fn(settings, contract, recorded("1", "hold", index, 0.05))
    first = window_rows(url)
    assert [row[0] for row in first] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert first[1][1:8] == (dt.date(2026, 3, 2), 0.1, 0.3, 0.6 - 0.05, 0.6, "1", "hold")
    # Window 2 monitored again for another champion: too few labels now, and a retrain.
    record_window.fn(settings, contract, recorded("2", "retrain", 1, None))
    again = window_rows(url)
    assert len(again) == 3, "a re-run updates its row"
    assert again[1][4:10] == (None, None, "2", "retrain", "retrain on window 1", "drift")
    assert again[1][10] > first[1][10], "written_at is the last write"
    assert (again[0], again[2]) == (first[0], first[2]), "other windows untouched"


def test_the_files_store_records_no_window(tmp_path: Path, contract: DatasetContract) -> None:
    store = JsonLinesLogStore(tmp_path / "predictions", tmp_path / "labels", contract)
    store.record_window(recorded("1", "hold", 0, 0.05))
    assert list(tmp_path.iterdir()) == [], "the summaries on disk are the record"
