"""The one settings tree, built at each entry point (CLI command, flow, server) and passed down.

Each stage owns its section's type and defaults; this module only composes them, so every
threshold is defined once, beside the code that uses it:

========================  ==========================================  =======================
section                   type                                        e.g.
========================  ==========================================  =======================
``training``              `training.config.TrainingConfig`            ``holdout_days``
``promotion``             `training.gate.GatePolicy`                  ``margin``
``serving``               `serving.config.ServingSettings`            ``port``, ``api_key``
``monitoring``            `monitoring.config.MonitoringConfig`        ``min_window_rows``
``retraining``            `monitoring.policy.RetrainPolicy`           ``cooldown_windows``
========================  ==========================================  =======================

Sources, highest precedence first: explicit overrides (CLI flags), ``LIFECYCLE_*`` environment
variables (``__`` between a section and its key: ``LIFECYCLE_PROMOTION__MARGIN=0.01``), a TOML
config file (``--config``, ``LIFECYCLE_CONFIG``, else ``./lifecycle.toml`` when it exists; one
table per section), then the defaults. What is specific to a use case (columns, costs, guards,
model parameters, names) is not a setting: it lives in the dataset contract.

Nothing here reads the environment or the disk at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from monitoring.config import MonitoringConfig
from monitoring.policy import RetrainPolicy
from serving.config import ServingSettings
from training.config import TrainingConfig
from training.gate import GatePolicy

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = REPO_ROOT / "data" / "contracts"
DEFAULT_CONTRACT = CONTRACTS_DIR / "card_fraud.yaml"
ENV_PREFIX = "LIFECYCLE_"
NESTED_DELIMITER = "__"
#: Environment variables with the prefix that are not settings themselves.
CONFIG_FILE_VARIABLE = "LIFECYCLE_CONFIG"
DEFAULT_CONFIG_FILE = Path("lifecycle.toml")

_config_file: ContextVar[Path | None] = ContextVar("lifecycle_config_file", default=None)


class SettingsError(ValueError):
    """The settings cannot be built; the message names the variable, file or key to fix."""


class _ConfigFileSource(PydanticBaseSettingsSource):
    """The TOML config file chosen by `load_settings` (nothing when there is none)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` returns the whole file at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get()
        if path is None:
            return {}
        return TomlConfigSettingsSource(self.settings_cls, toml_file=path)()


class Settings(BaseSettings):
    """Where the run lives, which contract it follows, and every stage's thresholds."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        frozen=True,
        extra="forbid",
    )

    home: Path = Field(
        default=Path(".lifecycle"),
        description="Folder holding every file a run writes (data, MLflow store, reports, logs).",
    )
    contract: Path = Field(
        default=DEFAULT_CONTRACT, description="Dataset contract YAML: the use case's plug-in."
    )
    tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI; default: a SQLite store under the home folder.",
    )
    dask_address: str | None = Field(
        default=None,
        description=(
            "Dask scheduler address for batch scoring (e.g. tcp://scheduler:8786); "
            "default: a local cluster"
        ),
    )
    log_database_url: str | None = Field(
        default=None,
        description=(
            "libpq URL of the PostgreSQL database holding the prediction and label logs "
            "(keep the password out of it: libpq reads PGPASSWORD or ~/.pgpass); "
            "default: JSON lines under the home folder."
        ),
    )
    training: TrainingConfig = TrainingConfig()
    promotion: GatePolicy = GatePolicy()
    serving: ServingSettings = ServingSettings()
    monitoring: MonitoringConfig = MonitoringConfig()
    retraining: RetrainPolicy = RetrainPolicy()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then the environment, then the config file, then the defaults."""
        return init_settings, env_settings, _ConfigFileSource(settings_cls)

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        object.__setattr__(self, "home", self.home.expanduser().resolve())
        object.__setattr__(self, "contract", self.contract.expanduser().resolve())
        return self

    @property
    def paths(self) -> HomeLayout:
        """The folders and files under the home folder."""
        return HomeLayout(self.home)

    @property
    def resolved_tracking_uri(self) -> str:
        """The MLflow URI in use: the configured one, else SQLite under the home folder."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{self.paths.mlflow_db}"


@dataclass(frozen=True)
class HomeLayout:
    """Where each kind of state lives under the home folder; computing a path creates nothing."""

    home: Path

    @property
    def raw(self) -> Path:
        """Immutable raw batches, one Parquet file per day (generated or ingested)."""
        return self.home / "data" / "raw"

    @property
    def ingest(self) -> Path:
        """What each ingested source file became: its report and any rows that did not parse."""
        return self.home / "data" / "ingest"

    @property
    def validated(self) -> Path:
        """Copies of batches that passed the validation gate."""
        return self.home / "data" / "validated"

    @property
    def quarantine(self) -> Path:
        """Rejected batches, each beside the validation result that rejected it."""
        return self.home / "data" / "quarantine"

    @property
    def predictions(self) -> Path:
        """The prediction log written by the server (JSON lines, one file per day)."""
        return self.home / "predictions"

    @property
    def labels(self) -> Path:
        """Delayed labels delivered after scoring (JSON lines)."""
        return self.home / "labels"

    @property
    def monitoring(self) -> Path:
        """Evidently reports and summaries, one folder per window."""
        return self.home / "monitoring"

    @property
    def gx(self) -> Path:
        """Great Expectations file context (suites, Data Docs)."""
        return self.home / "gx"

    @property
    def mlflow(self) -> Path:
        """MLflow SQLite store and artifacts."""
        return self.home / "mlflow"

    @property
    def mlflow_db(self) -> Path:
        """The MLflow SQLite backend store."""
        return self.mlflow / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        """The MLflow artifact root for experiments this project creates."""
        return self.mlflow / "artifacts"

    @property
    def prefect(self) -> Path:
        """PREFECT_HOME for the local API."""
        return self.home / "prefect"

    @property
    def audit_log(self) -> Path:
        """Every pipeline decision, one JSON object per line."""
        return self.home / "audit.jsonl"

    @property
    def demo(self) -> Path:
        """The demo's summary and timeline."""
        return self.home / "demo"


def _setting_names(model: type[BaseModel], prefix: str) -> Iterator[str]:
    """Every environment variable name that sets a field of ``model`` or one of its sections."""
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name}".upper()
        yield variable
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _setting_names(annotation, f"{prefix}{name}{NESTED_DELIMITER}")


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``LIFECYCLE_*`` variables that set nothing, each with the closest real name if any.

    A misspelt or outdated variable would otherwise be ignored without a word.
    """
    known = set(_setting_names(Settings, ENV_PREFIX)) | {CONFIG_FILE_VARIABLE, "LIFECYCLE_FAULT"}
    problems = []
    for variable in sorted(k for k in environ if k.upper().startswith(ENV_PREFIX)):
        if variable.upper() in known:
            continue
        close = difflib.get_close_matches(variable.upper(), sorted(known), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{variable}{hint}")
    return problems


def config_file(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The TOML config file in force: the flag, else LIFECYCLE_CONFIG, else ./lifecycle.toml.

    Raises:
        SettingsError: a file named by the flag or the variable does not exist.
    """
    named = explicit or (
        Path(environ[CONFIG_FILE_VARIABLE]) if environ.get(CONFIG_FILE_VARIABLE) else None
    )
    if named is not None:
        if not named.is_file():
            raise SettingsError(f"config file {named} does not exist")
        return named
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(*, config: Path | None = None, **overrides: object) -> Settings:
    """Build settings from flags (``overrides``; None means "not given"), environment and file.

    Raises:
        SettingsError: an unknown ``LIFECYCLE_*`` variable, a missing config file, or a value
            the settings reject (the message names the variable or key).
    """
    env = os.environ
    unknown = unknown_variables(env)
    if unknown:
        raise SettingsError(
            "unknown setting variable(s): " + ", ".join(unknown) + "; sections and keys are "
            f"joined with '{NESTED_DELIMITER}', e.g. LIFECYCLE_PROMOTION__MARGIN"
        )
    path = config_file(config, env)
    token = _config_file.set(path)
    try:
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**given)
    except ValueError as exc:
        source = f" (config file {path})" if path is not None else ""
        raise SettingsError(f"invalid settings{source}: {_summary(exc)}") from None
    finally:
        _config_file.reset(token)


def _summary(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
        for e in errors()
    )
