"""``--web`` and ``--web-secure`` of ``action create|update``: the annotations wsk turns them into.

``--web true|yes`` sets ``web-export: true, raw-http: false, final: true``; ``raw`` the same with ``raw-http: true``;
``false|no`` sets all three false. ``--web-secure`` sets ``require-whisk-auth``: ``true`` a random number (kept
when the action already has a number), ``false`` removes it (or sets false when there was none), anything else is
the secret itself; it needs the action to be a web action after the command.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any

import click

WEB_EXPORT = "web-export"
RAW_HTTP = "raw-http"
FINAL = "final"
REQUIRE_AUTH = "require-whisk-auth"
MAX_JS_INT = 2**53 - 1
"""wsk keeps the generated secret within a JavaScript number, so API gateways read it back unchanged."""

WEB_MODES = {"yes": "true", "true": "true", "raw": "raw", "no": "false", "false": "false"}
KeyValues = list[dict[str, Any]]


def web_mode(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The click callback of ``--web``: ``true``, ``raw`` or ``false``, or wsk's message for anything else."""
    if value is None:
        return None
    mode = WEB_MODES.get(value.lower())
    if mode is None:
        raise click.BadParameter(f"Invalid argument '{value}' for --web flag. Valid input consist of 'yes', "
                                 "'true', 'raw', 'false', or 'no'.", ctx, param)
    return mode


web_option = click.option("--web", "web", default=None, metavar="true|raw|false", callback=web_mode,
                          help="A web action (yes|true), a raw HTTP web action (raw), or not (no|false).")
web_secure_option = click.option(
    "--web-secure", "web_secure", default=None, metavar="SECRET|true|false",
    help="Secure the web action: SECRET or true (a random one) is required in X-Require-Whisk-Auth; false: not.")


def web_annotations(mode: str) -> KeyValues:
    """The three annotations of ``--web MODE`` (``true``, ``raw`` or ``false``)."""
    web, raw = mode in ("true", "raw"), mode == "raw"
    return [{"key": WEB_EXPORT, "value": web}, {"key": RAW_HTTP, "value": raw}, {"key": FINAL, "value": web}]


def value_of(annotations: Sequence[dict[str, Any]] | None, key: str) -> Any:
    return next((a.get("value") for a in annotations or [] if a.get("key") == key), None)


def with_values(annotations: Sequence[dict[str, Any]], updates: Sequence[dict[str, Any]]) -> KeyValues:
    """``annotations`` with each of ``updates`` replacing the one of its key in place, or appended."""
    out = [dict(a) for a in annotations]
    for update in updates:
        at = next((i for i, a in enumerate(out) if a.get("key") == update["key"]), None)
        if at is None:
            out.append(dict(update))
        else:
            out[at] = dict(update)
    return out


def _is_secret_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def web_secure(value: str, mode: str | None, given: Sequence[dict[str, Any]], existing: Sequence[dict[str, Any]] | None,
               new_secret: Callable[[], int] = lambda: secrets.randbits(53)) -> tuple[KeyValues, list[str]]:
    """``(annotations to set, annotation keys to delete)`` for ``--web-secure value``.

    ``mode`` is this command's ``--web`` (or None), ``given`` the annotations this command sets (``-a``, ``-A`` and
    ``--web``'s), ``existing`` the stored action's on update (None on create or when there is none). Raises
    ``click.UsageError`` when the action is not a web action after the command.
    """
    web_now = value_of(given, WEB_EXPORT) is True or (mode != "false" and value_of(existing, WEB_EXPORT) is True)
    if not web_now:
        raise click.UsageError("The --web-secure option is only valid when the --web option is enabled.")
    old = value_of(given, REQUIRE_AUTH)
    if old is None:
        old = value_of(existing, REQUIRE_AUTH)
    lowered = value.lower()
    if lowered == "false":
        if old is not None:
            return [], [REQUIRE_AUTH]
        return [{"key": REQUIRE_AUTH, "value": False}], []
    if lowered == "true":
        if _is_secret_number(old):
            return [], []  # as wsk: an action that has a generated secret keeps it
        return [{"key": REQUIRE_AUTH, "value": new_secret() & MAX_JS_INT}], []
    return [{"key": REQUIRE_AUTH, "value": value}], []
