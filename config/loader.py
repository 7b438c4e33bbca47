"""Builds the one ``Settings`` of a process.

Sources, each overriding the one before: the defaults, a TOML file named by ``SQUALL_CONFIG``
(sections ``[controller]``, ``[couchdb]``, ...), ``SQUALL_<SECTION>_<FIELD>`` variables (a few
fields have shorter documented names, e.g. ``SQUALL_RESULT_BACKEND``, and a few a second name read when the first
is unset, e.g. wsk's ``WHISK_APIHOST``), then explicit overrides. This is the only module that reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from typing import Any

from config.settings import Settings, SettingsError

_SECTION_TYPES: dict[str, Any] = {
    f.name: f.default_factory for f in dataclasses.fields(Settings)
}


def env_name(section: str, field: dataclasses.Field[Any]) -> str:
    """The environment variable that sets ``section.field``."""
    named: str | None = field.metadata.get("env")
    return named or f"SQUALL_{section}_{field.name}".upper()


def environment_variables() -> dict[str, str]:
    """Every recognised variable, mapped to the ``section.field`` it sets (for docs and ``squall config``)."""
    return {
        env_name(section, f): f"{section}.{f.name}"
        for section, factory in _SECTION_TYPES.items()
        for f in dataclasses.fields(factory)
    }


def _parse(raw: str, current: Any, where: str) -> Any:
    """Turn an environment string into the type of the field's default."""
    try:
        if isinstance(current, bool):
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, tuple):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError as e:
        raise SettingsError(f"{where}={raw!r} is not a valid {type(current).__name__}") from e
    return raw


def _coerce(value: Any, current: Any, where: str) -> Any:
    if isinstance(value, str) and not isinstance(current, str):
        return _parse(value, current, where)
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not type(current):
        raise SettingsError(f"{where} must be a {type(current).__name__}, got {value!r}")
    return value


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Layer defaults, the SQUALL_CONFIG file, SQUALL_* variables and ``overrides`` into ``Settings``.

    Raises ``SettingsError`` naming the offending setting.
    """
    env = os.environ if environ is None else environ
    layers: dict[str, dict[str, Any]] = {name: {} for name in _SECTION_TYPES}

    path = env.get("SQUALL_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"cannot read SQUALL_CONFIG={path}: {e}") from e
        for section, values in data.items():
            if section not in layers or not isinstance(values, dict):
                raise SettingsError(f"{path}: unknown section [{section}]; known: {', '.join(layers)}")
            layers[section].update(values)

    for section, factory in _SECTION_TYPES.items():
        for f in dataclasses.fields(factory):
            name = env_name(section, f)
            fallback = f.metadata.get("env_fallback")
            if name in env:
                layers[section][f.name] = env[name]
            elif fallback and env.get(fallback):  # empty counts as unset, as wsk reads it
                layers[section][f.name] = env[fallback]

    for section, values in (overrides or {}).items():
        if section not in layers:
            raise SettingsError(f"unknown settings section {section!r}")
        layers[section].update(values)

    built: dict[str, Any] = {}
    for section, factory in _SECTION_TYPES.items():
        base = factory()
        known = {f.name for f in dataclasses.fields(base)}
        values = {}
        for key, value in layers[section].items():
            if key not in known:
                raise SettingsError(f"unknown setting {section}.{key}")
            values[key] = _coerce(value, getattr(base, key), f"{section}.{key}")
        built[section] = dataclasses.replace(base, **values)
    return Settings(**built)
