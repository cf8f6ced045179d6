"""Which model version serves, and the rules for replacing it while requests keep flowing.

The store holds ONE reference to an immutable :class:`LoadedModel`. A request reads that
reference once and scores with it to the end, so replacing the reference (an atomic assignment)
never changes the model under a request in flight. :meth:`ModelStore.refresh` asks a
:class:`ModelSource` which version the alias points to and, when it changed, fetches that version
and smoke-tests it before swapping it in:

- the ``threshold`` tag parses as a number in [0, 1];
- the ``contract_hash`` tag equals the serving contract's hash (the request schema and the
  model's input were derived from the same contract);
- the input example logged with the version has exactly the contract's feature columns, and
  ``predict_proba`` on it (built into a frame exactly as requests are) returns one finite
  probability in [0, 1] per row.

A version that fails to load or fails the smoke test is not swapped in: the current model keeps
serving and :attr:`ModelStore.last_swap_error` says why. That version is not retried while the
alias keeps pointing at it (no reload every poll); a newer version, or the same one after the
alias has pointed elsewhere, is tried again. If the alias disappears, the current model keeps
serving (removing an alias is not a command to stop scoring).

The store does no I/O itself: the source does (see :mod:`serving.mlflow_source`), which keeps
the swap rules testable with an in-memory source.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from features.contract import DatasetContract
from features.vocabulary import CONTRACT_HASH_TAG, THRESHOLD_TAG
from serving.fast_scorer import WALK_MAX_ROWS, FastScorer, NotCompilableError, build_fast_scorer
from serving.scoring import (
    Classifier,
    fast_probabilities,
    feature_frame,
    positive_probabilities,
)

logger = logging.getLogger(__name__)

MAX_REASON_CHARS = 600


class ModelLoadError(RuntimeError):
    """A model version could not be fetched or deserialized."""


class SourceUnavailableError(RuntimeError):
    """The registry could not be asked which version the alias points to (e.g. unreachable)."""


class SmokeTestError(ValueError):
    """A loaded version is unfit to serve; the message says which check failed."""


def utc_now() -> dt.datetime:
    """Current UTC time as a tz-naive datetime (the project's time convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Candidate:
    """A model version fetched from the registry, not yet trusted to serve.

    Attributes:
        version: Registry version number, as a string.
        model: The deserialized sklearn Pipeline.
        input_example: The rows logged with the model (None if none was logged).
        tags: The version's tags (threshold, contract_hash, training window, ...).
        metrics: The training run's metrics.
        run_id: The training run, if any.
    """

    version: str
    model: Classifier
    input_example: pd.DataFrame | None
    tags: Mapping[str, str]
    metrics: Mapping[str, float]
    run_id: str | None


@dataclass(frozen=True)
class LoadedModel:
    """A version that passed the smoke test: everything a request needs, never mutated."""

    name: str
    version: str
    model: Classifier
    threshold: float
    run_id: str | None
    tags: Mapping[str, str]
    metrics: Mapping[str, float]
    loaded_at: dt.datetime
    fast: FastScorer | None = None
    """The version's fast path (:mod:`serving.fast_scorer`), None when the Pipeline has none."""

    def tag(self, key: str) -> str | None:
        """A version tag, or None when the version does not carry it."""
        return self.tags.get(key)

    @property
    def scored_by(self) -> Literal["fast path", "predict_proba"]:
        """Which path computes this version's scores (``/v1/model`` reports it)."""
        return "predict_proba" if self.fast is None else "fast path"

    def scores_inline(self, rows: int) -> bool:
        """Whether scoring ``rows`` rows costs less than handing them to the model thread.

        True for the fast path's walk of all trees at once (at most ``WALK_MAX_ROWS`` rows;
        0.15 ms for one row), which holds the GIL anyway; the batcher then runs it on the loop.
        """
        return self.fast is not None and rows <= WALK_MAX_ROWS


@dataclass(frozen=True)
class SwapFailure:
    """A version that was not swapped in: which one, why, and when it was tried."""

    version: str
    reason: str
    at: dt.datetime


class ModelSource(Protocol):
    """Where versions come from (the MLflow registry in production, a dict in tests)."""

    @property
    def model_name(self) -> str:
        """Registered model name."""
        ...

    def alias_version(self) -> str | None:
        """The version the serving alias points to, or None if there is no such alias yet.

        Raises:
            SourceUnavailableError: The registry could not be asked.
        """
        ...

    def fetch(self, version: str) -> Candidate:
        """Load one version with its metadata.

        Raises:
            ModelLoadError: The version cannot be loaded (missing or corrupt artifact, ...).
        """
        ...


class RefreshResult(StrEnum):
    """What one :meth:`ModelStore.refresh` did."""

    SWAPPED = "swapped"
    UNCHANGED = "unchanged"
    NO_ALIAS = "no_alias"
    REJECTED = "rejected"
    SKIPPED_REJECTED = "skipped_rejected"
    LOOKUP_FAILED = "lookup_failed"


@dataclass(frozen=True)
class RefreshOutcome:
    """The result of one refresh, with the versions involved and the reason of a failure."""

    result: RefreshResult
    version: str | None = None
    previous_version: str | None = None
    reason: str | None = None


def parse_threshold(tags: Mapping[str, str]) -> float:
    """The decision threshold from the version's ``threshold`` tag.

    Raises:
        SmokeTestError: The tag is missing, not a number, or outside [0, 1].
    """
    raw = tags.get(THRESHOLD_TAG)
    if raw is None:
        raise SmokeTestError(f"version has no '{THRESHOLD_TAG}' tag")
    try:
        value = float(raw)
    except ValueError:
        raise SmokeTestError(f"tag '{THRESHOLD_TAG}' is not a number: {raw!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise SmokeTestError(f"tag '{THRESHOLD_TAG}' must be in [0, 1], got {raw!r}")
    return value


def _example_rows(example: pd.DataFrame, contract: DatasetContract) -> list[dict[str, object]]:
    columns = [str(c) for c in example.columns]
    expected = list(contract.features)
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing or extra:
        raise SmokeTestError(
            "input example columns differ from the contract's features "
            f"(missing: {missing or 'none'}; unexpected: {extra or 'none'})"
        )
    rows: list[dict[str, object]] = example.to_dict(orient="records")  # type: ignore[assignment]
    return rows


def smoke_test(
    candidate: Candidate, model_name: str, contract: DatasetContract, loaded_at: dt.datetime
) -> LoadedModel:
    """Check that a candidate can serve requests of this contract; return it as a LoadedModel.

    Raises:
        SmokeTestError: A check failed; the message says which (see the module docstring).
    """
    threshold = parse_threshold(candidate.tags)
    expected_hash = contract.content_hash()
    model_hash = candidate.tags.get(CONTRACT_HASH_TAG)
    if model_hash is None:
        raise SmokeTestError(f"version has no '{CONTRACT_HASH_TAG}' tag")
    if model_hash != expected_hash:
        raise SmokeTestError(
            f"version was trained on contract {model_hash[:12]}, the server serves contract "
            f"{expected_hash[:12]} ('{contract.name}'); restart the server with the model's "
            "contract or retrain on this one"
        )
    example = candidate.input_example
    if example is None or len(example) == 0:
        raise SmokeTestError("version has no input example to smoke-test on")
    rows = _example_rows(example, contract)
    try:
        frame = feature_frame(rows, contract)
        expected = positive_probabilities(candidate.model, frame)
    except Exception as exc:  # any failure of foreign model code disqualifies the version
        raise SmokeTestError(
            f"predict_proba failed on the input example: {type(exc).__name__}: {exc}"
        ) from exc
    return LoadedModel(
        name=model_name,
        version=candidate.version,
        model=candidate.model,
        threshold=threshold,
        run_id=candidate.run_id,
        tags=MappingProxyType(dict(candidate.tags)),
        metrics=MappingProxyType({k: float(v) for k, v in candidate.metrics.items()}),
        loaded_at=loaded_at,
        fast=checked_fast_scorer(candidate, contract, rows, expected),
    )


def checked_fast_scorer(
    candidate: Candidate,
    contract: DatasetContract,
    rows: list[dict[str, object]],
    expected: np.ndarray[Any, Any],
) -> FastScorer | None:
    """The version's fast path if it scores the input example exactly as the Pipeline did.

    A Pipeline of another shape, or a fast path whose scores differ by a single bit (e.g. after
    a scikit-learn upgrade changed the fitted arrays), leaves the version on ``predict_proba``;
    the log says why.
    """
    # Repeated past WALK_MAX_ROWS, the example also exercises the tree-by-tree path.
    copies = WALK_MAX_ROWS // len(rows) + 1
    try:
        fast = build_fast_scorer(candidate.model, contract)
        scores = np.concatenate(
            [fast_probabilities(fast, rows), fast_probabilities(fast, rows * copies)]
        )
    except NotCompilableError as exc:
        logger.info("version %s is scored by its Pipeline: %s", candidate.version, exc)
        return None
    except Exception as exc:  # foreign model internals: fall back, never fail the version
        logger.warning(
            "version %s: no fast path (%s: %s)", candidate.version, type(exc).__name__, exc
        )
        return None
    if not np.array_equal(scores, np.tile(expected, copies + 1)):
        logger.warning(
            "version %s: the fast path's scores differ from predict_proba on the input "
            "example; the Pipeline scores it",
            candidate.version,
        )
        return None
    return fast


@dataclass
class _State:
    current: LoadedModel | None = None
    alias_version: str | None = None
    last_swap_error: SwapFailure | None = None
    rejected_version: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelStore:
    """Holds the serving model and decides, on each refresh, whether to replace it.

    Thread-safe: refreshes are serialized; readers only read one attribute.
    """

    def __init__(
        self,
        source: ModelSource,
        contract: DatasetContract,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._source = source
        self._contract = contract
        self._clock = clock
        self._state = _State()

    @property
    def model_name(self) -> str:
        """Registered model name of the source."""
        return self._source.model_name

    @property
    def current(self) -> LoadedModel | None:
        """The serving model; read it ONCE per request and use that reference throughout."""
        return self._state.current

    @property
    def alias_version(self) -> str | None:
        """The version the alias pointed to at the last successful lookup."""
        return self._state.alias_version

    @property
    def last_swap_error(self) -> SwapFailure | None:
        """The last version rejected since the current model was swapped in, else None."""
        return self._state.last_swap_error

    def refresh(self) -> RefreshOutcome:
        """Look up the alias and swap in its version if it is new and passes the smoke test.

        Never raises for registry or model problems: they are returned as the outcome (and
        remembered in :attr:`last_swap_error` for a rejected version).
        """
        state = self._state
        with state.lock:
            previous = state.current.version if state.current else None
            try:
                target = self._source.alias_version()
            except SourceUnavailableError as exc:
                logger.warning("alias lookup failed for '%s': %s", self.model_name, exc)
                return RefreshOutcome(
                    RefreshResult.LOOKUP_FAILED, previous_version=previous, reason=str(exc)
                )
            state.alias_version = target
            if target is None:
                return RefreshOutcome(RefreshResult.NO_ALIAS, previous_version=previous)
            if target == previous:
                state.rejected_version = None
                return RefreshOutcome(RefreshResult.UNCHANGED, target, previous)
            if target == state.rejected_version:
                return RefreshOutcome(
                    RefreshResult.SKIPPED_REJECTED,
                    target,
                    previous,
                    state.last_swap_error.reason if state.last_swap_error else None,
                )
            return self._try_swap(target, previous)

    def _try_swap(self, target: str, previous: str | None) -> RefreshOutcome:
        state = self._state
        try:
            candidate = self._source.fetch(target)
            loaded = smoke_test(candidate, self.model_name, self._contract, self._clock())
        except Exception as exc:  # whatever goes wrong, the current model keeps serving
            if isinstance(exc, ModelLoadError):
                kind = "load failed"
            elif isinstance(exc, SmokeTestError):
                kind = "smoke test failed"
            else:
                kind = f"unexpected {type(exc).__name__}"
            reason = f"{kind}: {str(exc)[:MAX_REASON_CHARS]}"
            state.last_swap_error = SwapFailure(version=target, reason=reason, at=self._clock())
            state.rejected_version = target
            logger.warning(
                "model '%s' version %s NOT swapped in (still serving %s): %s",
                self.model_name,
                target,
                previous or "nothing",
                reason,
            )
            return RefreshOutcome(RefreshResult.REJECTED, target, previous, reason)
        state.current = loaded  # the atomic swap: one reference replaced
        state.last_swap_error = None
        state.rejected_version = None
        logger.info(
            "model '%s' swapped: version %s -> %s", self.model_name, previous or "none", target
        )
        return RefreshOutcome(RefreshResult.SWAPPED, target, previous)
