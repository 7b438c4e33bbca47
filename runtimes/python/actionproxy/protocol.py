"""What the proxy, its launcher and the invoker agree on: sentinel, messages, result-pipe tags."""

from __future__ import annotations

import json

# Written on stdout and stderr after every /run and every failed /init; the invoker reads logs up to it.
SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

# OpenWhisk's own wording, which clients and tests match on.
NO_CODE = "Missing main/no code to execute."
REINIT = "Cannot initialize the action more than once."
NOT_A_DICT = "The action did not return a dictionary or array."
NOT_AN_ARGUMENT = "The action did not receive a dictionary or array as an argument."
"""A /run whose body or ``value`` is neither an object nor an array: 404, as OpenWhisk's reference proxy."""
EXITED_ON_RUN = "The action did not produce a valid response and exited unexpectedly."
OUT_OF_MEMORY = "The action exhausted its memory and was aborted."
"""What an activation that ran out of memory is recorded with, as the invoker words the same end in Docker."""
NOT_INITIALIZED = "Cannot run the action: it has not been initialized (POST /init first)."

# Launcher -> proxy, one line per message on the result pipe: a tag byte, then JSON, then "\n".
# A tag instead of a JSON envelope lets the proxy pass a result through without parsing it.
TAG_READY = b"K"  # init succeeded; payload: true
TAG_INIT_ERROR = b"E"  # init failed; payload: message string
TAG_RESULT = b"R"  # run finished; payload: whatever main returned
TAG_BAD_RESULT = b"X"  # run finished with a value JSON cannot carry; payload: message string


def env_string(value: object) -> str:
    """Environment values are strings: strings raw, null empty, everything else compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
