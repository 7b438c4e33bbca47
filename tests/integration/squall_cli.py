"""Running the ``squall`` console script as a user does, against the test stack, for the client-verb tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import Stack

SQUALL = str(Path(sys.executable).with_name("squall"))


def squall(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**stack.env, "SQUALL_CLIENT_APIHOST": stack.url, "SQUALL_CLIENT_AUTH": ":".join(stack.guest)}
    return subprocess.run([SQUALL, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def squall_at_home(stack: Stack, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``squall`` as a user whose only configuration is ``home`` (its ``.wskprops``) and ``env``: none of the
    client variables of the test run (``SQUALL_CLIENT_*``, ``WHISK_*``, ``WSK_CONFIG_FILE``) reaches it."""
    inherited = {k: v for k, v in stack.env.items()
                 if not k.startswith(("SQUALL_CLIENT_", "WHISK_")) and k != "WSK_CONFIG_FILE"}
    return subprocess.run([SQUALL, *args], env={**inherited, "HOME": str(home), **env}, capture_output=True,
                          text=True, timeout=120, check=False)


def ok(stack: Stack, *args: str) -> str:
    done = squall(stack, *args)
    assert done.returncode == 0, f"squall {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def json_after_ok_line(out: str) -> object:
    """``ok: got ...`` then the JSON entity."""
    first, _, rest = out.partition("\n")
    assert first.startswith("ok: "), out
    return json.loads(rest)
