"""``squall admin invokers`` and the admin invokers page against the suite's running stack: its invoker is up,
with the capacity it announces (2048 MB, 4 threads), its host, when it was last seen and its load."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from bench.stack import SQUALL, free_port, squall
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

_TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _run(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SQUALL, *args], env=dict(env), capture_output=True, text=True, timeout=60, check=False)


def _row(table: str, name: str) -> str:
    rows = [line for line in table.splitlines() if line.split(" ", 1)[0] == name]
    assert len(rows) == 1, table
    return rows[0]


def test_the_table_shows_the_stack_invoker_up_with_its_capacity(stack: Stack) -> None:
    out = squall(stack.env, "admin", "invokers")
    header = out.splitlines()[0]
    for column in ("INVOKER", "HOST", "HEALTH", "CAPACITY", "IN FLIGHT", "MEMORY IN USE", "CONTAINERS", "QUEUED",
                   "PLACED/MIN"):
        assert column in header, out
    row = _row(out, stack.invoker_name)
    assert re.search(r"\bup, seen \d+\.\d s ago\b", row), row
    assert "2048 MB, 4 threads" in row and "/2048 MB" in row and socket.gethostname() in row, row
    assert re.search(r"\b\d+/4\b", row), row  # in flight / threads
    assert "not in SQUALL_INVOKER_QUEUES" not in out  # the stack's allow-list names its invoker


def test_json_describes_each_invoker_for_scripts(stack: Stack) -> None:
    found: list[dict[str, Any]] = json.loads(squall(stack.env, "admin", "invokers", "--json"))
    ours = next(i for i in found if i["name"] == stack.invoker_name)
    assert ours["healthy"] is True and ours["configured"] is True
    assert ours["capacity_mb"] == 2048 and ours["threads"] == 4
    assert ours["hostname"] == socket.gethostname()
    assert 0 <= ours["seen_s"] < 3.0  # announced within the silent-after time
    assert isinstance(ours["queued"], int) and isinstance(ours["in_flight"], int)
    assert isinstance(ours["placements_per_minute"], int) and 0 <= ours["used_mb"] <= 2048
    assert "free" in ours["containers"]


def test_an_invoker_outside_the_allow_list_is_marked(stack: Stack) -> None:
    env = {**stack.env, "SQUALL_INVOKER_QUEUES": "no-such-invoker"}
    out = squall(env, "admin", "invokers")
    assert _row(out, f"{stack.invoker_name}").startswith(f"{stack.invoker_name} *")
    assert "down" in _row(out, "no-such-invoker")  # allowed, but it never announced itself
    assert "not in SQUALL_INVOKER_QUEUES" in out


def test_an_unreachable_redis_says_what_to_do(stack: Stack) -> None:
    done = _run({**stack.env, "SQUALL_RESULT_BACKEND": f"redis://127.0.0.1:{free_port()}/0"}, "admin", "invokers")
    assert done.returncode == 1
    assert "Is Redis running" in done.stderr and "SQUALL_RESULT_BACKEND" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_admin_page_shows_host_last_seen_threads_and_placements(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=30.0) as browser:
        login = browser.get("/admin/login")
        token = _TOKEN.search(login.text)
        assert token, login.text
        done = browser.post("/admin/login", data={"login": stack.operator[0], "password": stack.operator[1],
                                                  "csrf_token": token.group(1)})
        assert done.status_code == 302
        page = browser.get("/admin/invokers")
    assert page.status_code == 200
    head = page.text.split("<tbody>", 1)[0]
    for column in ("host", "last seen", "in flight / threads", "placements / min"):
        assert f">{column}</th>" in head, head
    row = next(r for r in page.text.split("<tr>") if f"<td>{stack.invoker_name}" in r)
    assert ">up<" in row and f'<td class="host">{socket.gethostname()}</td>' in row, row
    assert re.search(r'class="n seen nowrap">\d+\.\d s ago<', row), row
    assert re.search(r'class="n threads nowrap">\d+ / 4<', row), row
    assert re.search(r'class="n placements">\d+<', row) and "2048 MB" in row, row
    assert "SQUALL_INVOKER_QUEUES" in page.text and "squall admin invokers" in page.text
