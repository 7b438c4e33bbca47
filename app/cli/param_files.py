"""``-P/--param-file FILE`` and ``-A/--annotation-file FILE``: a JSON object of parameters (annotations) read from a
file, as wsk reads them, merged with the ``-p``/``-a`` pairs of the same command.

wsk merges every ``-p``/``-P`` in the order typed; click hands each option's values over as a group, so here the
files come first (in their order) and ``-p`` pairs override a file's keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from app.cli.verbkit import Pairs, param_values

_file_type = click.Path(exists=True, dir_okay=False, path_type=Path)

param_file_option = click.option(
    "--param-file", "-P", "param_files", type=_file_type, multiple=True, metavar="FILE",
    help="A JSON object of parameters (-p KEY VALUE overrides its keys). Repeatable.")
annotation_file_option = click.option(
    "--annotation-file", "-A", "annotation_files", type=_file_type, multiple=True, metavar="FILE",
    help="A JSON object of annotations (-a KEY VALUE overrides its keys). Repeatable.")


def read_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; anything else is a usage error naming the file (``what``: parameter or
    annotation, for the message)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise click.BadParameter(f"Unable to read the file '{path}': {e}") from e
    try:
        value = json.loads(text)
    except ValueError as e:
        raise click.BadParameter(f"Invalid {what} argument: '{path}' is not JSON: {e}") from e
    if not isinstance(value, dict):
        raise click.BadParameter(
            f"Invalid {what} argument: '{path}' holds JSON {type(value).__name__}, not an object of "
            f"{what}s like {{\"key\": \"value\"}}")
    return value


def merged_values(files: Sequence[Path], pairs: Pairs, what: str = "parameter") -> dict[str, Any]:
    """The files' objects in order, then the pairs (``-p`` values parsed as wsk parses them) over them."""
    values: dict[str, Any] = {}
    for path in files:
        values.update(read_object(path, what))
    values.update(param_values(pairs))
    return values


def merged_key_values(files: Sequence[Path], pairs: Pairs, what: str = "parameter") -> list[dict[str, Any]]:
    """As :func:`merged_values`, in the ``[{"key", "value"}]`` form entities store."""
    return [{"key": k, "value": v} for k, v in merged_values(files, pairs, what).items()]


def given_fields(param_files: Sequence[Path], params: Pairs, annotation_files: Sequence[Path],
                 annotations: Pairs) -> dict[str, Any]:
    """An entity body's ``parameters`` and ``annotations``, each only when given (on update the server keeps the
    rest)."""
    body: dict[str, Any] = {}
    parameters = merged_key_values(param_files, params)
    if parameters:
        body["parameters"] = parameters
    notes = merged_key_values(annotation_files, annotations, "annotation")
    if notes:
        body["annotations"] = notes
    return body
