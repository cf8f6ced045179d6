"""The serving settings section and the runtime config: defaults once, clear errors."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from features.vocabulary import CHAMPION
from serving.config import ServingConfig, ServingConfigError, ServingSettings
from tests.serving.conftest import make_config


@pytest.mark.parametrize("key", ["", "   "])
def test_a_blank_api_key_is_an_error_of_the_settings(key):
    with pytest.raises(ValidationError, match="api_key is an empty string"):
        ServingSettings(api_key=key)


def test_api_key_is_hidden_but_readable():
    settings = ServingSettings(api_key="s3cret")
    assert "s3cret" not in repr(settings), "the key is not shown"
    assert settings.api_key_value() == "s3cret", "the app can read it"
    assert ServingSettings().api_key_value() is None, "no key: authentication off"


@pytest.mark.parametrize(
    ("key", "value"),
    [("poll_seconds", 0), ("poll_seconds", math.inf), ("max_batch", 0), ("port", 70000)],
)
def test_out_of_range_settings_are_rejected(key, value):
    with pytest.raises(ValidationError, match=key):
        ServingSettings.model_validate({key: value})


def test_config_takes_the_model_name_from_the_contract(tmp_path, renewal_contract):
    config = make_config(tmp_path, renewal_contract, "sqlite:///x.db")
    assert config.model_name == renewal_contract.model_name, "model named by the contract"
    assert config.alias == CHAMPION, "serves the champion by default"
    assert config.settings.poll_seconds == 30.0, "the settings section as given"


@pytest.mark.parametrize(
    ("field", "message"), [("tracking_uri", "tracking_uri"), ("alias", "alias")]
)
def test_empty_config_values_are_errors(tmp_path, renewal_contract, field, message):
    values = {
        "tracking_uri": "sqlite:///x.db",
        "contract": renewal_contract,
        "predictions_dir": tmp_path,
        "labels_dir": tmp_path,
        "settings": ServingSettings(),
        field: "",
    }
    with pytest.raises(ServingConfigError, match=message):
        ServingConfig(**values)
