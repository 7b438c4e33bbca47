"""Web actions on the real stack (gunicorn controller, RabbitMQ, Redis, pouchdb-server, an invoker with Docker):
``/api/v1/web/guest/...`` without a key, Python actions in real containers."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.npm import CLIENT_DIR
from tests.integration.conftest import Stack
from tests.integration.helpers import put_action, wait_for_record

pytestmark = pytest.mark.integration

WEB = [{"key": "web-export", "value": True}, {"key": "raw-http", "value": False}, {"key": "final", "value": True}]
ECHO = "def main(args):\n    return args\n"
GREET = "def main(args):\n    return {'greeting': 'Hello ' + args.get('name', 'stranger'), 'n': args.get('n')}\n"
REDIRECT = ("def main(args):\n"
            "    return {'statusCode': 201, 'headers': {'X-Made-By': 'squall', 'Set-Cookie': ['a=1', 'b=2']},\n"
            "            'body': '<p>' + args['__ow_method'] + ' ' + args['__ow_path'] + '</p>'}\n")
ADD = "def main(args):\n    return {'value': int(args.get('value', 0)) + 1}\n"


def web(name: str) -> str:
    return f"/api/v1/web/guest/default/{name}"


@pytest.fixture
def anonymous(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=90.0) as client:
        yield client


def test_json_get_with_query_parameters(api: httpx.Client, anonymous: httpx.Client, unique: str) -> None:
    put_action(api, unique, GREET, annotations=WEB)
    response = anonymous.get(web(f"{unique}.json"), params={"name": "Jane", "n": "2"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"greeting": "Hello Jane", "n": "2"}
    assert response.headers["access-control-allow-origin"] == "*"
    record = wait_for_record(api, response.headers["x-openwhisk-activation-id"])
    assert record["namespace"] == "guest" and record["subject"] == "guest"


def test_http_action_sets_status_and_headers(api: httpx.Client, anonymous: httpx.Client, unique: str) -> None:
    put_action(api, unique, REDIRECT, annotations=WEB)
    response = anonymous.post(web(f"{unique}/a/b"), json={"x": 1})
    assert response.status_code == 201, response.text
    assert response.headers["x-made-by"] == "squall"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["content-type"] == "text/html; charset=UTF-8"
    assert response.text == "<p>post /a/b</p>"


def test_not_exported_is_404(api: httpx.Client, anonymous: httpx.Client, unique: str) -> None:
    put_action(api, unique, ECHO)
    response = anonymous.get(web(f"{unique}.json"))
    assert response.status_code == 404
    assert response.json()["error"] == "The requested resource does not exist."


def test_web_sequence(api: httpx.Client, anonymous: httpx.Client, unique: str) -> None:
    put_action(api, f"{unique}-a", ADD)
    put_action(api, f"{unique}-b", ADD)
    created = api.put(f"/api/v1/namespaces/_/actions/{unique}", json={
        "exec": {"kind": "sequence", "components": [f"/_/{unique}-a", f"/_/{unique}-b"]}, "annotations": WEB})
    assert created.status_code == 200, created.text
    response = anonymous.get(web(f"{unique}.json"), params={"value": "40"})
    assert response.status_code == 200, response.text
    assert response.json() == {"value": 42}
    assert len(response.headers["x-openwhisk-activation-id"]) == 32


def test_raw_http(api: httpx.Client, anonymous: httpx.Client, unique: str) -> None:
    raw = [{"key": "web-export", "value": True}, {"key": "raw-http", "value": True}]
    put_action(api, unique, ECHO, annotations=raw)
    response = anonymous.post(web(f"{unique}.json"), params={"a": "1"}, content="plain text",
                              headers={"content-type": "text/plain"})
    assert response.status_code == 200, response.text
    got: dict[str, Any] = response.json()
    assert (got["__ow_query"], got["__ow_body"], got["__ow_method"]) == ("a=1", "plain text", "post")
    assert "a" not in got
    binary = anonymous.post(web(f"{unique}.json"), content=b"\x00\x01", headers={"content-type": "image/png"})
    assert binary.json()["__ow_body"] == base64.b64encode(b"\x00\x01").decode()


def test_require_whisk_auth(api: httpx.Client, anonymous: httpx.Client, stack: Stack, unique: str) -> None:
    put_action(api, unique, ECHO, annotations=[*WEB, {"key": "require-whisk-auth", "value": True}])
    refused = anonymous.get(web(f"{unique}.json"))
    assert refused.status_code == 401
    assert set(refused.json()) == {"error", "code"}
    allowed = anonymous.get(web(f"{unique}.json"), auth=stack.other)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["__ow_user"] == "other"
    put_action(api, f"{unique}-s", ECHO, annotations=[*WEB, {"key": "require-whisk-auth", "value": "s3cret"}])
    assert anonymous.get(web(f"{unique}-s.json")).status_code == 401
    assert anonymous.get(web(f"{unique}-s.json"), headers={"X-Require-Whisk-Auth": "s3cret"}).status_code == 200


def test_options_answers_cors_without_running(api: httpx.Client, anonymous: httpx.Client, unique: str) -> None:
    put_action(api, unique, ECHO, annotations=WEB)
    response = anonymous.options(web(f"{unique}.json"),
                                 headers={"Access-Control-Request-Headers": "X-Custom"})
    assert response.status_code == 200 and response.content == b""
    assert response.headers["access-control-allow-headers"] == "X-Custom"
    assert "x-openwhisk-activation-id" not in response.headers


NPM_SCRIPT = """
const openwhisk = require('openwhisk');
(async () => {
  const [apihost, apiKey, name] = process.argv.slice(1);
  const ow = openwhisk({ apihost, api_key: apiKey });
  const seen = {};
  // The client sends an action given as an object as it is: how an application sets annotations.
  await ow.actions.create({ name, action: {
    exec: { kind: 'python:default', code: "def main(args):\\n    return {'hi': args.get('who')}\\n" },
    annotations: [{ key: 'web-export', value: true }] } });
  const response = await fetch(`${apihost}/api/v1/web/guest/default/${name}.json?who=npm`);
  seen.status = response.status;
  seen.body = await response.json();
  seen.activationId = response.headers.get('x-openwhisk-activation-id');
  await ow.actions.delete({ name });
  console.log(JSON.stringify(seen));
})().catch(err => { console.error(err); process.exit(1); });
"""


def test_npm_client_made_web_action(stack: Stack, unique: str) -> None:
    """An action the npm ``openwhisk`` client (unchanged) creates with ``web-export``, fetched without a key."""
    node = shutil.which("node")
    if node is None or not (CLIENT_DIR / "node_modules" / "openwhisk").is_dir():
        pytest.skip("node or the npm openwhisk client is missing; run tests/services.sh")
    done = subprocess.run([node, "-e", NPM_SCRIPT, stack.url, ":".join(stack.guest), unique],
                          env={**os.environ, "NODE_PATH": str(CLIENT_DIR / "node_modules")},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["status"] == 200 and seen["body"] == {"hi": "npm"}
    assert len(seen["activationId"]) == 32
