"""Settings: environment parsing, defaults, validation messages, overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.worker.settings import (
    GOOGLE_CERTS_URL,
    Settings,
    SettingsError,
    get_settings,
    load_settings,
    unknown_env_names,
)
from tests.plugins.worker import task_headers

REQUIRED = {
    "WORKER_AUDIENCE": "https://worker-abc-uc.a.run.app",
    "WORKER_INVOKER_EMAIL": "invoker@p.iam.gserviceaccount.com",
}


def test_defaults():
    settings = Settings.from_env(REQUIRED)
    assert settings.auth == "required"
    assert settings.certs_url == GOOGLE_CERTS_URL == "https://www.googleapis.com/oauth2/v1/certs"
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.log_level == "INFO"
    assert settings.retry_after_seconds == 10
    assert settings.project_id is None
    assert settings.token_cache_size == 1024


def test_values_are_parsed_and_normalised():
    settings = Settings.from_env(
        {
            **REQUIRED,
            "WORKER_INVOKER_EMAIL": " Invoker@P.iam.gserviceaccount.com ",
            "WORKER_AUTH": "REQUIRED",
            "WORKER_MAX_BODY_BYTES": "2048",
            "WORKER_LOG_LEVEL": "warning",
            "WORKER_RETRY_AFTER_SECONDS": "30",
            "WORKER_CERTS_URL": "http://127.0.0.1:9999/certs",
        }
    )
    assert settings.invoker_email == "invoker@p.iam.gserviceaccount.com"
    assert settings.max_body_bytes == 2048
    assert settings.log_level == "WARNING"
    assert settings.retry_after_seconds == 30
    assert settings.certs_url == "http://127.0.0.1:9999/certs"


def test_project_falls_back_to_google_cloud_project():
    assert Settings.from_env({**REQUIRED, "GOOGLE_CLOUD_PROJECT": "p1"}).project_id == "p1"
    both = {**REQUIRED, "GOOGLE_CLOUD_PROJECT": "p1", "WORKER_PROJECT_ID": "p2"}
    assert Settings.from_env(both).project_id == "p2"


def test_auth_required_needs_audience_and_invoker():
    with pytest.raises(SettingsError) as error:
        Settings.from_env({})
    message = str(error.value)
    assert "WORKER_AUDIENCE and WORKER_INVOKER_EMAIL must be set when WORKER_AUTH=required" in message
    assert "WORKER_AUTH=disabled" in message
    with pytest.raises(SettingsError, match="WORKER_INVOKER_EMAIL must be set"):
        Settings.from_env({"WORKER_AUDIENCE": "https://x.a.run.app", "WORKER_INVOKER_EMAIL": "  "})


def test_auth_disabled_needs_nothing():
    assert Settings.from_env({"WORKER_AUTH": "disabled"}).auth == "disabled"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("WORKER_AUTH", "sometimes", "WORKER_AUTH: Input should be 'required' or 'disabled'"),
        ("WORKER_MAX_BODY_BYTES", "0", "WORKER_MAX_BODY_BYTES: Input should be greater than or equal to 1"),
        ("WORKER_MAX_BODY_BYTES", "lots", "WORKER_MAX_BODY_BYTES: Input should be a valid integer"),
        ("WORKER_MAX_BODY_BYTES", "99999999999", "less than or equal to 33554432"),
        ("WORKER_RETRY_AFTER_SECONDS", "-1", "WORKER_RETRY_AFTER_SECONDS"),
        ("WORKER_LOG_LEVEL", "chatty", "WORKER_LOG_LEVEL"),
        ("WORKER_INVOKER_EMAIL", "not-an-email", "WORKER_INVOKER_EMAIL: must be an email address"),
        ("WORKER_CERTS_URL", "ftp://example.com/certs", "WORKER_CERTS_URL: must be an https:// URL"),
        ("WORKER_CERTS_URL", "http://www.googleapis.com/oauth2/v1/certs", "plain http is only allowed"),
        ("WORKER_CLOCK_SKEW_SECONDS", "3600", "WORKER_CLOCK_SKEW_SECONDS"),
    ],
)
def test_invalid_values_name_the_variable(name, value, fragment):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**REQUIRED, name: value})
    assert fragment in str(error.value)
    assert repr(value) in str(error.value)


def test_several_errors_are_reported_together():
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**REQUIRED, "WORKER_MAX_BODY_BYTES": "0", "WORKER_LOG_LEVEL": "x"})
    assert "WORKER_MAX_BODY_BYTES" in str(error.value) and "WORKER_LOG_LEVEL" in str(error.value)


def test_settings_are_immutable():
    settings = Settings(auth="disabled")
    with pytest.raises(ValidationError, match="frozen"):
        settings.auth = "required"  # type: ignore[misc]


def test_unknown_worker_variables_are_reported():
    names = unknown_env_names({**REQUIRED, "WORKER_AUDIANCE": "typo", "OTHER": "x"})
    assert names == ["WORKER_AUDIANCE"]


def test_load_settings_reads_the_environment_once(monkeypatch):
    load_settings.cache_clear()
    try:
        monkeypatch.setenv("WORKER_AUTH", "disabled")
        monkeypatch.setenv("WORKER_RETRY_AFTER_SECONDS", "42")
        first = load_settings()
        monkeypatch.setenv("WORKER_RETRY_AFTER_SECONDS", "43")
        assert load_settings() is first
        assert first.retry_after_seconds == 42
    finally:
        load_settings.cache_clear()


def test_get_settings_is_the_overridable_dependency(monkeypatch):
    import asyncio

    load_settings.cache_clear()
    try:
        monkeypatch.setenv("WORKER_AUTH", "disabled")
        assert asyncio.run(get_settings()) is load_settings()
    finally:
        load_settings.cache_clear()


def test_dependency_override_replaces_the_environment(make_worker, monkeypatch):
    monkeypatch.delenv("WORKER_AUTH", raising=False)
    monkeypatch.delenv("WORKER_AUDIENCE", raising=False)
    worker = make_worker(Settings(auth="disabled", retry_after_seconds=3))
    response = worker.post("/tasks", json={"kind": "echo", "data": {}}, headers=task_headers(None))
    assert response.status_code == 200


def test_invalid_environment_stops_startup(monkeypatch, worker_logs):
    from fastapi.testclient import TestClient

    from app.worker.main import create_app

    load_settings.cache_clear()
    monkeypatch.setenv("WORKER_AUTH", "required")
    monkeypatch.delenv("WORKER_AUDIENCE", raising=False)
    monkeypatch.delenv("WORKER_INVOKER_EMAIL", raising=False)
    try:
        with pytest.raises(RuntimeError, match="WORKER_AUDIENCE and WORKER_INVOKER_EMAIL must be set"):
            with TestClient(create_app()):
                pass
    finally:
        load_settings.cache_clear()
    critical = [r for r in worker_logs() if r["severity"] == "CRITICAL"]
    assert critical and "WORKER_AUDIENCE" in critical[0]["message"]
