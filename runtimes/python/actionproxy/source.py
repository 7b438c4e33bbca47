"""Turn the /init ``code`` (Python text, or a base64 zip) into a folder holding ``__main__.py``."""

from __future__ import annotations

import base64
import binascii
import io
import re
import tempfile
import zipfile
from pathlib import Path

ENTRY_FILE = "__main__.py"
ZIP_MAGIC = b"PK\x03\x04"
_BASE64 = re.compile(rb"^[A-Za-z0-9+/]+={0,2}$")


class SourceError(Exception):
    """The code cannot be turned into an action; the message is the /init error."""


def materialise(code: str, binary: bool, work_dir: str) -> Path:
    """Write the action into a fresh folder under ``work_dir`` and return the folder holding ``__main__.py``."""
    folder = Path(tempfile.mkdtemp(prefix="action-", dir=work_dir))
    if not unpack(code, binary, folder, text_name=ENTRY_FILE):
        return folder
    if (folder / ENTRY_FILE).is_file():
        return folder
    # Forgive a zip made of the folder rather than its contents: one top folder holding __main__.py.
    children = list(folder.iterdir())
    if len(children) == 1 and (children[0] / ENTRY_FILE).is_file():
        return children[0]
    raise SourceError(f"Zip file does not include {ENTRY_FILE} at its top level.")


def unpack(code: str, binary: bool, folder: Path, text_name: str) -> bool:
    """Unzip the code into ``folder``, or write its text to ``folder/text_name``; True if it was a zip."""
    payload = _decode(code, binary)
    if payload.startswith(ZIP_MAGIC):
        _unzip(payload, folder)
        return True
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"The action code is neither a zip file nor UTF-8 text: {exc}") from exc
    (folder / text_name).write_text(text, encoding="utf-8")
    return False


def _decode(code: str, binary: bool) -> bytes:
    """Bytes of the action: base64 when ``binary`` is set or the text is base64 of a zip."""
    compact = "".join(code.split()).encode("ascii", errors="replace")
    looks_base64 = bool(_BASE64.match(compact))
    if binary and not looks_base64:
        raise SourceError("The action is marked binary but its code is not base64.")
    # Clients do not always set binary for zips (OpenWhisk infers it server-side): infer it from the decoded magic.
    if looks_base64 and (binary or compact.startswith(b"UEsDB")):
        try:
            decoded = base64.b64decode(compact, validate=True)
        except binascii.Error as exc:
            raise SourceError(f"Cannot decode the action code as base64: {exc}") from exc
        if binary or decoded.startswith(ZIP_MAGIC):
            return decoded
    return code.encode("utf-8")


def _unzip(payload: bytes, folder: Path) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            archive.extractall(folder)  # zipfile drops absolute paths and ".." parts
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError(f"Cannot unzip the action: {exc}") from exc


def site_dirs(folder: Path) -> list[Path]:
    """site-packages of a ``virtualenv/`` shipped in the zip (OpenWhisk's layout), if any."""
    return sorted(folder.glob("virtualenv/lib/python3*/site-packages"))
