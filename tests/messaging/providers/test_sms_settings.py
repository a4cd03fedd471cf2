"""A provider chosen without the settings it needs stops avis at start-up, naming what is missing."""

from __future__ import annotations

import os
import runpy

import pytest

import avis.settings
from avis.env import ConfigurationError


def start(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    """Read the settings module afresh, as a starting process would, with these variables."""
    for name in list(os.environ):
        if name.startswith(("AVIS_SMS", "AVIS_TWILIO")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(avis.settings.__file__, run_name="avis_settings_under_test")


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"AVIS_SMS_PROVIDER": "twilio"}, "AVIS_TWILIO_ACCOUNT_SID"),
        (
            {"AVIS_SMS_PROVIDER": "twilio", "AVIS_TWILIO_ACCOUNT_SID": "AC1", "AVIS_TWILIO_AUTH_TOKEN": "t"},
            "AVIS_TWILIO_FROM",
        ),
        ({"AVIS_SMS_PROVIDER": "http"}, "AVIS_SMS_HTTP_URL"),
        (
            {"AVIS_SMS_PROVIDER": "http", "AVIS_SMS_HTTP_URL": "http://gw", "AVIS_SMS_HTTP_HEADERS": "{"},
            "JSON",
        ),
        (
            {"AVIS_SMS_HTTP_BODY_FORMAT": "form", "AVIS_SMS_HTTP_BODY_TEMPLATE": '{"a": {"b": "{to}"}}'},
            "strings",
        ),
        ({"AVIS_SMS_PROVIDER": "carrier-pigeon"}, "AVIS_SMS_PROVIDER"),
    ],
)
def test_incomplete_sms_configuration_stops_start_up(monkeypatch, env, complaint) -> None:  # noqa: ANN001
    with pytest.raises(ConfigurationError, match=complaint):
        start(monkeypatch, **env)


def test_twilio_token_can_come_from_a_mounted_file(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    token_file = tmp_path / "token"
    token_file.write_text("secret-token\n")
    settings = start(
        monkeypatch,
        AVIS_SMS_PROVIDER="twilio",
        AVIS_TWILIO_ACCOUNT_SID="AC1",
        AVIS_TWILIO_AUTH_TOKEN_FILE=str(token_file),
        AVIS_TWILIO_MESSAGING_SERVICE_SID="MG1",
    )
    assert settings["AVIS_TWILIO_AUTH_TOKEN"] == "secret-token"


def test_gateway_headers_and_template_are_read_as_json(monkeypatch) -> None:  # noqa: ANN001
    settings = start(
        monkeypatch,
        AVIS_SMS_PROVIDER="http",
        AVIS_SMS_HTTP_URL="https://sms.example.fr/send",
        AVIS_SMS_HTTP_HEADERS='{"X-Api-Key": "k"}',
        AVIS_SMS_HTTP_BODY_TEMPLATE='{"numero": "{to}", "message": "{text}"}',
    )
    assert settings["AVIS_SMS_HTTP_HEADERS"] == {"X-Api-Key": "k"}
    assert settings["AVIS_SMS_HTTP_BODY_TEMPLATE"] == {"numero": "{to}", "message": "{text}"}
