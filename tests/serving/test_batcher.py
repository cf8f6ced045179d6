"""The micro-batcher's core: batch composition, exact scores, versions, failures, back-pressure.

Each test drives a :class:`~serving.batcher.MicroBatcher` on its own event loop; the model call
is a plain function, gated with events where a test needs a call to stay in flight.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.contract import DatasetContract
from serving.batcher import (
    BatcherClosedError,
    MicroBatcher,
    QueuedRequest,
    QueueFullError,
    Rows,
    Scored,
    retry_after_seconds,
    take_batch,
)
from serving.config import ServingSettings
from serving.metrics import ServingMetrics
from serving.model_store import LoadedModel
from serving.scoring import feature_frame, positive_probabilities
from tests.serving.conftest import synthetic_frame


def loaded_model(model: Any, version: str = "1") -> LoadedModel:
    return LoadedModel(
        name="m",
        version=version,
        model=model,
        threshold=0.3,
        run_id=None,
        tags={},
        metrics={},
        loaded_at=dt.datetime(2024, 1, 1),
    )


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


def request_rows(contract: DatasetContract, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as the API hands them over: id + features, missing values as None."""
    columns = [contract.id_column, *contract.features]
    rows = frame[columns].astype(object).to_dict(orient="records")
    return [{k: (None if v is None or v != v else v) for k, v in row.items()} for row in rows]


class Gate:
    """Blocks the model call whose rows include ``row_id`` until released."""

    def __init__(self, id_column: str, row_id: object) -> None:
        self.id_column = id_column
        self.row_id = row_id
        self.entered = threading.Event()
        self.release = threading.Event()

    def pass_through(self, rows: Rows) -> None:
        if any(row[self.id_column] == self.row_id for row in rows):
            self.entered.set()
            assert self.release.wait(20), "the gate was never released"

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 20), "the gated call never started"


def queued(rows: Rows) -> QueuedRequest:
    future: asyncio.Future[Scored] = asyncio.get_running_loop().create_future()
    return QueuedRequest(rows, future, 0.0)


# ------------------------------------------------------------------------------- pure parts


def test_take_batch_takes_whole_requests_oldest_first_up_to_the_row_bound():
    async def scenario() -> None:
        sizes = [3, 2, 4, 1]
        queue = deque(queued([{"i": n}] * n) for n in sizes)
        first = take_batch(queue, max_rows=6)
        assert [len(r.rows) for r in first] == [3, 2], "3 + 2 fit in 6 rows; 4 more would not"
        second = take_batch(queue, max_rows=2)
        assert [len(r.rows) for r in second] == [4], "a request larger than the bound goes alone"
        assert [len(r.rows) for r in queue] == [1], "the rest stays queued in order"

    run(scenario)


def test_take_batch_drops_requests_whose_client_went_away():
    async def scenario() -> None:
        gone, kept = queued([{"i": 1}]), queued([{"i": 2}])
        gone.future.cancel()
        queue = deque([gone, kept])
        assert take_batch(queue, max_rows=10) == [kept], "a cancelled request is not scored"

    run(scenario)


@pytest.mark.parametrize(
    ("queued_rows", "max_batch_rows", "call_seconds", "expected"),
    [(0, 64, 0.0, 1), (10, 64, 0.005, 1), (640, 64, 0.5, 5), (65, 64, 0.9, 2)],
)
def test_retry_after_is_whole_seconds_at_least_one(
    queued_rows, max_batch_rows, call_seconds, expected
):
    got = retry_after_seconds(queued_rows, max_batch_rows, call_seconds)
    assert got == expected, f"{queued_rows} rows at {call_seconds} s per call: {got} s"


# ------------------------------------------------------------------------------ exact scores


def test_frame_dtypes_do_not_depend_on_the_batch(contract, renewal_contract):
    for spec_contract, seed in ((contract, 3), (renewal_contract, 4)):
        rows = request_rows(spec_contract, synthetic_frame(spec_contract, 40, seed=seed))
        nullable = [n for n in spec_contract.features if spec_contract.columns[n].nullable]
        all_null = [{**row, **dict.fromkeys(nullable, None)} for row in rows]
        frames = [
            feature_frame(rows[:1], spec_contract),
            feature_frame(rows, spec_contract),
            feature_frame(all_null[:1], spec_contract),
            feature_frame(all_null, spec_contract),
        ]
        dtypes = [frame.dtypes.astype(str).to_dict() for frame in frames]
        assert all(d == dtypes[0] for d in dtypes), f"{spec_contract.name}: dtypes {dtypes}"


def test_batched_scores_equal_scoring_each_request_alone_bit_for_bit(contract, pipeline):
    rng = random.Random(7)
    rows = request_rows(contract, synthetic_frame(contract, 600, seed=11))
    nullable = [n for n in contract.features if contract.columns[n].nullable]
    batch_sizes: list[int] = []

    def score_rows(loaded: LoadedModel, batch: Rows) -> np.ndarray[Any, Any]:
        batch_sizes.append(len(batch))
        return positive_probabilities(loaded.model, feature_frame(batch, contract))

    def random_request() -> list[dict[str, Any]]:
        chosen = rng.sample(rows, rng.choice([1, 1, 1, 2, 3, 5, 8, 13]))
        if rng.random() < 0.3:  # a request whose nullable columns are all missing
            chosen = [{**row, **dict.fromkeys(nullable, None)} for row in chosen]
        return chosen

    async def scenario() -> list[tuple[list[dict[str, Any]], Scored]]:
        results = []
        for max_rows in (1, 4, 16, 64, 256):
            settings = ServingSettings(max_batch_rows=max_rows, max_queue_rows=100_000)
            model = loaded_model(pipeline)
            batcher = MicroBatcher(settings, score_rows, lambda m=model: m, ServingMetrics())
            batcher.start()
            for _ in range(6):
                requests = [random_request() for _ in range(rng.randint(1, 12))]
                scored = await asyncio.gather(*(batcher.submit(r) for r in requests))
                results += list(zip(requests, scored, strict=True))
            await batcher.close()
        return results

    results = run(scenario)
    assert max(batch_sizes) > 13, f"requests were batched together (sizes {batch_sizes})"
    for request, scored in results:
        alone = positive_probabilities(pipeline, feature_frame(request, contract))
        assert scored.scores.dtype == np.float64, "float64 scores"
        assert scored.scores.view(np.uint64).tolist() == alone.view(np.uint64).tolist(), (
            f"batched scores differ from scoring the request alone: {scored.scores} vs {alone}"
        )


# ------------------------------------------------------------------------- versions and swaps


def constant_scores(loaded: LoadedModel, rows: Rows) -> np.ndarray[Any, Any]:
    return np.full(len(rows), float(loaded.model))


def test_a_swap_lands_between_batches_and_each_answer_names_its_version():
    gate = Gate("id", "first")
    calls: list[tuple[str, int]] = []
    current = {"model": loaded_model(0.1, "1")}

    def score_rows(loaded: LoadedModel, rows: Rows) -> np.ndarray[Any, Any]:
        gate.pass_through(rows)
        calls.append((loaded.version, len(rows)))
        return constant_scores(loaded, rows)

    async def scenario() -> tuple[Scored, list[Scored]]:
        batcher = MicroBatcher(
            ServingSettings(), score_rows, lambda: current["model"], ServingMetrics()
        )
        batcher.start()
        first = batcher.submit([{"id": "first"}])
        await gate.wait_entered()
        later = [batcher.submit([{"id": f"r{i}"}] * (i + 1)) for i in range(4)]
        current["model"] = loaded_model(0.9, "2")  # the hot swap, while version 1 scores
        gate.release.set()
        result = await first, list(await asyncio.gather(*later))
        await batcher.close()
        return result

    first, later = run(scenario)
    assert calls == [("1", 1), ("2", 10)], f"one call per version, never mixed: {calls}"
    assert first.loaded.version == "1", "the batch in flight finished on version 1"
    assert first.scores.tolist() == [0.1], "with version 1's scores"
    for scored in later:
        assert scored.loaded.version == "2", "requests queued after the swap name version 2"
        assert set(scored.scores.tolist()) == {0.9}, "and carry version 2's scores"


def test_a_failing_batch_is_rescored_request_by_request_so_only_the_culprit_fails():
    gate = Gate("id", "first")
    calls: list[int] = []

    def score_rows(loaded: LoadedModel, rows: Rows) -> np.ndarray[Any, Any]:
        gate.pass_through(rows)
        calls.append(len(rows))
        if any(row["id"] == "poison" for row in rows):
            raise RuntimeError("the model cannot score this row")
        return np.array([float(len(str(row["id"]))) for row in rows])

    async def scenario() -> list[Scored | BaseException]:
        model = loaded_model(None)
        batcher = MicroBatcher(ServingSettings(), score_rows, lambda: model, ServingMetrics())
        batcher.start()
        first = batcher.submit([{"id": "first"}])
        await gate.wait_entered()
        mates = [[{"id": "a"}, {"id": "bb"}], [{"id": "poison"}], [{"id": "cccc"}]]
        futures = [batcher.submit(rows) for rows in mates]
        gate.release.set()
        await first
        results = await asyncio.gather(*futures, return_exceptions=True)
        await batcher.close()
        return results

    ok_pair, poisoned, ok_single = run(scenario)
    assert calls == [1, 4, 2, 1, 1], f"one failed batch of 4 rows, then each alone: {calls}"
    assert isinstance(poisoned, RuntimeError), "the request the model cannot score fails"
    assert isinstance(ok_pair, Scored), f"a batch-mate is scored: {ok_pair!r}"
    assert ok_pair.scores.tolist() == [1.0, 2.0], "with its own scores"
    assert isinstance(ok_single, Scored), f"a batch-mate is scored: {ok_single!r}"
    assert ok_single.scores.tolist() == [4.0], "with its own scores"


def test_no_model_fails_every_request_of_the_batch_with_the_reason():
    def no_model() -> LoadedModel:
        raise LookupError("no model is loaded yet")

    async def scenario() -> list[Scored | BaseException]:
        batcher = MicroBatcher(ServingSettings(), constant_scores, no_model, ServingMetrics())
        batcher.start()
        results = await asyncio.gather(
            batcher.submit([{"id": 1}]), batcher.submit([{"id": 2}]), return_exceptions=True
        )
        await batcher.close()
        return results

    results = run(scenario)
    assert all(isinstance(r, LookupError) for r in results), f"each request told: {results}"


# ------------------------------------------------------------------------ waiting and limits


def test_a_lone_request_at_an_idle_model_does_not_wait_for_company():
    async def scenario() -> float:
        settings = ServingSettings(max_wait_ms=1000)
        model = loaded_model(0.5)
        batcher = MicroBatcher(settings, constant_scores, lambda: model, ServingMetrics())
        batcher.start()
        started = time.perf_counter()
        await batcher.score([{"id": 1}])
        seconds = time.perf_counter() - started
        await batcher.close()
        return seconds

    seconds = run(scenario)
    assert seconds < 0.5, f"an idle model scores at once, not after max_wait_ms: {seconds:.3f} s"


@pytest.mark.parametrize(("max_wait_ms", "expected_calls"), [(0, [1, 1, 1]), (1000, [1, 2])])
def test_under_load_a_batch_waits_max_wait_ms_for_more_rows(max_wait_ms, expected_calls):
    gate = Gate("id", "first")
    calls: list[int] = []

    def score_rows(loaded: LoadedModel, rows: Rows) -> np.ndarray[Any, Any]:
        gate.pass_through(rows)
        calls.append(len(rows))
        return constant_scores(loaded, rows)

    async def scenario() -> None:
        settings = ServingSettings(max_wait_ms=max_wait_ms)
        model = loaded_model(0.5)
        batcher = MicroBatcher(settings, score_rows, lambda: model, ServingMetrics())
        batcher.start()
        first = batcher.submit([{"id": "first"}])
        await gate.wait_entered()
        second = batcher.submit([{"id": "second"}])  # queued while the model is busy
        gate.release.set()
        await first
        await asyncio.sleep(0.2)  # the third arrives after the busy call has ended
        await asyncio.gather(second, batcher.submit([{"id": "third"}]))
        await batcher.close()

    run(scenario)
    assert calls == expected_calls, f"max_wait_ms={max_wait_ms}: calls {calls}"


def test_a_full_queue_refuses_with_retry_after_and_counts_it():
    gate = Gate("id", "first")
    metrics = ServingMetrics()

    def score_rows(loaded: LoadedModel, rows: Rows) -> np.ndarray[Any, Any]:
        gate.pass_through(rows)
        return constant_scores(loaded, rows)

    async def scenario() -> tuple[QueueFullError, int]:
        settings = ServingSettings(max_batch_rows=4, max_queue_rows=5)
        model = loaded_model(0.5)
        batcher = MicroBatcher(settings, score_rows, lambda: model, metrics)
        batcher.start()
        first = batcher.submit([{"id": "first"}] * 3)
        await gate.wait_entered()
        accepted = [batcher.submit([{"id": "a"}] * 3), batcher.submit([{"id": "b"}] * 2)]
        with pytest.raises(QueueFullError) as refused:
            batcher.submit([{"id": "c"}])
        depth = batcher.queued_rows
        gate.release.set()
        await asyncio.gather(first, *accepted)
        big = await batcher.score([{"id": "big"}] * 50)  # an empty queue takes any request
        assert len(big.scores) == 50, "a request above max_queue_rows is taken by an empty queue"
        await batcher.close()
        return refused.value, depth

    error, depth = run(scenario)
    assert depth == 5, "3 + 2 rows queued behind the call in flight"
    assert error.retry_after >= 1, "Retry-After is at least one second"
    assert "max_queue_rows 5" in str(error), f"the message names the bound: {error}"
    assert metrics.queue_full._value.get() == 1.0, "the refusal is counted"


def test_close_fails_queued_and_in_flight_requests():
    gate = Gate("id", "first")

    def score_rows(loaded: LoadedModel, rows: Rows) -> np.ndarray[Any, Any]:
        gate.pass_through(rows)
        return constant_scores(loaded, rows)

    async def scenario() -> list[Scored | BaseException]:
        model = loaded_model(0.5)
        batcher = MicroBatcher(ServingSettings(), score_rows, lambda: model, ServingMetrics())
        batcher.start()
        futures = [batcher.submit([{"id": "first"}])]
        await gate.wait_entered()
        futures.append(batcher.submit([{"id": "queued"}]))
        await batcher.close()
        gate.release.set()
        return list(await asyncio.gather(*futures, return_exceptions=True))

    results = run(scenario)
    assert all(isinstance(r, BatcherClosedError) for r in results), f"both told: {results}"


def test_batch_metrics_record_rows_waits_and_queue_depth():
    metrics = ServingMetrics()

    async def scenario() -> None:
        model = loaded_model(0.5)
        batcher = MicroBatcher(ServingSettings(), constant_scores, lambda: model, metrics)
        metrics.bind_queue_rows(lambda: batcher.queued_rows)
        batcher.start()
        await asyncio.gather(*(batcher.submit([{"id": i}] * 2) for i in range(3)))
        await batcher.close()

    run(scenario)
    text = metrics.render().decode()
    for line in (
        "serving_batch_rows_count 1.0",
        "serving_batch_rows_sum 6.0",
        "serving_batch_queue_wait_seconds_count 3.0",
        "serving_batch_queue_rows 0.0",
        "serving_batch_queue_full_total 0.0",
    ):
        assert line in text, f"missing metric line: {line}"


def test_an_unexpected_error_in_the_batcher_fails_the_batch_instead_of_hanging():
    class BrokenMetrics(ServingMetrics):
        def observe_batch(self, rows: int, queue_waits: Any) -> None:
            raise ValueError("broken metrics")

    async def scenario() -> list[Scored | BaseException]:
        model = loaded_model(0.5)
        batcher = MicroBatcher(ServingSettings(), constant_scores, lambda: model, BrokenMetrics())
        batcher.start()
        results: list[Scored | BaseException] = []
        for i in range(2):  # the second one proves the task survived the first failure
            waited = asyncio.wait_for(batcher.submit([{"id": i}]), 5)
            results += await asyncio.gather(waited, return_exceptions=True)
        await batcher.close()
        return results

    results = run(scenario)
    assert all(isinstance(r, ValueError) for r in results), f"told, not hung: {results}"


def test_calls_that_run_inline_skip_the_model_thread_and_others_use_it():
    threads: list[tuple[int, str]] = []

    def score_rows(loaded: LoadedModel, rows: Rows) -> np.ndarray[Any, Any]:
        threads.append((len(rows), threading.current_thread().name))
        return np.full(len(rows), 0.5)

    def small(loaded: LoadedModel, rows: int) -> bool:
        return rows <= 2

    async def scenario() -> list[Scored]:
        model = loaded_model(None)
        batcher = MicroBatcher(
            ServingSettings(), score_rows, lambda: model, ServingMetrics(), runs_inline=small
        )
        batcher.start()
        one = await batcher.score([{"id": "a"}])
        three = await batcher.score([{"id": "b"}, {"id": "c"}, {"id": "d"}])
        await batcher.close()
        return [one, three]

    one, three = run(scenario)
    loop_thread = threading.current_thread().name  # asyncio.run runs the loop here
    assert threads[0] == (1, loop_thread), f"one row scored on the loop: {threads}"
    assert threads[1][0] == 3, f"then the 3 rows: {threads}"
    assert threads[1][1].startswith("model"), f"3 rows scored in the model thread: {threads}"
    assert (one.scores.tolist(), three.scores.tolist()) == ([0.5], [0.5, 0.5, 0.5])


def test_a_loaded_version_scores_inline_only_walk_sized_calls_of_its_fast_path():
    from serving.fast_scorer import WALK_MAX_ROWS

    without = loaded_model(None)
    with_fast = LoadedModel(**{**without.__dict__, "fast": object()})  # type: ignore[arg-type]
    assert [with_fast.scores_inline(n) for n in (1, WALK_MAX_ROWS, WALK_MAX_ROWS + 1)] == [
        True,
        True,
        False,
    ]
    assert not without.scores_inline(1), "predict_proba always goes to the model thread"
