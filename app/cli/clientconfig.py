"""What the client verbs connect with, and where each value came from: wsk's order of sources.

A flag (``--apihost``, ``-u/--auth``) wins; then the settings (``SQUALL_CLIENT_*``, wsk's ``WHISK_APIHOST`` and
``WHISK_AUTH``, or ``[client]`` in ``SQUALL_CONFIG``); then the property file (``~/.wskprops``, or the one
``WSK_CONFIG_FILE`` names); then the defaults. The source is kept so that an error can say which one to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.cli import wskprops
from app.cli.client import DEFAULT_APIVERSION, DEFAULT_NAMESPACE
from config import defaults
from config.settings import ClientSettings


class ConfigError(Exception):
    """The configuration cannot be used (an unreadable property file, a malformed key)."""


@dataclass(frozen=True)
class ClientConfig:
    apihost: str
    auth: str
    namespace: str = DEFAULT_NAMESPACE
    apiversion: str = DEFAULT_APIVERSION
    cert: str = ""
    key: str = ""
    apigw_access_token: str = ""
    props_path: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)
    """``apihost``/``auth`` → where the value came from, e.g. ``--auth`` or ``AUTH in /home/u/.wskprops``."""

    def source(self, name: str) -> str:
        return self.sources.get(name, "the default")


def _settings_source(variable: str, fallback: str, key: str) -> str:
    return f"the settings ({variable}, {fallback} or [client] {key} in SQUALL_CONFIG)"


def resolve(settings: ClientSettings, apihost: str | None = None, auth: str | None = None) -> ClientConfig:
    """The configuration from the flags given (None: not given), the settings and the property file."""
    path = wskprops.location(settings.config_file)
    try:
        props = wskprops.read(path)
    except wskprops.PropsError as e:
        raise ConfigError(f"{e}; fix it, or point WSK_CONFIG_FILE at another file") from e
    in_file = f"in {path}"
    sources: dict[str, str] = {}

    def pick(name: str, flag: str | None, setting: str, variable: str, fallback: str, key: str, default: str) -> str:
        for value, where in ((flag, f"--{name}"), (setting, _settings_source(variable, fallback, name)),
                             (props.get(key), f"{key} {in_file}")):
            if value:
                sources[name] = where
                return value
        return default

    chosen_host = pick("apihost", apihost, settings.apihost, "SQUALL_CLIENT_APIHOST", "WHISK_APIHOST", "APIHOST",
                       defaults.CLIENT_FALLBACK_APIHOST)
    chosen_auth = pick("auth", auth, settings.auth, "SQUALL_CLIENT_AUTH", "WHISK_AUTH", "AUTH", "")
    if chosen_auth and ":" not in chosen_auth:
        raise ConfigError(f"the key from {sources['auth']} must be 'uuid:key' (as `squall admin user create` "
                          "prints it)")
    return ClientConfig(
        apihost=chosen_host,
        auth=chosen_auth,
        namespace=props.get("NAMESPACE") or DEFAULT_NAMESPACE,
        apiversion=props.get("APIVERSION") or DEFAULT_APIVERSION,
        cert=props.get("CERT", ""),
        key=props.get("KEY", ""),
        apigw_access_token=props.get("APIGW_ACCESS_TOKEN", ""),
        props_path=path,
        sources=sources,
    )
