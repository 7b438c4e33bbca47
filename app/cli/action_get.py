"""What ``action get`` prints besides the entity: its URL (``--url``) and its code saved to a file (``--save``,
``--save-as``), as wsk does."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

SOURCE_EXTENSIONS = {"nodejs": ".js", "python": ".py", "swift": ".swift", "php": ".php", "ruby": ".rb",
                     "rust": ".rs", "go": ".go"}
BINARY_EXTENSIONS = {"java": ".jar", "ballerina": ".balx"}
"""The file wsk names after the action: by the kind's language; other zips are ``.zip``."""


def _segment(value: str) -> str:
    return quote(value, safe="")


def action_url(apihost: str, action: dict[str, Any]) -> str:
    """``<apihost>/api/v1/web/<ns>/<pkg or default>/<name>`` for a web action, else its REST URL
    ``<apihost>/api/v1/namespaces/<ns>/actions/[<pkg>/]<name>``."""
    namespace, _, package = str(action.get("namespace", "")).partition("/")
    name = _segment(str(action.get("name", "")))
    ns = _segment(namespace)
    web = any(isinstance(a, dict) and a.get("key") == "web-export" and a.get("value") is True
              for a in action.get("annotations") or [])
    base = apihost.rstrip("/") + "/api/v1"
    if web:
        return f"{base}/web/{ns}/{_segment(package) if package else 'default'}/{name}"
    return f"{base}/namespaces/{ns}/actions/" + (f"{_segment(package)}/" if package else "") + name


def code_and_filename(action: dict[str, Any], save_as: str | None) -> tuple[bytes, str]:
    """The code to save and the file name: ``save_as``, else the action's name with its kind's extension."""
    raw = action.get("exec")
    exec_: dict[str, Any] = raw if isinstance(raw, dict) else {}
    runtime = str(exec_.get("kind", "")).split(":")[0].lower()
    code = exec_.get("code")
    binary = exec_.get("binary") is True
    if runtime == "sequence":
        raise click.ClickException("Cannot save action sequences")
    if not isinstance(code, str) or (runtime == "blackbox" and not code):
        raise click.ClickException("Cannot save Docker images")
    if binary:
        try:
            data = base64.b64decode(code, validate=True)
        except (binascii.Error, ValueError) as e:
            raise click.ClickException(f"The action's code is marked binary but is not base64: {e}") from e
        extension = BINARY_EXTENSIONS.get(runtime, ".zip")
    else:
        data = code.encode("utf-8")
        extension = SOURCE_EXTENSIONS.get(runtime, "")
    return data, save_as or f"{action.get('name', 'action')}{extension}"


def save_code(action: dict[str, Any], save_as: str | None) -> Path:
    """Write the action's code to a new file (never over an existing one); its absolute path."""
    data, filename = code_and_filename(action, save_as)
    path = Path(filename).absolute()
    try:
        with path.open("xb") as out:
            out.write(data)
    except FileExistsError:
        raise click.ClickException(f"The file '{filename}' already exists") from None
    except OSError as e:
        raise click.ClickException(f"Cannot create file '{filename}': {e}") from e
    return path
