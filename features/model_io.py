"""Loading a model artifact: only skops, only the types this project trusts.

A model folder as MLflow writes it (``MLmodel`` plus the serialized model) says itself how it
was serialized, and MLflow's own loader obeys: a folder declaring ``cloudpickle`` or ``pickle``
runs its payload while loading, and one declaring skops brings its own list of trusted types.
:func:`load_trusted_pipeline` obeys neither. It reads the declaration only to refuse anything
but the ``sklearn`` flavor serialized with skops, and then loads the file with the project's
allowlist :data:`SKOPS_TRUSTED_TYPES`, ignoring the ``skops_trusted_types`` the folder lists.

Serving and training both load models through this module, so there is one rule in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import skops.io as sio
import yaml
from sklearn.pipeline import Pipeline
from skops.io.exceptions import UntrustedTypesFoundException

SKOPS_TRUSTED_TYPES: list[str] = [
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]
"""Types skops must be told to trust, beyond its defaults, to load the fitted Pipeline.

Exactly what ``skops.io.get_untrusted_types`` reports for a fitted
``training.fit.build_pipeline`` (a test keeps this list minimal and sufficient); training passes
it as ``skops_trusted_types`` when logging to MLflow, and every load uses it, never the list an
artifact declares.
"""

MLMODEL_FILE = "MLmodel"
SKLEARN_FLAVOR = "sklearn"
SKOPS_FORMAT = "skops"
REFUSED = "refused: untrusted serialization"
"""The start of every refusal message; the audit log and ``/v1/model`` repeat it verbatim."""


class UntrustedModelError(ValueError):
    """A model the project refuses to deserialize; the message starts with :data:`REFUSED`.

    The artifact declares another flavor or serialization than skops, or its skops file holds
    types outside :data:`SKOPS_TRUSTED_TYPES`.
    """


class ModelFolderError(ValueError):
    """The folder is not a readable model: no ``MLmodel``, unparseable, or no model file."""


def load_trusted_pipeline(model_dir: Path) -> Pipeline:
    """Load the sklearn Pipeline of a local MLflow model folder (as downloaded), safely.

    Nothing in the folder is deserialized unless its ``MLmodel`` declares the ``sklearn``
    flavor with ``serialization_format: skops``; the model file must lie inside the folder; and
    skops loads it trusting only :data:`SKOPS_TRUSTED_TYPES` (its defaults plus the project's
    list). No pickle, cloudpickle or MLflow loader is ever called.

    Raises:
        UntrustedModelError: Another flavor or serialization is declared, or the skops file holds
            types outside the project's allowlist. The message names what the artifact declared.
        ModelFolderError: ``MLmodel`` or the model file is missing or unreadable, or the file
            does not hold a scikit-learn Pipeline.
    """
    flavor = _sklearn_flavor(model_dir)
    declared = flavor.get("serialization_format")
    if declared != SKOPS_FORMAT:
        # MLflow reads a missing format as pickle.
        shown = repr(declared) if declared is not None else "none (MLflow reads it as pickle)"
        raise UntrustedModelError(
            f"{REFUSED}: the model declares serialization_format {shown}; "
            f"only '{SKOPS_FORMAT}' is loaded"
        )
    model_file = _model_file(model_dir, flavor.get("pickled_model"))
    try:
        model: Any = sio.load(model_file, trusted=SKOPS_TRUSTED_TYPES)
    except UntrustedTypesFoundException as exc:
        raise UntrustedModelError(
            f"{REFUSED}: {model_file.name} holds types outside the project's allowlist: {exc}"
        ) from None
    except Exception as exc:  # a corrupt file fails in zipfile, json, numpy, ...
        raise ModelFolderError(
            f"{model_file.name} is not a readable skops file: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(model, Pipeline):
        raise ModelFolderError(
            f"{model_file.name} holds a {type(model).__name__}, not a scikit-learn Pipeline"
        )
    return model


def _sklearn_flavor(model_dir: Path) -> dict[str, Any]:
    path = model_dir / MLMODEL_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelFolderError(f"no readable {MLMODEL_FILE} file: {exc.strerror}") from None
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModelFolderError(f"{MLMODEL_FILE} is not valid YAML: {exc}") from None
    flavors = meta.get("flavors") if isinstance(meta, dict) else None
    if not isinstance(flavors, dict) or not flavors:
        raise ModelFolderError(f"{MLMODEL_FILE} declares no flavors")
    flavor = flavors.get(SKLEARN_FLAVOR)
    if not isinstance(flavor, dict):
        raise UntrustedModelError(
            f"{REFUSED}: the model declares flavor(s) {sorted(map(str, flavors))}; "
            f"only '{SKLEARN_FLAVOR}' serialized with '{SKOPS_FORMAT}' is loaded"
        )
    return flavor


def _model_file(model_dir: Path, declared: object) -> Path:
    """The declared model file; it must be a file inside ``model_dir``.

    No ``..``, no absolute path, no symbolic link out of the folder.
    """
    if not isinstance(declared, str) or not declared:
        raise ModelFolderError(f"{MLMODEL_FILE} names no model file for the sklearn flavor")
    root = model_dir.resolve()
    path = (root / declared).resolve()
    if not path.is_relative_to(root):
        raise UntrustedModelError(f"{REFUSED}: the model file {declared!r} lies outside its folder")
    if not path.is_file():
        raise ModelFolderError(f"the model file {declared!r} is missing")
    return path
