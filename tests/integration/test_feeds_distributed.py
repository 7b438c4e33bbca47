"""Feeds in the distributed stack with no hand configuration: an invoker that is not told where actions reach the
API gives Docker containers an address they reach (the action network's gateway); ``squall admin catalog install``
works on a fresh store; a feed trigger created as ``wsk trigger create T --feed /whisk.system/alarms/once -p date
...`` leaves a CREATE record that answers as OpenWhisk's alarms feed does, holds no key and has its logs."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from bench.stack import (
    GUEST_AUTH,
    RunningStack,
    free_port,
    new_run_id,
    remove_containers,
    squall,
    stack_env,
    start,
    start_stack,
    stop,
    wait_ready,
)
from config.defaults import INVOKER_NETWORK
from tests.integration.conftest import Stack
from tests.integration.helpers import invoke, put_action, wait_for_record
from workers.logs import COLLECTION_WARNING, DEVELOPER_ERROR_WARNING

pytestmark = pytest.mark.integration

NS = "/api/v1/namespaces/_"
ONCE = "/api/v1/namespaces/whisk.system/actions/alarms/once"
WELL_KNOWN_SYSTEM_UUID = "789c46b1-71f6-4ed5-8c54-816aa4f8c502"
CALL_BACK = """
import os, urllib.request

def main(args):
    host = os.environ["__OW_API_HOST"]
    with urllib.request.urlopen(host + "/api/v1", timeout=10) as reply:
        return {"status": reply.status, "api_host": host}
"""


@pytest.fixture(scope="module")
def unconfigured(couchdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Controller and invoker as a first deployment on one host has them: the controller's API host on 127.0.0.1
    and no ``invoker.api_host``; the controller listens on every address, as the invoker's start log advises."""
    base = {k: v for k, v in os.environ.items() if k != "SQUALL_INVOKER_API_HOST"}
    env = stack_env(base, couchdb_url, new_run_id(), free_port(), {
        "SQUALL_CONTROLLER_HOST": "0.0.0.0",
        "SQUALL_CONTROLLER_WORKERS": "1",
        "SQUALL_INVOKER_THREADS": "2",
    })
    squall(env, "admin", "seed")
    running = start_stack(env, tmp_path_factory.mktemp("unconfigured"))
    try:
        yield running
    finally:
        running.stop()


def _gateway(network: str) -> str:
    client = docker.from_env()
    try:
        return str(client.networks.get(network).attrs["IPAM"]["Config"][0]["Gateway"]).split("/")[0]
    finally:
        client.close()


def test_an_invoker_with_no_api_host_gives_docker_actions_one_they_reach(unconfigured: RunningStack) -> None:
    with httpx.Client(base_url=unconfigured.url, auth=GUEST_AUTH, timeout=90.0) as api:
        put_action(api, "callback", CALL_BACK)
        answer = invoke(api, "callback", blocking="true", result="true")
    port = unconfigured.env["SQUALL_CONTROLLER_PORT"]
    reached = f"http://{_gateway(INVOKER_NETWORK)}:{port}"
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": 200, "api_host": reached}  # not 127.0.0.1: that is the container itself
    log = (unconfigured.logs / "invoker.log").read_text(errors="replace")
    assert f"actions call the API at {reached} (__OW_API_HOST)" in log


def test_an_invoker_says_what_to_set_when_the_controller_listens_on_loopback_only(
        couchdb_url: str, tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("SQUALL_INVOKER_API_HOST", "SQUALL_CONTROLLER_HOST")}
    env = stack_env(base, couchdb_url, new_run_id(), free_port())
    log = tmp_path / "invoker.log"
    invoker = start(env, log, "invoker")
    try:
        wait_ready(lambda: "ready." in log.read_text(errors="replace"), "invoker", [invoker], log)
    finally:
        stop(invoker)
        remove_containers(env["SQUALL_INVOKER_NAME"])
    gateway = _gateway(INVOKER_NETWORK)
    said = log.read_text(errors="replace")
    assert f"actions call the API at http://{gateway}:{env['SQUALL_CONTROLLER_PORT']} (__OW_API_HOST)" in said
    assert (f"a controller with these settings listens on 127.0.0.1 only (controller.host), where actions cannot "
            f"reach it: start it with SQUALL_CONTROLLER_HOST={gateway} (or 0.0.0.0)") in said


def test_catalog_install_on_a_fresh_store_makes_the_system_subject(couchdb_url: str) -> None:
    env = stack_env(os.environ, couchdb_url, new_run_id(), free_port())  # a database prefix nobody used
    installed = squall(env, "admin", "catalog", "install").splitlines()
    assert installed[0] == "created subject whisk.system for namespace whisk.system (random key, not shown)"
    assert "installed /whisk.system/alarms/once" in installed
    owners = [line.split("\t") for line in squall(env, "admin", "user", "list").splitlines()]
    system = [row for row in owners if row[1] == "whisk.system"]
    assert len(system) == 1 and system[0][2] != WELL_KNOWN_SYSTEM_UUID  # not the key everyone knows
    assert squall(env, "admin", "catalog", "install") == "catalog is up to date"
    assert squall(env, "admin", "seed") == "created: guest"  # whisk.system keeps its own key


def _feed(api: httpx.Client, event: str, trigger: str, **params: Any) -> httpx.Response:
    """The feed invoke ``wsk trigger create/get/delete --feed`` sends: blocking, the caller's key as ``authKey``."""
    body = {**params, "lifecycleEvent": event, "triggerName": f"/_/{trigger}", "authKey": ":".join(GUEST_AUTH)}
    return api.post(ONCE, params={"blocking": "true", "result": "false"}, json=body)


def _texts(record: dict[str, Any]) -> list[str]:
    return [line.split(": ", 1)[1] for line in record["logs"]]


def test_a_once_feed_record_answers_like_openwhisk_keeps_no_key_and_has_its_logs(
        stack: Stack, api: httpx.Client, unique: str) -> None:
    squall(stack.env, "admin", "catalog", "install")
    notes = {"annotations": [{"key": "feed", "value": "/whisk.system/alarms/once"}]}
    assert api.put(f"{NS}/triggers/{unique}", json=notes).status_code == 200
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))

    created = _feed(api, "CREATE", unique, date=date, trigger_payload={"x": 1})
    assert created.status_code == 200, created.text
    assert created.json()["response"]["result"] == {"status": "success"}  # alarmWebAction's answer
    record = wait_for_record(api, created.json()["activationId"])
    assert GUEST_AUTH[1] not in json.dumps(record)  # neither in the result nor in the logs
    assert _texts(record) == [f"alarm: CREATE of the once feed for trigger /guest/{unique}: success"]
    assert api.get(f"{NS}/alarms/{unique}").json()["config"]["trigger_payload"] == {"x": 1}

    read = _feed(api, "READ", unique)
    assert read.json()["response"]["result"]["config"]["date"] > time.time() * 1000
    again = _feed(api, "CREATE", unique, date=date)
    assert again.status_code == 502
    failed = wait_for_record(api, again.json()["activationId"])
    assert failed["response"]["result"] == {"error": f"an alarm for trigger /guest/{unique} already exists"}
    assert GUEST_AUTH[1] not in json.dumps(failed)
    assert _texts(failed) == [f"alarm: CREATE for trigger /guest/{unique} failed (409): an alarm for trigger "
                              f"/guest/{unique} already exists"]
    assert not {COLLECTION_WARNING, DEVELOPER_ERROR_WARNING} & {*_texts(record), *_texts(failed)}
    deleted = _feed(api, "DELETE", unique)
    assert deleted.json()["response"]["result"] == {"status": "success"}
    assert api.get(f"{NS}/alarms/{unique}").status_code == 404
