"""Strict JSON (``app.core.strict_json``), and an action result that is not: NaN, Infinity, a lone surrogate or
too deep a nesting from ``/run`` is a developer error record (an invalid result), never a record the store
refuses (issue 14, finding 4)."""

from __future__ import annotations

import json

import pytest

from app.core import strict_json
from app.core.entities import Status
from app.core.strict_json import MAX_DEPTH, NotStrictJson
from workers.invoker import run_outcome
from workers.proxy_client import ProxyResponse

pytestmark = pytest.mark.unit

NOT_STRICT = {
    "nan": '{"x": NaN}',
    "infinity": "[Infinity]",
    "minus-infinity": "[-Infinity]",
    "overflowing-float": "[1e400]",
    "overflowing-digits": "[1" + "0" * 400 + ".5]",
    "lone-high-surrogate": '["\\ud800"]',
    "lone-low-surrogate": '{"k": "a\\udfffb"}',
    "reversed-pair": '["\\ude00\\ud83d"]',
    "surrogate-key": '{"\\ud800": 1}',
    "one-level-too-deep": "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    "deep-objects": '{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1),
    "deeper-than-the-stack": "[" * 100_000,
}


@pytest.mark.parametrize("text", NOT_STRICT.values(), ids=NOT_STRICT.keys())
def test_what_python_reads_beyond_json_is_refused(text: str) -> None:
    with pytest.raises(NotStrictJson):
        strict_json.loads(text)
    with pytest.raises(NotStrictJson):
        strict_json.loads(text.encode())


@pytest.mark.parametrize("text", ["9" * 5000, "[1,]", "{'a': 1}", "\ufeff{}"])
def test_what_is_not_json_at_all_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        strict_json.loads(text)


def test_bytes_must_be_unicode_without_surrogates() -> None:
    with pytest.raises(UnicodeDecodeError):
        strict_json.loads(b'"\xed\xa0\x80"')  # a surrogate encoded in the bytes: not UTF-8
    with pytest.raises(UnicodeDecodeError):
        strict_json.loads(b'"\xff"')
    assert strict_json.loads(b"\xef\xbb\xbf[1]") == [1]  # a UTF-8 mark, as json.loads reads bytes
    assert strict_json.loads('["x"]'.encode("utf-16")) == ["x"]


@pytest.mark.parametrize("text", [
    '{"a": [1, 2.5, -0.0, 1e308, "text", true, false, null]}',
    '["\\ud83d\\ude00", "\\\\ud800", "caf\\u00e9"]',
    "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    "[" + ",".join(["[]"] * 1000) + "]",  # many brackets, shallow
    "123" + "4" * 4000,
])
def test_strict_json_reads_as_json_does(text: str) -> None:
    assert strict_json.loads(text) == json.loads(text)


def test_check_walks_decoded_values_without_recursing() -> None:
    deep: list[object] = []
    for _ in range(50_000):
        deep = [deep]
    with pytest.raises(NotStrictJson):
        strict_json.check(deep)
    with pytest.raises(NotStrictJson):
        strict_json.check({"a": [1, {"b": float("nan")}]})
    strict_json.check({"a": [1, {"b": 2.5, "c": "\U0001f600"}]})


# --- an action's result ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": -Infinity}', b'{"error": NaN}',
                                 b'{"x": 1e999}', b'{"x": "\\ud800"}', b'[NaN]',
                                 b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)],
                         ids=["nan", "infinity", "minus-infinity", "nan-error", "overflow", "surrogate", "array",
                              "too-deep"])
def test_a_result_that_is_not_strict_json_is_a_developer_error(raw: bytes) -> None:
    outcome = run_outcome(ProxyResponse.parse(200, raw), 1_048_576)
    assert outcome.status == Status.DEVELOPER_ERROR
    message = outcome.result["error"]
    assert message.startswith("The action did not produce a valid JSON or JSON Array response: ")
    json.dumps(outcome.result, allow_nan=False).encode("utf-8")  # the record holds strict JSON only


def test_a_strict_result_is_still_a_success() -> None:
    outcome = run_outcome(ProxyResponse.parse(200, b'{"x": 1.5, "y": "\\ud83d\\ude00"}'), 1_048_576)
    assert outcome.status == Status.SUCCESS and outcome.result == {"x": 1.5, "y": "\U0001f600"}


def test_a_stored_lone_surrogate_still_reaches_the_proxy_and_a_nan_result_comes_back_as_not_json() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from workers.proxy_client import ProxyClient

    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            body = b'{"x": NaN}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    client = ProxyClient("127.0.0.1", server.server_address[1])
    try:
        response = client.run({"value": {"s": "\ud800", "t": "caf\u00e9"}}, 5)
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    assert json.loads(received[0].decode("utf-8"))["value"] == {"s": "\ud800", "t": "caf\u00e9"}  # sent escaped
    assert not response.is_json
    assert run_outcome(response, 1_048_576).status == Status.DEVELOPER_ERROR
