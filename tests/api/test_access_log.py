"""The controller's one line per request (``app.controller.access_log``): its fields, the transaction id on it and
on the activation message, and nothing of what the tenant sent."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import request_finished

from app.controller.access_log import log as access_log
from app.log_format import configure_logging, formatter
from tests.api.conftest import NO_AUTH, NS, Api, error

pytestmark = pytest.mark.api

SECRET = "s3cret-query-and-body"


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == access_log.name]


def test_one_line_per_request_with_the_callers_id_and_the_activation(api: Api,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    api.action("echo")
    caplog.set_level(logging.INFO, logger=access_log.name)
    caplog.clear()
    response = api.post(f"{NS}/actions/echo", {"password": SECRET}, query={"blocking": "true", "p": SECRET},
                        headers={"X-Request-ID": "my-request-1"})
    [line] = request_lines(caplog)
    activation_id = response.headers["x-openwhisk-activation-id"]
    assert api.dispatcher.message(activation_id).transaction_id == "my-request-1"  # carried to the invoker
    assert {k: getattr(line, k) for k in ("tid", "method", "path", "status", "namespace", "subject",
                                          "activation_id")} == {
        "tid": "my-request-1", "method": "POST", "path": f"{NS}/actions/echo", "status": 200,
        "namespace": api.ns, "subject": api.ns, "activation_id": activation_id}
    assert isinstance(line.duration_ms, float) and line.duration_ms >= 0
    formatted = formatter("json").format(line)
    assert SECRET not in formatted and api.auth[1] not in formatted  # no query, body or key
    assert json.loads(formatted)["message"] == f"POST {NS}/actions/echo 200 {line.duration_ms} ms"


def test_a_refused_request_has_its_line_and_its_code_is_the_lines_tid(api: Api,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=access_log.name)
    caplog.clear()
    response = api.get(f"{NS}/actions", auth=NO_AUTH)
    error(response, 401)
    tid = response.get_json()["code"]
    [line] = request_lines(caplog)
    assert (line.tid, line.status, line.path) == (tid, 401, f"{NS}/actions")
    assert not hasattr(line, "namespace") and not hasattr(line, "activation_id")


def test_lines_written_while_handling_a_request_carry_its_id(api: Api) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    configure_logging("json", stream=out)

    def inside(_sender: object, **_: object) -> None:  # written by code of ours while the request is handled
        logging.getLogger("app.elsewhere").warning("inside the request")

    request_finished.connect(inside)
    try:
        api.get(f"{NS}/actions", headers={"X-Request-ID": "tid-for-every-line"})
        logging.getLogger("app.elsewhere").info("after the request")
    finally:
        request_finished.disconnect(inside)
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(obj["logger"], obj.get("tid")) for obj in lines] == [
        (access_log.name, "tid-for-every-line"), ("app.elsewhere", "tid-for-every-line"), ("app.elsewhere", None)]
