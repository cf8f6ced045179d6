from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipelines.runtime import code_revision, prefect_environment
from pipelines.settings import Settings, load_settings


def test_defaults_put_everything_under_the_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "run")
    assert settings.home == (tmp_path / "run").resolve(), "home resolved to an absolute path"
    assert (
        settings.resolved_tracking_uri == f"sqlite:///{tmp_path / 'run' / 'mlflow' / 'mlflow.db'}"
    )
    assert settings.paths.raw.is_relative_to(settings.home), "raw batches live in the home"
    assert not (tmp_path / "run").exists(), "building settings creates nothing on disk"


def test_environment_overrides_and_server_uri(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path))
    monkeypatch.setenv("LIFECYCLE_TRACKING_URI", "http://mlflow.internal:5000")
    monkeypatch.setenv("LIFECYCLE_PROMOTION_MARGIN", "0.02")
    settings = load_settings()
    assert settings.home == tmp_path.resolve(), "LIFECYCLE_HOME moves the home"
    assert settings.resolved_tracking_uri == "http://mlflow.internal:5000", "a server URI wins"
    assert settings.promotion_margin == 0.02, "thresholds come from the environment"


def test_invalid_values_and_unknown_fields_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFECYCLE_PORT", "99999")
    with pytest.raises(ValidationError, match="port"):
        load_settings()
    monkeypatch.delenv("LIFECYCLE_PORT")
    with pytest.raises(ValidationError, match="not_a_setting"):
        Settings(not_a_setting=1)  # type: ignore[call-arg]


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]


def test_prefect_environment_respects_the_users_values(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    env = prefect_environment(settings, {"PREFECT_LOGGING_LEVEL": "DEBUG"})
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect"), "Prefect state lives in the home"
    assert "PREFECT_LOGGING_LEVEL" not in env, "a user's own PREFECT_* value is kept"
    assert "PREFECT_API_URL" not in env, "no API URL: the local ephemeral API by default"


def test_code_revision_names_a_commit_or_says_unknown(tmp_path: Path) -> None:
    assert code_revision(tmp_path).startswith("unknown"), "outside git: says so"
    revision = code_revision()
    assert revision.startswith("unknown") or len(revision.split("-")[0]) == 40, revision
