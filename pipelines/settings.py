"""The one settings object, built at each entry point (CLI command, flow, server) and passed down.

Every field can be set from the environment with the ``LIFECYCLE_`` prefix, e.g.
``LIFECYCLE_HOME=/tmp/run`` or ``LIFECYCLE_TRACKING_URI=http://mlflow:5000``. Nothing here reads
the environment or the disk at import time: call :func:`load_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONTRACT = REPO_ROOT / "data" / "contracts" / "card_fraud.yaml"


class Settings(BaseSettings):
    """Where the run lives, which model it serves and the thresholds its decisions use."""

    model_config = SettingsConfigDict(env_prefix="LIFECYCLE_", frozen=True, extra="forbid")

    home: Path = Field(
        default=Path(".lifecycle"),
        description="Folder holding every file a run writes (data, MLflow store, reports, logs).",
    )
    contract_path: Path = Field(default=DEFAULT_CONTRACT, description="Dataset contract YAML.")
    tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI; default: a SQLite store under the home folder.",
    )
    model_name: str = Field(default="card-fraud", description="Registered model name.")
    experiment_name: str = Field(default="card-fraud", description="MLflow experiment name.")

    # Training window
    train_days: int = Field(default=28, ge=3, description="Days of labelled data used to fit.")
    holdout_days: int = Field(default=5, ge=1, description="Most recent labelled days held out.")

    # Promotion gate
    promotion_metric: str = Field(default="pr_auc", description="Metric the gate compares.")
    promotion_margin: float = Field(
        default=0.005, ge=0, description="Challenger must beat champion by this much."
    )
    segment_max_drop: float = Field(
        default=0.10, ge=0, description="Largest allowed per-segment drop vs the champion."
    )
    segment_min_positives: int = Field(
        default=15, ge=1, description="Segments with fewer positives are not guarded."
    )
    floor_pr_auc: float = Field(default=0.25, ge=0, le=1, description="First model's PR-AUC floor.")
    floor_roc_auc: float = Field(
        default=0.75, ge=0, le=1, description="First model's ROC-AUC floor."
    )
    target_fpr: float = Field(default=0.01, gt=0, lt=1, description="FPR for recall@FPR.")

    # Serving
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(default=None, description="If set, X-API-Key is required.")
    alias_poll_seconds: float = Field(default=2.0, gt=0, description="Champion alias poll period.")

    # Monitoring and retraining policy
    drift_share_threshold: float = Field(
        default=0.3, gt=0, le=1, description="Share of drifted features that flags a window."
    )
    drift_windows_to_retrain: int = Field(
        default=2, ge=1, description="Consecutive drifted windows that trigger a retrain."
    )
    performance_drop_to_retrain: float = Field(
        default=0.10, gt=0, description="PR-AUC drop on matured labels that triggers a retrain."
    )
    retrain_cooldown_windows: int = Field(
        default=5, ge=0, description="Windows after a retrain during which no retrain starts."
    )
    performance_days: int = Field(
        default=14, ge=1, description="Trailing days of predictions joined with matured labels."
    )
    min_labelled_rows: int = Field(
        default=1000, ge=1, description="Matured labels needed before performance is trusted."
    )
    write_html: bool = Field(
        default=True, description="Write Evidently HTML reports (about 4 MB each) per window."
    )
    performance_report_every_days: int = Field(
        default=1,
        ge=1,
        description="Write Evidently's performance report every N days (figures: every day).",
    )

    @model_validator(mode="after")
    def _resolve_home(self) -> Settings:
        object.__setattr__(self, "home", self.home.expanduser().resolve())
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
        """Immutable daily batches as generated (one Parquet file per day)."""
        return self.home / "data" / "raw"

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


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (e.g. from CLI flags)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
