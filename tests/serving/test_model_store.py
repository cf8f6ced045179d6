"""The hot-swap rules, against an in-memory source (no MLflow, no HTTP)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from features.vocabulary import CONTRACT_HASH_TAG, THRESHOLD_TAG
from serving.model_store import (
    ModelLoadError,
    ModelStore,
    RefreshResult,
    SmokeTestError,
    SourceUnavailableError,
    parse_threshold,
)
from serving.scoring import feature_frame, positive_probabilities
from tests.serving.conftest import ConstantModel, RaisingModel, valid_item, version_tags

NOW = dt.datetime(2024, 3, 1, 12, 0)


@pytest.fixture
def store(fake_source, contract):
    return ModelStore(fake_source, contract, clock=lambda: NOW)


def test_no_alias_leaves_the_store_empty(store, fake_source):
    outcome = store.refresh()
    assert outcome.result is RefreshResult.NO_ALIAS, "no champion yet"
    assert store.current is None, "nothing loaded"
    assert fake_source.fetched == [], "nothing fetched"


def test_first_champion_is_swapped_in_then_left_alone(store, fake_source, pipeline, example_frame):
    fake_source.add("1", pipeline, example_frame)
    fake_source.alias = "1"
    first = store.refresh()
    second = store.refresh()
    assert first.result is RefreshResult.SWAPPED, "first version swapped in"
    assert second.result is RefreshResult.UNCHANGED, "same version: nothing to do"
    assert fake_source.fetched == ["1"], "fetched once"
    loaded = store.current
    assert loaded is not None, "a model is loaded"
    assert (loaded.version, loaded.threshold) == ("1", 0.3), "version and threshold tag"
    assert loaded.loaded_at == NOW, "loaded_at from the clock"
    assert loaded.metrics["pr_auc"] == pytest.approx(0.61), "run metrics kept"


@pytest.mark.parametrize(
    ("bad_model", "reason_part"),
    [
        (RaisingModel(), "boom"),
        (ConstantModel(float("nan")), "non-finite"),
        (ConstantModel(1.5), "outside [0, 1]"),
        (ConstantModel(0.2, rows_delta=1), "shape"),
    ],
)
def test_a_version_failing_the_smoke_test_is_not_swapped_in(
    store, fake_source, pipeline, example_frame, bad_model, reason_part
):
    fake_source.add("1", pipeline, example_frame)
    fake_source.alias = "1"
    store.refresh()
    fake_source.add("2", bad_model, example_frame)
    fake_source.alias = "2"
    outcome = store.refresh()
    assert outcome.result is RefreshResult.REJECTED, "bad version rejected"
    assert store.current is not None, "still a model"
    assert store.current.version == "1", "the old version keeps serving"
    failure = store.last_swap_error
    assert failure is not None, "the failure is remembered"
    assert failure.version == "2", "failure names the version"
    assert reason_part in failure.reason, f"reason explains: {failure.reason}"
    assert failure.reason.startswith("smoke test failed"), "reason says which stage failed"


@pytest.mark.parametrize(
    ("tags_change", "reason_part"),
    [
        ({THRESHOLD_TAG: "abc"}, "not a number"),
        ({THRESHOLD_TAG: "1.5"}, "must be in [0, 1]"),
        ({THRESHOLD_TAG: None}, f"no '{THRESHOLD_TAG}' tag"),
        ({CONTRACT_HASH_TAG: "0" * 64}, "trained on contract 000000000000"),
        ({CONTRACT_HASH_TAG: None}, f"no '{CONTRACT_HASH_TAG}' tag"),
    ],
)
def test_bad_tags_are_rejected(
    store, fake_source, contract, pipeline, example_frame, tags_change, reason_part
):
    tags = version_tags(contract)
    for key, value in tags_change.items():
        if value is None:
            tags.pop(key)
        else:
            tags[key] = value
    fake_source.add("1", pipeline, example_frame, tags=tags)
    fake_source.alias = "1"
    outcome = store.refresh()
    assert outcome.result is RefreshResult.REJECTED, "bad tags rejected"
    assert store.current is None, "nothing swapped in"
    assert reason_part in (outcome.reason or ""), f"reason explains: {outcome.reason}"


def test_input_example_must_exist_and_match_the_features(
    store, fake_source, pipeline, example_frame
):
    fake_source.add("1", pipeline, None)
    fake_source.add("2", pipeline, example_frame.drop(columns=["amount"]).assign(extra=1))
    fake_source.alias = "1"
    no_example = store.refresh()
    fake_source.alias = "2"
    wrong_columns = store.refresh()
    assert "no input example" in (no_example.reason or ""), no_example.reason
    assert "missing: ['amount']" in (wrong_columns.reason or ""), wrong_columns.reason
    assert "unexpected: ['extra']" in (wrong_columns.reason or ""), wrong_columns.reason


def test_load_failure_is_reported_and_not_retried_every_poll(
    store, fake_source, pipeline, example_frame
):
    fake_source.add("1", pipeline, example_frame)
    fake_source.alias = "1"
    store.refresh()
    fake_source.versions["2"] = ModelLoadError("artifact missing")
    fake_source.alias = "2"
    rejected = store.refresh()
    skipped = [store.refresh() for _ in range(3)]
    assert rejected.result is RefreshResult.REJECTED, "load failure rejects the version"
    assert rejected.reason == "load failed: artifact missing", "reason names the stage"
    assert {s.result for s in skipped} == {RefreshResult.SKIPPED_REJECTED}, "no reload loop"
    assert fake_source.fetched == ["1", "2"], "the failed version was fetched once"
    assert store.current is not None, "old model kept"
    assert store.current.version == "1", "old model kept"


def test_newer_version_after_a_failure_is_tried_and_clears_the_error(
    store, fake_source, pipeline, example_frame
):
    fake_source.add("1", pipeline, example_frame)
    fake_source.add("2", RaisingModel(), example_frame)
    fake_source.add("3", pipeline, example_frame)
    for version in ("1", "2", "3"):
        fake_source.alias = version
        store.refresh()
    assert store.current is not None, "a model is loaded"
    assert store.current.version == "3", "the newer good version is swapped in"
    assert store.last_swap_error is None, "a successful swap clears the error"


def test_failed_version_is_retried_after_the_alias_pointed_elsewhere(
    store, fake_source, pipeline, example_frame
):
    fake_source.add("1", pipeline, example_frame)
    fake_source.versions["2"] = ModelLoadError("transient")
    for version in ("1", "2", "1"):
        fake_source.alias = version
        store.refresh()
    fake_source.add("2", pipeline, example_frame)  # fixed, e.g. the artifact store is back
    fake_source.alias = "2"
    outcome = store.refresh()
    assert outcome.result is RefreshResult.SWAPPED, "re-pointing the alias retries the version"


def test_lookup_failure_keeps_the_current_model(store, fake_source, pipeline, example_frame):
    fake_source.add("1", pipeline, example_frame)
    fake_source.alias = "1"
    store.refresh()
    fake_source.lookup_error = SourceUnavailableError("registry down")
    outcome = store.refresh()
    assert outcome.result is RefreshResult.LOOKUP_FAILED, "lookup failure reported"
    assert store.current is not None, "the model keeps serving"
    assert store.current.version == "1", "the model keeps serving"


def test_unexpected_fetch_error_is_a_rejection_not_a_crash(store, fake_source):
    fake_source.versions["1"] = KeyError("weird")
    fake_source.alias = "1"
    outcome = store.refresh()
    assert outcome.result is RefreshResult.REJECTED, "any fetch error rejects"
    assert (outcome.reason or "").startswith("unexpected KeyError"), outcome.reason


def test_a_held_reference_keeps_scoring_on_the_old_model(
    store, fake_source, contract, pipeline, example_frame
):
    fake_source.add("1", ConstantModel(0.1), example_frame)
    fake_source.add("2", ConstantModel(0.9), example_frame)
    fake_source.alias = "1"
    store.refresh()
    held = store.current  # what a request grabs at its start
    fake_source.alias = "2"
    store.refresh()  # the swap happens while that request is in flight
    frame = feature_frame([valid_item(contract)], contract)
    assert held is not None, "the request held a model"
    assert store.current is not None, "the store has a model"
    assert held.version == "1", "the held reference is still version 1"
    assert positive_probabilities(held.model, frame).tolist() == [0.1], "scored by version 1"
    assert store.current.version == "2", "new requests get version 2"
    assert np.allclose(positive_probabilities(store.current.model, frame), 0.9), "version 2 scores"


@pytest.mark.parametrize(
    ("raw", "expected"), [("0.25", 0.25), ("0", 0.0), ("1", 1.0), ("1e-3", 0.001)]
)
def test_parse_threshold_accepts_numbers_in_unit_interval(raw, expected):
    assert parse_threshold({THRESHOLD_TAG: raw}) == expected, f"{raw} parses"


@pytest.mark.parametrize("raw", ["nan", "inf", "-0.1", "", "high"])
def test_parse_threshold_rejects_the_rest(raw):
    with pytest.raises(SmokeTestError):
        parse_threshold({THRESHOLD_TAG: raw})
