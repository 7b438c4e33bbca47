"""``squall action invoke`` ends as wsk does when a blocking invoke does not finish in time or its action failed,
against a scripted server (what the controller answers in those cases is tested in the API and integration
tests; here only how the CLI reports it)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from app.cli.main import cli

pytestmark = pytest.mark.unit

AID = "0123456789abcdef0123456789abcdef"


class Scripted:
    """A local server answering every POST with ``status`` and ``body``."""

    def __init__(self) -> None:
        self.status, self.body = 200, {}
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                data = json.dumps(scripted.body).encode()
                self.send_response(scripted.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def invoke(scripted: Scripted, *flags: str) -> Any:
    env = {"SQUALL_CLIENT_APIHOST": scripted.url, "SQUALL_CLIENT_AUTH": "u:k", "WSK_CONFIG_FILE": ""}
    return CliRunner().invoke(cli, ["action", "invoke", "hello", *flags], env=env)


def test_a_blocking_invoke_that_outlasts_the_wait_exits_202_with_its_id_on_stderr(scripted: Scripted) -> None:
    scripted.status, scripted.body = 202, {"activationId": AID}
    done = invoke(scripted, "--blocking")
    assert done.exit_code == 202 and done.stdout == ""
    assert done.stderr == f"ok: invoked /_/hello, but the request has not yet finished, with id {AID}\n"


def test_a_failed_action_prints_the_activation_on_stderr_and_exits_246(scripted: Scripted) -> None:
    activation = {"activationId": AID, "response": {"status": "application error", "result": {"error": "no"}}}
    scripted.status, scripted.body = 502, activation
    done = invoke(scripted, "--blocking")
    assert done.exit_code == 246 and done.stdout == ""
    header, _, rest = done.stderr.partition("\n")
    assert header == f"ok: invoked /_/hello with id {AID}" and json.loads(rest) == activation
    scripted.body = {"error": "no"}  # with -r the answer is the result alone
    done = invoke(scripted, "-r")
    assert done.exit_code == 246 and json.loads(done.stderr) == {"error": "no"}


def test_the_platforms_own_502_is_an_error_line(scripted: Scripted) -> None:
    scripted.status, scripted.body = 502, {"error": "The action did not initialize.", "code": "abc"}
    done = invoke(scripted, "-r")
    assert done.exit_code == 246 and done.stderr.startswith("error: The action did not initialize.")


def test_a_finished_blocking_invoke_prints_on_stdout(scripted: Scripted) -> None:
    scripted.status, scripted.body = 200, {"activationId": AID, "response": {"result": {"ok": True}}}
    done = invoke(scripted, "--blocking")
    assert done.exit_code == 0 and done.stdout.startswith(f"ok: invoked /_/hello with id {AID}\n")
    scripted.body = {"ok": True}
    assert json.loads(invoke(scripted, "-r").stdout) == {"ok": True}


def test_an_error_told_in_other_words_keeps_its_exit_code() -> None:
    from app.cli.client import ClientError

    unreachable = ClientError(0, "Could not reach the controller", 3).saying("Unable to configure feed: ...")
    assert (unreachable.status, unreachable.exit_code, unreachable.message) == (0, 3, "Unable to configure feed: ...")
    assert ClientError(404, "gone").saying("Unable to get action 'x': gone").exit_code == 148
