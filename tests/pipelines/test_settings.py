from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from monitoring.config import MonitoringConfig
from monitoring.policy import RetrainPolicy
from pipelines.runtime import code_revision, prefect_environment
from pipelines.settings import (
    DEFAULT_CONTRACT,
    REPO_ROOT,
    Settings,
    SettingsError,
    load_settings,
    unknown_variables,
)
from serving.config import ServingSettings
from training.config import TrainingConfig
from training.gate import GatePolicy


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No inherited LIFECYCLE_* variable, and no lifecycle.toml in the working folder."""
    import os

    for key in [k for k in os.environ if k.startswith("LIFECYCLE_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_put_everything_under_the_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "run")
    assert settings.home == (tmp_path / "run").resolve(), "home resolved to an absolute path"
    assert (
        settings.resolved_tracking_uri == f"sqlite:///{tmp_path / 'run' / 'mlflow' / 'mlflow.db'}"
    )
    assert settings.paths.raw.is_relative_to(settings.home), "raw batches live in the home"
    assert settings.contract == DEFAULT_CONTRACT, "the default contract is the shipped one"
    assert not (tmp_path / "run").exists(), "building settings creates nothing on disk"


def test_each_section_is_the_stage_own_type_with_its_defaults() -> None:
    settings = load_settings()
    sections = {
        "training": (settings.training, TrainingConfig()),
        "promotion": (settings.promotion, GatePolicy()),
        "serving": (settings.serving, ServingSettings()),
        "monitoring": (settings.monitoring, MonitoringConfig()),
        "retraining": (settings.retraining, RetrainPolicy()),
    }
    for name, (section, default) in sections.items():
        assert type(section) is type(default), f"{name} is the stage's own type"
        assert section == default, f"{name}'s defaults are the stage's defaults"


def test_nested_environment_variables_reach_every_section(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path))
    monkeypatch.setenv("LIFECYCLE_TRACKING_URI", "http://mlflow.internal:5000")
    monkeypatch.setenv("LIFECYCLE_PROMOTION__MARGIN", "0.02")
    monkeypatch.setenv("LIFECYCLE_TRAINING__HOLDOUT_DAYS", "9")
    monkeypatch.setenv("LIFECYCLE_MONITORING__MIN_WINDOW_ROWS", "50")
    monkeypatch.setenv("LIFECYCLE_RETRAINING__COOLDOWN_WINDOWS", "1")
    monkeypatch.setenv("LIFECYCLE_SERVING__API_KEY", "s3cret")
    settings = load_settings()
    assert settings.home == tmp_path.resolve(), "LIFECYCLE_HOME moves the home"
    assert settings.resolved_tracking_uri == "http://mlflow.internal:5000", "a server URI wins"
    assert settings.promotion.margin == 0.02, "promotion threshold from the environment"
    assert settings.training.holdout_days == 9, "training threshold from the environment"
    assert settings.monitoring.min_window_rows == 50, "monitoring threshold"
    assert settings.retraining.cooldown_windows == 1, "retraining threshold"
    assert settings.serving.api_key is not None, "the key is read"
    assert settings.serving.api_key.get_secret_value() == "s3cret", "and kept secret"
    assert "s3cret" not in repr(settings), "the key never shows in a repr"


def test_config_file_sits_below_the_environment_and_above_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "team.toml"
    config.write_text("[promotion]\nmargin = 0.03\n\n[monitoring]\nperformance_days = 21\n")
    settings = load_settings(config=config)
    assert settings.promotion.margin == 0.03, "the file sets a threshold"
    assert settings.monitoring.performance_days == 21, "in any section"
    monkeypatch.setenv("LIFECYCLE_PROMOTION__MARGIN", "0.04")
    settings = load_settings(config=config)
    assert settings.promotion.margin == 0.04, "the environment wins over the file"
    assert settings.monitoring.performance_days == 21, "the rest of the file still applies"
    monkeypatch.delenv("LIFECYCLE_PROMOTION__MARGIN")
    monkeypatch.setenv("LIFECYCLE_CONFIG", str(config))
    assert load_settings().promotion.margin == 0.03, "LIFECYCLE_CONFIG names the file"
    monkeypatch.delenv("LIFECYCLE_CONFIG")
    (tmp_path / "lifecycle.toml").write_text("[training]\ntrain_days = 14\n")
    assert load_settings().training.train_days == 14, "./lifecycle.toml is read when present"


def test_flags_win_over_everything(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "env"))
    settings = load_settings(home=tmp_path / "flag", contract=Path("my.yaml"))
    assert settings.home == (tmp_path / "flag").resolve(), "--home wins over LIFECYCLE_HOME"
    assert settings.contract == (tmp_path / "my.yaml").resolve(), "--contract, made absolute"


def test_a_misspelt_or_outdated_variable_is_an_error_naming_the_right_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIFECYCLE_PROMOTION_MARGIN", "0.02")
    with pytest.raises(SettingsError, match=re.escape("did you mean LIFECYCLE_PROMOTION__MARGIN")):
        load_settings()
    assert unknown_variables({"LIFECYCLE_NOTHING_LIKE_IT": "1", "LIFECYCLE_HOME": "x"}) == [
        "LIFECYCLE_NOTHING_LIKE_IT"
    ], "an unknown variable without a close match is named alone; real ones pass"


def test_invalid_values_name_the_key_and_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIFECYCLE_SERVING__PORT", "99999")
    with pytest.raises(SettingsError, match=r"serving\.port"):
        load_settings()
    monkeypatch.delenv("LIFECYCLE_SERVING__PORT")
    config = tmp_path / "bad.toml"
    config.write_text("[promotion]\nmargn = 0.02\n")
    with pytest.raises(SettingsError) as error:
        load_settings(config=config)
    assert "promotion.margn" in str(error.value), "the unknown key is named"
    assert str(config) in str(error.value), "and so is the file"
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(config=tmp_path / "missing.toml")
    with pytest.raises(ValidationError, match="not_a_setting"):
        Settings(not_a_setting=1)  # type: ignore[call-arg]


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.home = Path("/elsewhere")  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.promotion.margin = 1.0  # type: ignore[misc]


SECTIONS = (TrainingConfig, GatePolicy, ServingSettings, MonitoringConfig, RetrainPolicy)
CORE_PACKAGES = ("features", "training", "serving", "monitoring")
#: Not a second truth: the in-process runner of tests and the demo binds loopback on a free
#: port (port 0), whatever the configured server listens on.
NOT_SETTINGS = {"serving.runner.run_in_thread"}


def _core_functions() -> list[tuple[str, object]]:
    """Every function and method defined in the pure cores' modules."""
    import importlib
    import inspect
    import pkgutil

    found: list[tuple[str, object]] = []
    for package in CORE_PACKAGES:
        for info in pkgutil.iter_modules([str(REPO_ROOT / package)]):
            module = importlib.import_module(f"{package}.{info.name}")
            for name, member in vars(module).items():
                if getattr(member, "__module__", None) != module.__name__:
                    continue
                if inspect.isfunction(member):
                    found.append((f"{module.__name__}.{name}", member))
                elif inspect.isclass(member):
                    found += [
                        (f"{module.__name__}.{name}.{attr}", value)
                        for attr, value in vars(member).items()
                        if inspect.isfunction(value)
                    ]
    return found


def test_no_core_repeats_a_settings_default() -> None:
    """A threshold's default lives in its section only: no core parameter of the same name
    carries a default of its own (it would be a second truth that drifts from the first)."""
    import inspect

    names = {name for section in SECTIONS for name in section.model_fields}
    mirrors = [
        f"{where}({parameter.name}={parameter.default!r})"
        for where, function in _core_functions()
        if where not in NOT_SETTINGS
        for parameter in inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        if parameter.name in names
        and parameter.default is not inspect.Parameter.empty
        and parameter.default is not None
    ]
    assert mirrors == [], f"core parameters that repeat a settings default: {mirrors}"


def test_prefect_environment_respects_the_users_values(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    env = prefect_environment(settings, {"PREFECT_LOGGING_LEVEL": "DEBUG"})
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect"), "Prefect state lives in the home"
    assert "PREFECT_LOGGING_LEVEL" not in env, "a user's own PREFECT_* value is kept"
    assert "PREFECT_API_URL" not in env, "no API URL: the local ephemeral API by default"


def test_code_revision_names_a_commit_or_says_unknown(tmp_path: Path) -> None:
    assert code_revision(tmp_path).startswith("unknown"), "outside git: says so"
    revision = code_revision(REPO_ROOT)
    assert revision.startswith("unknown") or len(revision.split("-")[0]) == 40, revision
