"""wsk's property file, ``~/.wskprops``: ``KEY=VALUE`` lines, read and rewritten the way wsk does.

wsk's reader (openwhisk-cli ``commands/util.go`` ``ReadProps``) drops everything from a ``#`` to the end of the
line, trims the line and splits it at ``=``; there is no quoting or escaping, and a later line wins. Squall reads
the same files the same way, and is lenient where wsk silently skips a line: spaces around ``=`` are trimmed and a
value may itself hold ``=``. python-dotenv was weighed and not used: it unquotes values, expands ``${VAR}`` and keeps
an unquoted ``a#b``, so it would read some files differently from wsk.

Rewriting keeps every other line as it was (comments, order, keys Squall does not know), and the file is written
with mode 0600 because it holds a key.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

KNOWN_KEYS = ("APIHOST", "AUTH", "NAMESPACE", "APIVERSION", "APIGW_ACCESS_TOKEN", "CERT", "KEY")
"""The keys wsk (and Squall) read; any other key is kept untouched when the file is rewritten."""

FILE_MODE = 0o600


class PropsError(Exception):
    """The property file cannot be read or written, or a value cannot be stored in it."""


def _entry(line: str) -> tuple[str, str] | None:
    """``(KEY, VALUE)`` of one line, or None for a comment, a blank line or a line without ``KEY=``."""
    text = line.split("#", 1)[0].strip()
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        return None
    return key, value.strip()


def parse(text: str) -> dict[str, str]:
    """The properties in ``text``; keys are case-sensitive (wsk looks up ``APIHOST``, not ``apihost``)."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        entry = _entry(line)
        if entry is not None:
            props[entry[0]] = entry[1]
    return props


def check_value(key: str, value: str) -> None:
    """A value wsk would read back as written: one line, no ``#`` (the start of a comment), no surrounding spaces."""
    if "\n" in value or "\r" in value or "#" in value:
        raise PropsError(f"{key} cannot hold a line break or '#' (the property file reads '#' as a comment)")
    if value != value.strip():
        raise PropsError(f"{key} cannot start or end with spaces")


def render(text: str, updates: Mapping[str, str], removals: Iterable[str] = ()) -> str:
    """``text`` with ``updates`` set (in place where the key was, else appended) and ``removals`` removed."""
    for key, value in updates.items():
        check_value(key, value)
    removed = set(removals) - set(updates)
    pending = dict(updates)
    lines: list[str] = []
    for line in text.splitlines():
        entry = _entry(line)
        key = entry[0] if entry else ""
        if key in removed:
            continue
        if key in updates:
            if key not in pending:  # a later duplicate would win over the new value: drop it
                continue
            lines.append(f"{key}={pending.pop(key)}")
            continue
        lines.append(line)
    lines.extend(f"{key}={value}" for key, value in pending.items())
    return "".join(line + "\n" for line in lines)


def read_text(path: Path | None) -> str:
    """The file's text; no path (``WSK_CONFIG_FILE`` set empty) or no such file reads as empty, as in wsk."""
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as e:
        raise PropsError(f"cannot read the property file {path}: {e}") from e


def read(path: Path | None) -> dict[str, str]:
    return parse(read_text(path))


def update(path: Path | None, updates: Mapping[str, str], removals: Iterable[str] = ()) -> None:
    """Rewrite the file with ``updates`` and ``removals``: atomically, mode 0600, through a symbolic link."""
    if path is None:
        raise PropsError("WSK_CONFIG_FILE is set but empty: there is no property file to write; unset it or name one")
    text = render(read_text(path), updates, removals)
    target = Path(os.path.realpath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")  # mode 0600
    except OSError as e:
        raise PropsError(f"cannot write the property file {path}: {e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, target)
    except OSError as e:
        Path(temporary).unlink(missing_ok=True)
        raise PropsError(f"cannot write the property file {path}: {e}") from e


def location(config_file: str) -> Path | None:
    """The file named by the ``client.config_file`` setting (``~`` expanded); None when it is empty."""
    return Path(config_file).expanduser() if config_file else None
