"""Squall's settings: one frozen object per process, loaded once and passed down."""

from config.loader import environment_variables, load_settings
from config.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "environment_variables", "load_settings"]
