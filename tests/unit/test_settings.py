"""The settings loader: layering, typing and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import SettingsError, environment_variables, load_settings

pytestmark = pytest.mark.unit


def test_defaults_without_environment() -> None:
    s = load_settings(environ={})
    assert s.controller.port == 3233
    assert s.broker.url.startswith("amqp://")
    assert s.invoker.queues == ()  # no allow-list: every invoker that announces itself
    assert s.invoker.name.startswith("invoker-") and s.invoker.name.replace("-", "").isalnum()
    assert s.invoker.heartbeat_s < s.invoker.silent_after_s


def test_layers_file_then_environment_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "squall.toml"
    config.write_text('[controller]\nport = 4000\nworkers = 3\n[couchdb]\nprefix = "file_"\n')
    env = {"SQUALL_CONFIG": str(config), "SQUALL_CONTROLLER_PORT": "5000",
           "SQUALL_RESULT_BACKEND": "rpc://", "SQUALL_INVOKER_QUEUES": "a, b",
           "SQUALL_BROKER_TASK_EVENTS": "true", "SQUALL_COUCHDB_TIMEOUT_S": "2"}
    s = load_settings(environ=env, overrides={"controller": {"workers": 7}})
    assert s.controller.port == 5000  # env beats file
    assert s.controller.workers == 7  # overrides beat env and file
    assert s.couchdb.prefix == "file_"
    assert s.broker.result_backend == "rpc://"
    assert s.invoker.queues == ("a", "b")
    assert s.broker.task_events is True
    assert s.couchdb.timeout_s == 2.0


@pytest.mark.parametrize(("env", "message"), [
    ({"SQUALL_CONTROLLER_PORT": "many"}, "controller.port"),
    ({"SQUALL_CONTROLLER_PORT": "70000"}, "controller.port must be 1..65535"),
    ({"SQUALL_COUCHDB_URL": "couch:5984"}, "couchdb.url"),
    ({"SQUALL_LIMITS_DEFAULT_MEMORY_MB": "1024"}, "limits"),
    ({"SQUALL_CONFIG": "/nonexistent.toml"}, "cannot read SQUALL_CONFIG"),
    ({"SQUALL_INVOKER_IDLE_POLICY": "freeze"}, "invoker.idle_policy must be 'running' or 'pause'"),
    ({"SQUALL_INVOKER_IDLE_TIMEOUT_S": "0"}, "invoker.idle_timeout_s must be positive"),
    ({"SQUALL_INVOKER_RECORD_LINGER_MS": "-1"}, "invoker.record_linger_ms must be between 0 and 1000"),
])
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace(".", r"\.")):
        load_settings(environ=env)


def test_unknown_file_section_and_override(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[nope]\nx = 1\n")
    with pytest.raises(SettingsError, match="unknown section"):
        load_settings(environ={"SQUALL_CONFIG": str(config)})
    with pytest.raises(SettingsError, match="unknown setting controller.nope"):
        load_settings(environ={}, overrides={"controller": {"nope": 1}})


def test_documented_short_names() -> None:
    names = environment_variables()
    assert names["SQUALL_COUCHDB_URL"] == "couchdb.url"
    assert names["SQUALL_BROKER_URL"] == "broker.url"
    assert names["SQUALL_RESULT_BACKEND"] == "broker.result_backend"
