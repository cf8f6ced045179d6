"""The serving benchmark's second peer: BentoML serving the champion's skops file, batched.

Runs in its own virtual environment (BentoML pinned, the project's scikit-learn, skops, numpy and
pandas versions; :mod:`benchmarks.peers` builds it), never in the project's: of this repository
it imports only the variable names of :mod:`benchmarks.peers`. What to serve comes from the
environment:

- ``BENCH_MODEL_FILE``: the ``model.skops`` file of the champion version, as downloaded from
  MLflow, the same file ``lifecycle serve`` loads;
- ``BENCH_SKOPS_TRUSTED_TYPES``: JSON list, the project's ``SKOPS_TRUSTED_TYPES``;
- ``BENCH_FEATURES``: JSON list of the feature columns, in the model's order.

``POST /predict`` with ``{"rows": [{feature: value, ...}, ...]}`` answers the positive-class
probability of each row (``predict_proba`` column 1), as a JSON list. The endpoint is batchable:
BentoML's adaptive batching concatenates the ``rows`` of concurrent requests into one model call
(at most ``MAX_BATCH_SIZE`` rows, waiting at most ``MAX_LATENCY_MS``, the settings the issue
measured) and splits the answers back. One worker, as every server of the benchmark.

Started by ``bentoml serve benchmarks.bentoml_service:ProbaService`` from the repository root.
"""

from __future__ import annotations

import json
import os
from typing import Any

import bentoml  # type: ignore[import-not-found]
import pandas as pd
import skops.io as sio

from benchmarks.peers import (
    FEATURES_ENV,
    MAX_BATCH_SIZE,
    MAX_LATENCY_MS,
    MODEL_FILE_ENV,
    TRUSTED_TYPES_ENV,
)


@bentoml.service(workers=1, traffic={"timeout": 60})
class ProbaService:
    """The skops Pipeline, loaded once per worker with only the project's trusted types."""

    def __init__(self) -> None:
        """Load the model file the environment names (a KeyError names a missing variable)."""
        trusted = json.loads(os.environ[TRUSTED_TYPES_ENV])
        self.model: Any = sio.load(os.environ[MODEL_FILE_ENV], trusted=trusted)
        self.features: list[str] = json.loads(os.environ[FEATURES_ENV])

    @bentoml.api(  # type: ignore[untyped-decorator]
        batchable=True, batch_dim=0, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS
    )
    def predict(self, rows: list[dict[str, Any]]) -> list[float]:
        """One ``predict_proba`` call for every row BentoML gathered; column 1 of each."""
        frame = pd.DataFrame.from_records(rows, columns=self.features)
        return [float(p) for p in self.model.predict_proba(frame)[:, 1]]
