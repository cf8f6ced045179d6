"""The fast path scores exactly as the registered Pipeline does, or is not used at all."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from data.usecases import use_case
from features.contract import DatasetContract, load_contract
from pipelines.scoring import model_input
from serving.fast_scorer import WALK_MAX_ROWS, NotCompilableError, build_fast_scorer
from serving.model_store import Candidate, smoke_test
from serving.scoring import fast_probabilities, feature_frame
from tests.serving.conftest import fit_pipeline as fit_test_pipeline
from tests.serving.conftest import version_tags
from tests.serving.test_batcher import request_rows
from training.fit import fit_pipeline

USE_CASES = ("card_fraud", "churn")
HOLDOUT_ROWS = 2_000


def with_oddities(rows: list[dict[str, Any]], contract: DatasetContract) -> list[dict[str, Any]]:
    """``rows`` plus copies with every category unseen, every nullable feature missing, and
    huge floats."""
    first = rows[0]
    columns = contract.columns
    unseen = {**first, **{c: "never-seen" for c in contract.categorical_features}}
    missing = {**first, **{c: None for c in contract.features if columns[c].nullable}}
    floats = [c for c in contract.numeric_features if columns[c].dtype == "float"]
    extreme = {**first, **{c: 1e300 for c in floats}}
    return [*rows, unseen, missing, extreme]


@pytest.fixture(scope="module", params=USE_CASES)
def fitted(request: pytest.FixtureRequest) -> tuple[DatasetContract, Pipeline, pd.DataFrame]:
    """A contract, its real training Pipeline (``build_pipeline``), and a holdout frame."""
    case = use_case(request.param)
    contract = load_contract(case.contract_file)
    train = case.generate_day(0, "none", seed=11, days=2, rows=4_000)
    train[contract.label_column] = contract.binary_labels(train[contract.label_column])
    pipeline = fit_pipeline(train, contract, contract.model, threads=1)
    holdout = case.generate_day(1, "none", seed=12, days=2, rows=HOLDOUT_ROWS)
    return contract, pipeline, holdout


def test_holdout_scores_are_the_same_bits_at_every_batch_size(
    fitted: tuple[DatasetContract, Pipeline, pd.DataFrame],
) -> None:
    contract, pipeline, holdout = fitted
    fast = build_fast_scorer(pipeline, contract)
    rows = with_oddities(request_rows(contract, holdout), contract)
    expected = pipeline.predict_proba(feature_frame(rows, contract))[:, 1]

    whole = fast_probabilities(fast, rows)  # tree by tree
    assert len(rows) > WALK_MAX_ROWS
    np.testing.assert_array_equal(whole, expected)
    start = 0
    for size in [*range(1, WALK_MAX_ROWS + 2), 64]:  # walked, then the first sizes past the walk
        batch = rows[start : start + size]
        np.testing.assert_array_equal(
            fast_probabilities(fast, batch), expected[start : start + size], err_msg=f"{size}"
        )
        start += size
    assert len(set(np.round(expected, 6))) > 100  # a real spread of scores, not a constant


# convert_dtypes tries the huge floats as integers first
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_the_matrix_is_the_column_transformers_output(
    fitted: tuple[DatasetContract, Pipeline, pd.DataFrame], tmp_path: Path
) -> None:
    contract, pipeline, holdout = fitted
    fast = build_fast_scorer(pipeline, contract)
    rows = with_oddities(request_rows(contract, holdout), contract)
    frame = feature_frame(rows, contract)
    encoded = pipeline.named_steps["features"].transform(frame).to_numpy(dtype=np.float64)
    pd.DataFrame(rows).to_parquet(tmp_path / "rows.parquet")  # as batch scoring reads a file
    as_read = pd.read_parquet(tmp_path / "rows.parquet")

    np.testing.assert_array_equal(fast.matrix_from_rows(rows), encoded)
    np.testing.assert_array_equal(fast.matrix_from_frame(model_input(frame, contract)), encoded)
    np.testing.assert_array_equal(fast.matrix_from_frame(as_read), encoded)
    np.testing.assert_array_equal(fast.matrix_from_frame(as_read.convert_dtypes()), encoded)
    unseen = fast.matrix_from_rows(rows)[-3]
    for _, columns in fast.categorical:  # unseen categories encode as zeros
        assert unseen[list(columns.values())].sum() == 0


def test_pipelines_of_another_shape_are_refused_with_the_reason(
    fitted: tuple[DatasetContract, Pipeline, pd.DataFrame],
) -> None:
    contract, pipeline, holdout = fitted
    holdout = holdout.assign(y=contract.binary_labels(holdout[contract.label_column]))
    other_encoding = fit_test_pipeline(
        contract, holdout.assign(**{contract.label_column: holdout.y})
    )
    linear = Pipeline(
        [
            ("features", pipeline.named_steps["features"]),
            ("model", LogisticRegression()),  # refused by type, before any use
        ]
    )
    native = Pipeline(
        [
            ("features", ColumnTransformer([("categorical", OneHotEncoder(), ["x"])])),
            ("model", HistGradientBoostingClassifier(max_iter=2)),
        ]
    )

    with pytest.raises(NotCompilableError, match="input columns differ"):
        build_fast_scorer(other_encoding, contract)
    with pytest.raises(NotCompilableError, match="not a HistGradientBoostingClassifier"):
        build_fast_scorer(linear, contract)
    with pytest.raises(NotCompilableError, match="not a fitted ColumnTransformer"):
        build_fast_scorer(native, contract)
    with pytest.raises(NotCompilableError, match="two-step"):
        build_fast_scorer(pipeline.named_steps["model"], contract)


def candidate(contract: DatasetContract, model: Any, holdout: pd.DataFrame) -> Candidate:
    return Candidate(
        version="7",
        model=model,
        input_example=holdout[list(contract.features)].head(5),
        tags=version_tags(contract),
        metrics={},
        run_id=None,
    )


def test_the_smoke_test_attaches_the_fast_path_only_when_it_agrees(
    fitted: tuple[DatasetContract, Pipeline, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    contract, pipeline, holdout = fitted
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    loaded = smoke_test(candidate(contract, pipeline, holdout), "m", contract, now)
    assert loaded.fast is not None
    assert loaded.scored_by == "fast path"
    other = fit_test_pipeline(
        contract,
        holdout.assign(
            **{contract.label_column: contract.binary_labels(holdout[contract.label_column])}
        ),
    )
    assert smoke_test(candidate(contract, other, holdout), "m", contract, now).scored_by == (
        "predict_proba"
    )

    real = build_fast_scorer

    def off_by_one_bit(model: Any, served: DatasetContract) -> Any:
        fast = real(model, served)
        fast.trees.value[:] = np.nextafter(fast.trees.value, np.inf)
        return fast

    monkeypatch.setattr("serving.model_store.build_fast_scorer", off_by_one_bit)
    assert smoke_test(candidate(contract, pipeline, holdout), "m", contract, now).fast is None
