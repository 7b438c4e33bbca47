"""Helpers shared by the server and admin commands."""

from __future__ import annotations

from typing import Any

import click

from config import Settings, SettingsError, load_settings


def settings(**sections: dict[str, Any]) -> Settings:
    """Load settings once for this command, with command-line overrides; bad settings are usage errors."""
    overrides = {name: {k: v for k, v in values.items() if v is not None} for name, values in sections.items()}
    try:
        return load_settings(overrides={k: v for k, v in overrides.items() if v})
    except SettingsError as e:
        raise click.UsageError(str(e)) from e
