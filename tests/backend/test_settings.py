"""Settings: defaults, then environment, then overrides; secrets never shown."""

from __future__ import annotations

import pytest

from backend.settings import load_settings


def test_defaults_then_environment_then_overrides():
    env = {"LABELAUDIT_FOLDS": "7", "LABEL_STUDIO_URL": "http://ls:8080", "REDIS_URL": ""}
    settings = load_settings({"seed": 3}, environ=env)
    assert settings.folds == 7
    assert settings.seed == 3
    assert settings.label_studio_url == "http://ls:8080"
    assert settings.redis_url == ""  # empty variables count as unset
    assert load_settings({"folds": 4}, environ=env).folds == 4


def test_model_params_are_json_objects():
    settings = load_settings(environ={"LABELAUDIT_MODEL_PARAMS": '{"C": 0.5}'})
    assert settings.model_params == {"C": 0.5}
    with pytest.raises(ValueError, match="LABELAUDIT_MODEL_PARAMS must be a JSON object"):
        load_settings(environ={"LABELAUDIT_MODEL_PARAMS": "[1, 2]"})


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"folds": 1}, "folds must be >= 2"),
        ({"folds": "many"}, "folds must be of type int"),
        ({"filter_by": "magic"}, "filter_by must be 'auto' or one of"),
        ({"colour": "blue"}, "unknown setting 'colour'"),
        ({"audit_nice": -1}, "audit_nice must be between 0 and 19"),
        ({"audit_nice": 20}, "audit_nice must be between 0 and 19"),
    ],
)
def test_bad_settings_are_named(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_settings(overrides, environ={})


def test_secrets_are_redacted_everywhere_they_could_be_shown():
    settings = load_settings(
        {"label_studio_api_key": "sekrit-token", "basic_auth_pass": "hunter2"}, environ={}
    )
    shown = repr(settings) + str(settings.redacted())
    assert "sekrit-token" not in shown and "hunter2" not in shown
    assert settings.redacted()["label_studio_api_key"] == "***"
    assert settings.label_studio_api_key == "sekrit-token"


def test_credentials_in_urls_are_redacted():
    settings = load_settings(
        {
            "label_studio_url": "https://admin:hunter2@ls.example:8443/ls/",
            "redis_url": "redis://:s3cret@redis:6379/0",
        },
        environ={},
    )
    shown = settings.redacted()
    assert shown["label_studio_url"] == "https://***@ls.example:8443/ls/"
    assert shown["redis_url"] == "redis://***@redis:6379/0"
    assert (
        load_settings({"redis_url": "redis://r:6379/0"}, environ={}).redacted()["redis_url"]
        == "redis://r:6379/0"
    )
