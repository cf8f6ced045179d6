"""The serving process freezes its heap after each version loads, and frees the old version."""

from __future__ import annotations

import datetime as dt
import gc
import weakref
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.heap import freeze_long_lived
from serving.model_store import RefreshResult
from tests.serving.conftest import make_config, valid_item

NOW = dt.datetime(2024, 3, 10, 12, 0)


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Each test starts and ends with nothing frozen (the test process is no server)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freeze_long_lived_spares_survivors_and_collects_cycles() -> None:
    class Node:
        partner: object = None

    kept, lost = Node(), Node()
    lost.partner = lost  # a cycle that only the collector can free
    gone = weakref.ref(lost)
    del lost
    frozen = freeze_long_lived()
    assert gone() is None, "the cycle was collected before the freeze"
    assert frozen > 0, "the survivors are frozen"  # freed ones leave the count: no equality
    assert not any(o is kept for o in gc.get_objects()), "the collector no longer walks it"


def test_serving_freezes_after_startup_and_frees_a_swapped_out_version(
    tmp_path, contract, registry, model_name
) -> None:
    config = make_config(tmp_path, contract, registry.tracking_uri, model_name)
    with TestClient(create_app(config, clock=lambda: NOW, freeze_heap=True)) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        after_startup = gc.get_freeze_count()
        old_model = services.store.current.model
        old_model.cycle_for_test = [old_model]  # only the collector can free the old version
        old = weakref.ref(old_model)
        del old_model
        registry.champion(model_name, registry.register(model_name))
        outcome = services.refresh()
        answer = client.post("/v1/predict", json=valid_item(contract)).json()
    assert after_startup > 0, "the first version's load froze the heap"
    assert outcome.result is RefreshResult.SWAPPED
    assert answer["model_version"] == "2"
    assert old() is None, "the swap lifted the freeze, so the old version's cycle was collected"


def test_an_app_leaves_the_collector_alone_by_default(tmp_path, contract, registry, model_name):
    config = make_config(tmp_path, contract, registry.tracking_uri, model_name)
    with TestClient(create_app(config, clock=lambda: NOW)) as client:
        ready = client.get("/ready").status_code
        frozen = gc.get_freeze_count()
    assert (ready, frozen) == (200, 0)
