"""The MLflow adapter: log a training run, register its model, move aliases, tag versions.

This is the only training module that does I/O against MLflow. It works the same against the
default SQLite store under the run home and against a tracking server URI.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import sklearn
import skops
from mlflow import MlflowClient
from mlflow.data.pandas_dataset import from_pandas
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from features.model_io import SKOPS_TRUSTED_TYPES, ModelFolderError, load_trusted_pipeline
from features.vocabulary import WARNINGS_TAG, warnings_from_tag

REFERENCE_ARTIFACT = "reference/reference.parquet"
MODEL_CARD_ARTIFACT = "model_card.md"
SEGMENTS_ARTIFACT = "metrics/segments.json"


class RegistryError(RuntimeError):
    """The registry does not hold what an operation needs (no such alias, version or run)."""


@dataclass(frozen=True)
class RegisteredVersion:
    """A model version just registered, and the run that produced it."""

    name: str
    version: str
    run_id: str
    model_uri: str


@dataclass(frozen=True)
class RunInput:
    """A frame a training run used, logged as an MLflow dataset input.

    MLflow records its schema, a profile and a digest, not the rows; ``source`` says where the
    rows live (the validated batches).
    """

    context: str
    name: str
    frame: pd.DataFrame
    source: Path
    target: str

    def dataset(self) -> Any:
        """The MLflow dataset of this input."""
        with warnings.catch_warnings():
            # A local folder could be read as either of MLflow's two local source kinds; both
            # record the same path, and MLflow warns that it picked one.
            warnings.filterwarnings("ignore", message=".*interpreted in multiple ways")
            return from_pandas(
                self.frame, source=str(self.source), targets=self.target, name=self.name
            )


def connect(tracking_uri: str) -> MlflowClient:
    """Point MLflow (fluent API and registry) at ``tracking_uri`` and return a client."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_experiment(client: MlflowClient, name: str, artifact_root: Path | None) -> str:
    """Return the experiment id for ``name``, creating it (artifacts under ``artifact_root``).

    With a SQLite store MLflow would otherwise put artifacts in ``./mlruns`` of whatever folder
    the command runs from; pinning the location keeps the whole run under its home folder.
    """
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = (artifact_root / name).resolve().as_uri() if artifact_root else None
    return str(client.create_experiment(name, artifact_location=location))


def pip_requirements() -> list[str]:
    """The model's runtime requirements, stated exactly instead of inferred.

    Inference would spend seconds exporting the whole project lock; the model needs only these.
    """
    return [
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={skops.__version__}",
        f"pandas=={pd.__version__}",
    ]


def log_training_run(
    client: MlflowClient,
    *,
    experiment_id: str,
    model_name: str,
    pipeline: Pipeline,
    features: pd.DataFrame,
    params: Mapping[str, Any],
    metrics: Mapping[str, float | None],
    segments: Mapping[str, Any],
    run_tags: Mapping[str, str],
    version_tags: Mapping[str, str],
    reference: pd.DataFrame,
    run_name: str,
    inputs: Sequence[RunInput] = (),
    reached: Callable[[str], None] = lambda step: None,
) -> RegisteredVersion:
    """Log one training run and register its model as a new version of ``model_name``.

    ``version_tags`` are set on the new version: pass
    ``training.candidate.candidate_tags(...)`` (threshold, contract hash, windows, and the
    candidate's warnings under ``WARNINGS_TAG``). ``features`` is a sample of the model's
    input (its first rows become the input example and, with the predicted probabilities, the
    signature). ``reference`` (the candidate's reference frame: holdout rows with their 0/1
    label and scores) is stored for monitoring and for the promotion gate's comparison.
    ``inputs`` become the run's dataset inputs (MLflow's Datasets view). ``reached`` is called
    with the name of each step as it completes (``run_started``, ``version_registered``,
    ``run_finished``): the caller's fault-injection hook.
    """
    example = features.head(5)
    with warnings.catch_warnings():
        # MLflow hints that integer columns cannot hold missing values; the contract
        # declares which columns are nullable and those are floats, so the hint is noise.
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(example, pipeline.predict_proba(example)[:, 1])
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags=dict(run_tags)
    ) as run:
        for run_input in inputs:
            mlflow.log_input(run_input.dataset(), context=run_input.context)
        mlflow.log_params({k: _param(v) for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        reached("run_started")
        mlflow.log_dict(dict(segments), SEGMENTS_ARTIFACT)
        _log_frame(reference, REFERENCE_ARTIFACT)
        with warnings.catch_warnings(), _registration_unannounced():
            # MLflow hints that integer columns cannot hold missing values; the contract
            # declares which columns are nullable and those are floats, so the hint is noise.
            warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
            info = mlflow.sklearn.log_model(
                pipeline,
                name="model",
                serialization_format="skops",
                skops_trusted_types=SKOPS_TRUSTED_TYPES,
                signature=signature,
                input_example=example,
                registered_model_name=model_name,
                pip_requirements=pip_requirements(),
                # `mlflow models serve` and pyfunc users get the probability of the positive
                # label, as our API does, rather than a class at a 0.5 threshold nobody chose.
                pyfunc_predict_fn="predict_proba",
            )
        run_id = run.info.run_id
        reached("version_registered")
    reached("run_finished")
    version = str(info.registered_model_version)
    tag_version(client, model_name, version, version_tags)
    return RegisteredVersion(
        name=model_name, version=version, run_id=run_id, model_uri=f"models:/{model_name}/{version}"
    )


#: What MLflow prints to stderr on every registration; the callers report the version instead.
_REGISTRATION_CHATTER = re.compile(
    r"^(Successfully registered model|Registered model .* already exists|Created version)\b"
)


@contextlib.contextmanager
def _registration_unannounced() -> Iterator[None]:
    """Drop MLflow's registration announcements from stderr; pass everything else through.

    (MLflow's own switch for its stream is turned back on by its internals mid-call, so the
    lines are filtered instead.)
    """
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            yield
    finally:
        kept = [
            line
            for line in captured.getvalue().splitlines(keepends=True)
            if not _REGISTRATION_CHATTER.match(line)
        ]
        sys.stderr.write("".join(kept))


def log_model_card(client: MlflowClient, run_id: str, markdown: str) -> None:
    """Attach the rendered model card to the version's run."""
    client.log_text(run_id, markdown, MODEL_CARD_ARTIFACT)


def tag_version(client: MlflowClient, name: str, version: str, tags: Mapping[str, object]) -> None:
    """Set string tags on a model version (values are stringified; dicts and lists become JSON)."""
    for key, value in tags.items():
        is_json = isinstance(value, dict | list | tuple)
        text = json.dumps(value, default=str) if is_json else str(value)
        client.set_model_version_tag(name, version, key, text)


def describe_version(client: MlflowClient, name: str, version: str, text: str) -> None:
    """Set the version's description (the first thing the MLflow UI shows on its page)."""
    client.update_model_version(name, version, description=text)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points to, or None if the model or the alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def set_alias(client: MlflowClient, name: str, alias: str, version: str) -> None:
    """Point ``alias`` at ``version`` (MLflow moves it atomically)."""
    client.set_registered_model_alias(name, alias, version)


def version_tags(client: MlflowClient, name: str, version: str) -> dict[str, str]:
    """All tags of a model version; RegistryError if it does not exist."""
    try:
        return dict(client.get_model_version(name, version).tags)
    except MlflowException as exc:
        raise RegistryError(f"model '{name}' has no version {version}: {exc.message}") from None


def version_warnings(client: MlflowClient, name: str, version: str) -> tuple[str, ...]:
    """The warnings its training run recorded on a version (``WARNINGS_TAG``, a JSON list).

    A version registered without the tag has none. Pass them to
    ``training.candidate.scorecard(..., warnings=...)`` so the gate's decision repeats them.

    Raises:
        RegistryError: the version does not exist, or its tag is not a JSON list of text.
    """
    return parse_warnings(version_tags(client, name, version).get(WARNINGS_TAG))


def parse_warnings(text: str | None) -> tuple[str, ...]:
    """The warnings of a ``WARNINGS_TAG`` value; none for a missing tag.

    Raises:
        RegistryError: the value is not a JSON list of text.
    """
    warnings = warnings_from_tag(text)
    if warnings is None:
        assert text is not None  # a missing tag reads as no warning
        raise RegistryError(f"tag '{WARNINGS_TAG}' is not a JSON list of text: {text[:200]!r}")
    return warnings


def version_run_id(client: MlflowClient, name: str, version: str) -> str:
    """The id of the run that produced a version."""
    try:
        run_id = client.get_model_version(name, version).run_id
    except MlflowException as exc:
        raise RegistryError(f"model '{name}' has no version {version}: {exc.message}") from None
    if not run_id:
        raise RegistryError(f"model '{name}' version {version} has no run")
    return str(run_id)


def load_pipeline(name: str, version: str) -> Pipeline:
    """Load a registered version as the sklearn Pipeline it was logged as, trusting only skops.

    The version's artifacts are downloaded from the registry MLflow currently points at (see
    :func:`connect`) and loaded by ``features.model_io.load_trusted_pipeline``: a version
    serialized any other way is refused, never deserialized.

    Raises:
        UntrustedModelError: The version declares another flavor or serialization than skops, or
            holds types outside the project's allowlist (propagated unchanged).
        RegistryError: The version or its artifacts cannot be downloaded or read.
    """
    with tempfile.TemporaryDirectory(prefix="registry-model-") as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=tmp
            )
        except (MlflowException, OSError) as exc:
            message = exc.message if isinstance(exc, MlflowException) else str(exc)
            raise RegistryError(
                f"cannot load model '{name}' version {version}: {message}"
            ) from None
        try:
            return load_trusted_pipeline(Path(local))
        except ModelFolderError as exc:
            raise RegistryError(f"cannot load model '{name}' version {version}: {exc}") from None


def load_reference(client: MlflowClient, run_id: str) -> pd.DataFrame:
    """The holdout rows (with the model's scores) stored with a training run."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, REFERENCE_ARTIFACT, tmp)
        except (MlflowException, OSError) as exc:
            raise RegistryError(f"run {run_id} has no {REFERENCE_ARTIFACT}: {exc}") from None
        return pd.read_parquet(local)


def _log_frame(frame: pd.DataFrame, artifact_path: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / Path(artifact_path).name
        frame.to_parquet(target, index=False)
        mlflow.log_artifact(str(target), artifact_path=str(Path(artifact_path).parent))


def _param(value: Any) -> str:
    return json.dumps(value, default=str) if isinstance(value, dict | list | tuple) else str(value)
