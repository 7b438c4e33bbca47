"""The ``squall`` CLI configured and failing as wsk's: ``~/.wskprops`` in a temporary home, ``WSK_CONFIG_FILE``,
flag over environment over file, ``property set|get|unset``, wsk's exit codes, ``-v`` and ``-i``; the console
script run as a user types it, against the real stack."""

from __future__ import annotations

import json
import ssl
import stat
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.conftest import Stack
from tests.integration.squall_cli import SQUALL, squall_at_home

pytestmark = pytest.mark.integration

HELLO = "def main(args):\n    return {'greeting': 'Hello ' + str(args.get('name', 'stranger'))}\n"
FAILS = "def main(args):\n    return {'error': 'no luck'}\n"


def run(stack: Stack, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return squall_at_home(stack, home, *args, **env)


def ok(stack: Stack, home: Path, *args: str, **env: str) -> str:
    done = run(stack, home, *args, **env)
    assert done.returncode == 0, f"squall {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def fails(stack: Stack, home: Path, code: int, *args: str, **env: str) -> str:
    """The command exits ``code`` with ``error: ...`` on stderr; that stderr."""
    done = run(stack, home, *args, **env)
    assert done.returncode == code, f"squall {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.stderr.startswith("error: "), done.stderr
    return done.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def code(tmp_path: Path) -> Path:
    path = tmp_path / "hello.py"
    path.write_text(HELLO)
    return path


def guest_key(stack: Stack) -> str:
    return ":".join(stack.guest)


def test_property_round_trip_then_verbs_from_wskprops_alone(stack: Stack, home: Path, code: Path,
                                                            unique: str) -> None:
    (home / ".wskprops").write_text("# kept\nEDITOR_HINT=vim\n")
    out = ok(stack, home, "property", "set", "--apihost", stack.url, "--auth", guest_key(stack))
    assert out == (f"ok: whisk auth set. Run 'squall property get --auth' to see the new value.\n"
                   f"ok: whisk API host set to {stack.url}\n")
    props = home / ".wskprops"
    assert props.read_text() == f"# kept\nEDITOR_HINT=vim\nAUTH={guest_key(stack)}\nAPIHOST={stack.url}\n"
    assert stat.S_IMODE(props.stat().st_mode) == 0o600

    lines = [line.partition("\t") for line in ok(stack, home, "property", "get").splitlines()]
    shown = {title: value.lstrip("\t") for title, _, value in lines}
    assert list(shown) == ["whisk API host", "whisk auth", "whisk namespace", "client cert", "Client key",
                           "whisk API version", "whisk CLI version", "whisk API build", "whisk API build number"]
    assert (shown["whisk API host"], shown["whisk auth"], shown["whisk namespace"]) == \
        (stack.url, guest_key(stack), "guest")  # the namespace as the server names the key's
    assert (shown["whisk API version"], shown["whisk API build number"]) == ("v1", "squall-0.1.0")
    assert shown["whisk API build"].startswith("20")  # a date, as wsk's tests expect
    assert ok(stack, home, "property", "get", "--namespace", "-o", "raw") == "guest\n"

    # Nothing but the file: create, invoke, list
    assert ok(stack, home, "action", "create", unique, str(code)).strip() == f"ok: created action {unique}"
    assert json.loads(ok(stack, home, "action", "invoke", unique, "-r", "-p", "name", "props")) == \
        {"greeting": "Hello props"}
    assert f"/guest/{unique}" in ok(stack, home, "action", "list", "--limit", "200")

    # A namespace the key may use stands for _; another is refused before it is stored
    assert ok(stack, home, "property", "set", "--namespace", "guest") == "ok: whisk namespace set to guest\n"
    assert f"/guest/{unique}" in ok(stack, home, "action", "list", "--limit", "200")
    assert "not in the list of entitled namespaces" in fails(stack, home, 1, "property", "set", "--namespace", "nope")
    assert "NAMESPACE=guest" in props.read_text() and "nope" not in props.read_text()

    assert ok(stack, home, "property", "unset", "--auth", "--namespace") == (
        "ok: whisk auth unset.\nok: whisk namespace unset; the default value of _ will be used.\n")
    assert props.read_text() == f"# kept\nEDITOR_HINT=vim\nAPIHOST={stack.url}\n"
    error = fails(stack, home, 145, "action", "get", unique)  # 401 - 256
    assert "No key is configured" in error and "squall property set --auth" in error

    ok(stack, home, "action", "delete", unique, "--auth", guest_key(stack))


def test_wsk_config_file_replaces_home_wskprops(stack: Stack, home: Path, tmp_path: Path) -> None:
    (home / ".wskprops").write_text("APIHOST=http://127.0.0.1:1\nAUTH=nobody:nothing\n")
    other = tmp_path / "team.props"
    other.write_text(f"APIHOST={stack.url}\nAUTH={guest_key(stack)}\n")
    assert ok(stack, home, "action", "list", WSK_CONFIG_FILE=str(other)).startswith("actions")
    ok(stack, home, "property", "set", "--apiversion", "v1", WSK_CONFIG_FILE=str(other))
    assert other.read_text().endswith("APIVERSION=v1\n")
    assert "APIVERSION" not in (home / ".wskprops").read_text()
    # set but empty: no file at all, not even ~/.wskprops
    error = fails(stack, home, 145, "action", "list", WSK_CONFIG_FILE="", SQUALL_CLIENT_APIHOST=stack.url)
    assert "No key is configured" in error


def test_flag_over_environment_over_file(stack: Stack, home: Path) -> None:
    uuid = stack.guest[0]
    (home / ".wskprops").write_text(f"APIHOST=http://127.0.0.1:1\nAUTH={uuid}:wrong-in-file\n")
    error = fails(stack, home, 3, "action", "list")
    assert f"APIHOST in {home / '.wskprops'}" in error

    # the environment over the file: wsk's own names and Squall's
    error = fails(stack, home, 145, "action", "list", WHISK_APIHOST=stack.url)
    assert f"The key came from AUTH in {home / '.wskprops'}" in error
    ok(stack, home, "action", "list", WHISK_APIHOST=stack.url, SQUALL_CLIENT_AUTH=guest_key(stack))
    ok(stack, home, "action", "list", SQUALL_CLIENT_APIHOST=stack.url, WHISK_AUTH=guest_key(stack))

    # a flag over the environment, after the verb or before it
    error = fails(stack, home, 145, "action", "list", "--auth", f"{uuid}:wrong-flag",
                  SQUALL_CLIENT_APIHOST=stack.url, SQUALL_CLIENT_AUTH=guest_key(stack))
    assert "The key came from --auth" in error
    ok(stack, home, "--apihost", stack.url, "-u", guest_key(stack), "action", "list")
    ok(stack, home, "action", "list", "--apihost", stack.url, "-u", guest_key(stack))


def test_exit_codes_are_wsks(stack: Stack, home: Path, code: Path, unique: str) -> None:
    env = {"SQUALL_CLIENT_APIHOST": stack.url, "SQUALL_CLIENT_AUTH": guest_key(stack)}
    error = fails(stack, home, 148, "action", "get", unique, **env)  # 404 - 256
    assert "The requested resource does not exist. (code " in error
    ok(stack, home, "action", "create", unique, str(code), **env)
    fails(stack, home, 153, "action", "create", unique, str(code), **env)  # 409 - 256
    failing = code.with_name("fails.py")
    failing.write_text(FAILS)
    ok(stack, home, "action", "update", unique, str(failing), **env)
    # 502 - 256, and as wsk the failed activation goes to stderr (with -r its result), with no error: line
    done = run(stack, home, "action", "invoke", unique, "--blocking", **env)
    assert done.returncode == 246 and done.stdout == "", done.stderr
    header, _, body = done.stderr.partition("\n")
    assert header.startswith(f"ok: invoked /_/{unique} with id ")
    failed = json.loads(body)
    assert failed["activationId"] == header.rsplit(" ", 1)[1]
    assert failed["response"]["status"] == "application error" and "no luck" in json.dumps(failed)
    done = run(stack, home, "action", "invoke", unique, "-r", **env)
    assert done.returncode == 246 and done.stdout == ""
    assert "no luck" in json.dumps(json.loads(done.stderr))
    ok(stack, home, "action", "delete", unique, **env)
    done = run(stack, home, "action", "get", **env)  # no NAME: a usage error, 1 as in wsk
    assert done.returncode == 1 and "Missing argument" in done.stderr


def test_verbose_shows_the_exchange_and_masks_the_key(stack: Stack, home: Path, unique: str) -> None:
    key = stack.guest[1]
    for args in (("-v", "action", "get", unique), ("action", "get", unique, "--verbose")):
        done = run(stack, home, *args, SQUALL_CLIENT_APIHOST=stack.url, SQUALL_CLIENT_AUTH=guest_key(stack))
        assert done.returncode == 148
        lines = done.stdout.splitlines()  # wsk prints the exchange on stdout
        assert lines[:2] == ["REQUEST:", f"[GET]\t{stack.url}/api/v1/namespaces/_/actions/{unique}"]
        assert '"Basic ********"' in done.stdout
        assert "RESPONSE:" in lines and "Got response with code 404" in lines
        assert "The requested resource does not exist." in done.stdout  # the body, as received
        assert key not in done.stdout + done.stderr


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server calls it by this name
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet: the test reads the CLI, not the server
        return


@contextmanager
def tls_server(tmp_path: Path, client_cert: bool = False) -> Iterator[tuple[str, Path, Path]]:
    """An HTTPS server with a self-signed certificate, answering every GET with ``[]``: its URL, certificate and
    key. With ``client_cert`` it accepts only clients presenting that same certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cert)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert, key
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_insecure_skips_the_certificate_check(stack: Stack, home: Path, tmp_path: Path) -> None:
    with tls_server(tmp_path) as (url, _, _):
        env = {"SQUALL_CLIENT_APIHOST": url, "SQUALL_CLIENT_AUTH": "u:k"}
        error = fails(stack, home, 3, "action", "list", **env)
        assert "CERTIFICATE_VERIFY_FAILED" in error
        assert ok(stack, home, "action", "list", "-i", **env) == "actions\n"
        assert ok(stack, home, "--insecure", "action", "list", **env) == "actions\n"


def test_client_certificate_from_cert_and_key(stack: Stack, home: Path, tmp_path: Path) -> None:
    with tls_server(tmp_path, client_cert=True) as (url, cert, key):
        ok(stack, home, "property", "set", "--apihost", url, "--auth", "u:k")
        fails(stack, home, 3, "action", "list", "-i")  # the server wants a certificate
        out = ok(stack, home, "property", "set", "--cert", str(cert), "--key", str(key))
        assert out == ("ok: client cert set. Run 'squall property get --cert' to see the new value.\n"
                       "ok: client key set. Run 'squall property get --key' to see the new value.\n")
        assert ok(stack, home, "action", "list", "-i") == "actions\n"
        assert ok(stack, home, "property", "get", "--cert", "-o", "raw") == f"{cert}\n"


def test_completion_script_from_the_console_script() -> None:
    done = subprocess.run([SQUALL], env={"_SQUALL_COMPLETE": "bash_source", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "complete -o nosort -F _squall_completion squall" in done.stdout
