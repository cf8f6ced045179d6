"""The registered Pipeline's scores without its per-call overhead, built once at load time.

``Pipeline.predict_proba`` of one row takes about 3.4 ms, and almost none of it is the trees:
the ColumnTransformer builds a pandas frame per call (~1.5 ms), the classifier validates its
input and converts it again (~0.6 ms), and the 200 trees are walked one Cython call each
(~0.9 ms). A :class:`FastScorer` reads the fitted parts once and then scores without pandas:

- the one-hot encoding and the numeric passthrough fill one float64 matrix straight from the
  request rows (or a batch frame), in the ColumnTransformer's output order;
- small batches (up to :data:`WALK_MAX_ROWS` rows) walk all trees at once, level by level, over
  the concatenated node arrays; larger ones run scikit-learn's own routine tree by tree, into one
  reused buffer;
- the leaf values are added in scikit-learn's order (baseline, then tree by tree), and the
  classifier's own loss turns them into probabilities, so the scores are the same bits.

Only the Pipeline ``training.fit.build_pipeline`` makes is recognised (explicit-category one-hot
encoding that ignores unknown values, numeric passthrough, a binary HistGradientBoosting
classifier without native categorical splits); anything else raises :class:`NotCompilableError`
and is scored by the Pipeline itself. The serving smoke test also compares both on the version's
input example before using the fast path, and ``tests/serving/test_fast_scorer.py`` proves
identical probabilities on a holdout, nulls and unseen categories included. The classifier's
fitted arrays and its per-tree routine are private scikit-learn names: the pinned version is the
one tested.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting._predictor import _predict_from_raw_data
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from features.contract import DatasetContract

Matrix = npt.NDArray[np.float64]

WALK_MAX_ROWS = 24
"""Up to this many rows, all trees are walked at once in numpy; above it, tree by tree.

The walk's cost grows with rows x trees x depth, the per-tree calls' with the tree count only.
On the 200-tree card-fraud model (depth up to 17), one row takes 0.15 ms walked against 1.1 ms
tree by tree (3.9 ms through the Pipeline); at 24 rows 0.91 against 1.10 ms, and the two cross
near 32 rows.
"""


class NotCompilableError(ValueError):
    """The Pipeline is not the shape the fast path reproduces; the message says what differs."""


@dataclass(frozen=True)
class _Trees:
    """All trees of the classifier as one node table; leaves point at themselves."""

    roots: npt.NDArray[np.intp]
    feature: npt.NDArray[np.intp]
    threshold: Matrix
    missing_left: npt.NDArray[np.bool_]
    left: npt.NDArray[np.intp]
    right: npt.NDArray[np.intp]
    value: Matrix
    depth: int


@dataclass(frozen=True)
class FastScorer:
    """Positive-class probabilities of a fitted Pipeline, equal bit for bit to its own.

    Each call runs on one thread (the server has one model thread, a Dask worker one core).

    Attributes:
        width: Columns of the encoded matrix (the classifier's input).
        numeric: (feature, matrix column) of each passed-through feature.
        categorical: (feature, {category: matrix column}) of each one-hot feature.
    """

    width: int
    numeric: tuple[tuple[str, int], ...]
    categorical: tuple[tuple[str, Mapping[object, int]], ...]
    classifier: HistGradientBoostingClassifier
    trees: _Trees

    def matrix_from_rows(self, rows: Sequence[Mapping[str, object]]) -> Matrix:
        """The encoded matrix of validated request rows (``None`` is a missing value)."""
        matrix = np.zeros((len(rows), self.width), dtype=np.float64)
        for name, column in self.numeric:
            values = [math.nan if row[name] is None else row[name] for row in rows]
            matrix[:, column] = np.array(values, dtype=np.float64)
        for name, columns in self.categorical:
            for index, row in enumerate(rows):
                position = columns.get(row[name])
                if position is not None:
                    matrix[index, position] = 1.0
        return matrix

    def matrix_from_frame(self, frame: pd.DataFrame) -> Matrix:
        """The encoded matrix of a frame holding the contract's features as read from a file.

        Numbers of any numeric dtype (missing as NaN or NA), categories as text with missing
        values; other columns are ignored.
        """
        matrix = np.zeros((len(frame), self.width), dtype=np.float64)
        for name, column in self.numeric:
            matrix[:, column] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        for name, columns in self.categorical:
            # One hash lookup per value; -1 for a missing or unknown value (all zeros).
            codes = pd.Categorical(frame[name], categories=list(columns)).codes
            known = np.flatnonzero(codes >= 0)
            positions = np.fromiter(columns.values(), dtype=np.intp, count=len(columns))
            matrix[known, positions[codes[known]]] = 1.0
        return matrix

    def positive_probabilities(self, matrix: Matrix) -> Matrix:
        """Column 1 of the classifier's ``predict_proba`` on an encoded matrix."""
        walk = len(matrix) <= WALK_MAX_ROWS
        raw = self._walked(matrix) if walk else self._tree_by_tree(matrix)
        probabilities: Matrix = self.classifier._loss.predict_proba(raw)
        return probabilities[:, 1]

    def _walked(self, matrix: Matrix) -> Matrix:
        trees = self.trees
        n_rows = len(matrix)
        node = np.broadcast_to(trees.roots, (n_rows, len(trees.roots))).copy()
        row = np.arange(n_rows)[:, None]
        for _ in range(trees.depth):
            x = matrix[row, trees.feature[node]]
            go_left = np.where(np.isnan(x), trees.missing_left[node], x <= trees.threshold[node])
            node = np.where(go_left, trees.left[node], trees.right[node])
        baseline = np.broadcast_to(self.classifier._baseline_prediction, (n_rows, 1))
        # cumsum adds left to right, as scikit-learn's += per tree does: the same rounding.
        summed = np.cumsum(np.concatenate([baseline, trees.value[node]], axis=1), axis=1)
        return np.asfortranarray(summed[:, -1:])

    def _tree_by_tree(self, matrix: Matrix) -> Matrix:
        """scikit-learn's ``_predict_iterations``, with one output buffer for all trees.

        scikit-learn allocates a fresh array per tree. Where glibc hands such arrays out as new
        mappings, as it does in a Dask worker (which sets ``MALLOC_TRIM_THRESHOLD_``), every tree
        then pays a page fault per 4 KiB of rows: 20 % of the time on 250,000 rows.
        """
        classifier = self.classifier
        raw = np.zeros((len(matrix), 1), dtype=classifier._baseline_prediction.dtype, order="F")
        raw += classifier._baseline_prediction
        known_categories, feature_map = classifier._bin_mapper.make_known_categories_bitsets()
        summed, leaves = raw[:, 0], np.empty(len(matrix), dtype=raw.dtype)
        for (predictor,) in classifier._predictors:
            _predict_from_raw_data(
                predictor.nodes,
                matrix,
                predictor.raw_left_cat_bitsets,
                known_categories,
                feature_map,
                1,
                leaves,
            )
            summed += leaves  # scikit-learn's own `raw_predictions[:, k] += predict(X)`
        return raw


def build_fast_scorer(pipeline: Any, contract: DatasetContract) -> FastScorer:
    """The :class:`FastScorer` of a fitted ``build_pipeline`` Pipeline for ``contract``.

    Raises:
        NotCompilableError: The Pipeline has other steps, encoders or classifier settings than
            the fast path reproduces; the message names the first difference.
    """
    columns, classifier = _parts(pipeline)
    positions = {str(name): index for index, name in enumerate(columns.get_feature_names_out())}
    names_in = [str(name) for name in getattr(classifier, "feature_names_in_", [])]
    if names_in != list(positions):
        raise NotCompilableError("the classifier's input columns differ from the encoder's output")
    numeric: list[tuple[str, int]] = []
    categorical: list[tuple[str, Mapping[object, int]]] = []
    for _, transformer, features in columns.transformers_:
        if transformer == "drop":
            continue
        if isinstance(transformer, OneHotEncoder):
            _check_encoder(transformer)
            names = iter(transformer.get_feature_names_out())  # feature by feature, in order
            for feature, categories in zip(features, transformer.categories_, strict=True):
                mapping = {c: positions[str(next(names))] for c in categories}
                categorical.append((feature, mapping))
        elif transformer == "passthrough" or _is_identity(transformer):
            numeric.extend((feature, positions[feature]) for feature in features)
        else:
            raise NotCompilableError(f"unsupported column transformer {type(transformer).__name__}")
    encoded = {feature for feature, _ in numeric} | {feature for feature, _ in categorical}
    if encoded != set(contract.features):
        raise NotCompilableError("the encoder's input columns differ from the contract's features")
    return FastScorer(
        width=len(positions),
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        classifier=classifier,
        trees=_tree_table(classifier),
    )


def _parts(pipeline: Any) -> tuple[ColumnTransformer, HistGradientBoostingClassifier]:
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise NotCompilableError("not a two-step scikit-learn Pipeline")
    columns, classifier = (step for _, step in pipeline.steps)
    if not isinstance(columns, ColumnTransformer) or not hasattr(columns, "transformers_"):
        raise NotCompilableError("the first step is not a fitted ColumnTransformer")
    if not isinstance(classifier, HistGradientBoostingClassifier):
        raise NotCompilableError("the last step is not a HistGradientBoostingClassifier")
    if classifier._preprocessor is not None or classifier.n_trees_per_iteration_ != 1:
        raise NotCompilableError("the classifier has native categories or more than two classes")
    return columns, classifier


def _check_encoder(encoder: OneHotEncoder) -> None:
    if encoder.handle_unknown != "ignore" or encoder.drop_idx_ is not None:
        raise NotCompilableError("one-hot encoding that drops or refuses categories")
    if encoder._infrequent_enabled:
        raise NotCompilableError("one-hot encoding with infrequent categories")


def _is_identity(transformer: object) -> bool:
    return isinstance(transformer, FunctionTransformer) and transformer.func is None


def _tree_table(classifier: HistGradientBoostingClassifier) -> _Trees:
    tables = [predictor.nodes for (predictor,) in classifier._predictors]
    if any(table["is_categorical"].any() for table in tables):
        raise NotCompilableError("the classifier has categorical splits")
    offsets = np.cumsum([0] + [len(table) for table in tables[:-1]]).astype(np.intp)
    nodes = np.concatenate(tables)
    sizes = [len(table) for table in tables]
    shift = np.repeat(offsets, sizes)
    leaf = nodes["is_leaf"].astype(bool)
    itself = np.arange(len(nodes), dtype=np.intp)
    left = np.where(leaf, itself, nodes["left"].astype(np.intp) + shift)
    right = np.where(leaf, itself, nodes["right"].astype(np.intp) + shift)
    return _Trees(
        roots=offsets,
        feature=nodes["feature_idx"].astype(np.intp),
        threshold=nodes["num_threshold"].astype(np.float64),
        missing_left=nodes["missing_go_to_left"].astype(bool),
        left=left,
        right=right,
        value=nodes["value"].astype(np.float64),
        depth=int(nodes["depth"].max()),
    )
