"""`load_trusted_pipeline` on hand-written model folders: what it loads and what it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from features.model_io import (
    REFUSED,
    ModelFolderError,
    UntrustedModelError,
    load_trusted_pipeline,
)

X = pd.DataFrame({"a": np.arange(12.0)})
Y = (X["a"] > 5).astype(int)


class Shady(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A type outside the project's allowlist (any class could hide in a skops file)."""

    def fit(self, x: Any, y: Any = None) -> Shady:
        return self

    def transform(self, x: Any) -> Any:
        return x


def model_folder(root: Path, model: Any, **sklearn_flavor: Any) -> Path:
    """An MLflow-shaped folder: ``MLmodel`` (flavor fields overridable) and ``model.skops``."""
    root.mkdir()
    sio.dump(model, root / "model.skops")
    flavor = {"pickled_model": "model.skops", "serialization_format": "skops"}
    flavor.update(sklearn_flavor)
    flavors = {"sklearn": {k: v for k, v in flavor.items() if v is not None}}
    (root / "MLmodel").write_text(yaml.safe_dump({"flavors": flavors}))
    return root


def test_loads_a_skops_pipeline(tmp_path: Path) -> None:
    pipe = Pipeline([("model", LogisticRegression())]).fit(X, Y)
    loaded = load_trusted_pipeline(model_folder(tmp_path / "m", pipe))
    assert np.array_equal(loaded.predict_proba(X), pipe.predict_proba(X)), "same scores"


@pytest.mark.parametrize(
    ("flavor", "named"),
    [
        ({"serialization_format": "pickle"}, "'pickle'"),
        ({"serialization_format": "cloudpickle"}, "'cloudpickle'"),
        ({"serialization_format": None}, "none (MLflow reads it as pickle)"),
        ({"pickled_model": "../outside.skops"}, "'../outside.skops'"),
    ],
)
def test_refuses_what_is_not_plain_skops(
    tmp_path: Path, flavor: dict[str, Any], named: str
) -> None:
    pipe = Pipeline([("model", LogisticRegression())]).fit(X, Y)
    folder = model_folder(tmp_path / "m", pipe, **flavor)
    with pytest.raises(UntrustedModelError) as caught:
        load_trusted_pipeline(folder)
    assert str(caught.value).startswith(REFUSED), str(caught.value)
    assert named in str(caught.value), f"names what was declared: {caught.value}"


def test_refuses_another_flavor(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    flavors = {"python_function": {"loader_module": "evil"}, "pytorch": {}}
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": flavors}))
    with pytest.raises(UntrustedModelError, match=r"flavor\(s\) \['python_function', 'pytorch'\]"):
        load_trusted_pipeline(folder)


def test_ignores_the_trusted_types_the_artifact_declares(tmp_path: Path) -> None:
    pipe = Pipeline([("shady", Shady()), ("model", LogisticRegression())]).fit(X, Y)
    shady = f"{Shady.__module__}.Shady"
    folder = model_folder(tmp_path / "m", pipe, skops_trusted_types=[shady])
    with pytest.raises(UntrustedModelError, match="outside the project's allowlist") as caught:
        load_trusted_pipeline(folder)
    assert shady in str(caught.value), f"names the untrusted type: {caught.value}"


@pytest.mark.parametrize("breakage", ["no MLmodel", "garbage file", "not a pipeline"])
def test_unreadable_folders_are_folder_errors(tmp_path: Path, breakage: str) -> None:
    model: Any = LogisticRegression().fit(X, Y)
    if breakage != "not a pipeline":
        model = Pipeline([("model", model)])
    folder = model_folder(tmp_path / "m", model)
    if breakage == "no MLmodel":
        (folder / "MLmodel").unlink()
    elif breakage == "garbage file":
        (folder / "model.skops").write_bytes(b"this is not a model")
    with pytest.raises(ModelFolderError):
        load_trusted_pipeline(folder)
