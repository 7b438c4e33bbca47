"""Alarms end to end: the provider API the feed actions call, and ``squall scheduler`` firing a trigger every
two seconds across a restart of the scheduler, with no slot fired twice
(https://github.com/apache/openwhisk/blob/master/docs/feeds.md)."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bench.stack import SQUALL, start, stop, wait_ready
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

NS = "/api/v1/namespaces/_"
ECHO = "def main(args):\n    return args\n"
DEADLINE_S = 90.0


class Scheduler:
    """``squall scheduler`` as a process that the test can stop and start again."""

    def __init__(self, stack: Stack) -> None:
        self.env = {**stack.env, "SQUALL_SCHEDULER_QUEUE": f"alarms-{secrets.token_hex(4)}"}
        self.logs = stack.logs
        self.starts = 0
        self.process: Any = None

    def start(self) -> None:
        self.starts += 1
        log = self.logs / f"scheduler-{self.starts}.log"
        self.process = start(self.env, log, "scheduler")
        wait_ready(lambda: "ready." in log.read_text(errors="replace"), "scheduler", [self.process], log)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@pytest.fixture
def scheduler(stack: Stack) -> Iterator[Scheduler]:
    running = Scheduler(stack)
    try:
        yield running
    finally:
        running.stop()


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def activations(api: httpx.Client, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(f"{NS}/activations", params={"name": name, "limit": 200,
                                                                       "docs": "true"}).json()
    return found


def make_rule(api: httpx.Client, unique: str) -> None:
    assert api.put(f"{NS}/actions/{unique}-echo", json={"exec": {"kind": "python:default", "code": ECHO}}).is_success
    assert api.put(f"{NS}/triggers/{unique}", json={"annotations": [
        {"key": "feed", "value": "/whisk.system/alarms/alarm"}]}).is_success
    assert api.put(f"{NS}/rules/{unique}-r", json={"trigger": f"/_/{unique}", "action": f"/_/{unique}-echo"}).is_success


def test_provider_api_validates_and_keeps_nothing_half_created(api: httpx.Client, unique: str) -> None:
    alarms = f"{NS}/alarms/{unique}"
    nothing = api.put(alarms, json={"kind": "alarm", "cron": "* * * * *"})
    assert nothing.status_code == 404 and nothing.json()["error"] == f"trigger /guest/{unique} does not exist"
    assert api.put(f"{NS}/triggers/{unique}", json={}).is_success
    bad = api.put(alarms, json={"kind": "alarm", "cron": "every minute"})
    assert bad.status_code == 400 and bad.json()["error"] == "cron pattern 'every minute' is not valid"
    assert api.put(alarms, json={"kind": "interval", "minutes": 0}).status_code == 400
    assert api.put(alarms, json={"kind": "once", "date": "2001-01-01T00:00:00Z"}).status_code == 400
    assert api.put(alarms, json={"kind": "alarm", "cron": "0 9 * * *", "timezone": "Mars/Base"}).status_code == 400
    assert api.get(alarms).status_code == 404  # no failed CREATE left anything behind

    created = api.put(alarms, json={"kind": "alarm", "cron": "0 9 * * 1", "timezone": "Europe/Paris",
                                    "trigger_payload": {"x": 1}})
    assert created.status_code == 200, created.text
    read = api.get(alarms).json()
    assert read["config"]["cron"] == "0 9 * * 1" and read["config"]["trigger_payload"] == {"x": 1}
    assert read["status"]["active"] is True and read["status"]["nextFire"] > 0
    assert api.put(alarms, json={"kind": "alarm", "cron": "* * * * *"}).status_code == 409
    updated = api.put(alarms, params={"overwrite": "true"}, json={"kind": "interval", "minutes": 5})
    assert updated.json()["config"]["minutes"] == 5
    assert api.post(alarms, json={"status": "paused"}).status_code == 200
    assert api.get(alarms).json()["status"]["active"] is False
    assert api.post(alarms, json={"status": "sleeping"}).status_code == 400
    assert api.post(alarms, json={"status": "active"}).status_code == 200
    assert api.delete(alarms).status_code == 200
    assert api.get(alarms).status_code == 404


def test_alarm_fires_every_two_seconds_across_a_scheduler_restart(api: httpx.Client, scheduler: Scheduler,
                                                                  unique: str) -> None:
    make_rule(api, unique)
    alarms = f"{NS}/alarms/{unique}"
    created = api.put(alarms, json={"kind": "alarm", "cron": "*/2 * * * * *", "trigger_payload": {"tick": True}})
    assert created.status_code == 200, created.text

    scheduler.start()
    wait_until(lambda: len(activations(api, f"{unique}-echo")) >= 3, "three fires")
    scheduler.stop()
    # Claims of the first run (records may still be landing, and a fire it sent but did not run is run by the
    # restarted scheduler: the claim is what counts).
    first_run = api.get(alarms).json()["status"]["fired"]
    scheduler.start()
    wait_until(lambda: len(activations(api, f"{unique}-echo")) >= first_run + 3, "three fires after restart")
    deleted = api.delete(alarms)  # no more claims from here on
    assert deleted.status_code == 200
    claimed = deleted.json()["status"]["fired"]
    wait_until(lambda: len(activations(api, f"{unique}-echo")) >= claimed, "every claimed fire to land")
    scheduler.stop()

    fired = activations(api, f"{unique}-echo")
    dues = [int(a["response"]["result"]["__ow_headers"]["x-squall-alarm-due"]) for a in fired]
    assert len(fired) == claimed  # one action activation per claimed slot
    assert len(set(dues)) == len(dues)  # no slot fired twice, across the restart
    assert all(due % 2000 == 0 for due in dues)  # every fire is for a cron slot
    assert all(a["response"]["result"]["tick"] is True for a in fired)
    assert claimed >= first_run + 3  # the restarted scheduler kept the schedule going
    print(f"claims before the restart: {first_run}, in all: {claimed}, action activations: {len(fired)}, "
          f"distinct slots: {len(set(dues))}")
    triggers = activations(api, unique)
    assert len(triggers) == claimed and all(t["response"]["result"] == {"tick": True} for t in triggers)


def test_once_alarm_deletes_its_trigger_and_rules_after_firing(api: httpx.Client, scheduler: Scheduler,
                                                               unique: str) -> None:
    make_rule(api, unique)
    soon = int(time.time() * 1000) + 2000
    created = api.put(f"{NS}/alarms/{unique}", json={"kind": "once", "date": soon, "deleteAfterFire": "rules"})
    assert created.status_code == 200, created.text
    scheduler.start()
    # The schedule is dropped last (rules, then trigger, then schedule): once it is gone, so are the others.
    wait_until(lambda: api.get(f"{NS}/alarms/{unique}").status_code == 404, "the schedule to be dropped")
    assert api.get(f"{NS}/triggers/{unique}").status_code == 404
    assert api.get(f"{NS}/rules/{unique}-r").status_code == 404
    wait_until(lambda: len(activations(api, f"{unique}-echo")) == 1, "the one fire")


def feed(client: httpx.Client, kind: str, event: str, trigger: str, auth: tuple[str, str],
         **params: Any) -> httpx.Response:
    """Invoke a ``/whisk.system/alarms`` feed action the way wsk and the npm client do."""
    body = {"lifecycleEvent": event, "triggerName": trigger, "authKey": ":".join(auth), **params}
    return client.post(f"/api/v1/namespaces/whisk.system/actions/alarms/{kind}",
                       params={"blocking": "true", "result": "false"}, json=body)


def test_classic_flow_alarm_feed_trigger_rule_into_a_bound_public_package(
        stack: Stack, api: httpx.Client, scheduler: Scheduler, unique: str) -> None:
    """guest publishes a package; other binds it, creates an alarm feed trigger (the feed action runs in a
    container and calls the provider API with other's key) and a rule into the binding; the scheduler fires."""
    subprocess_install(stack)
    assert api.put(f"{NS}/packages/{unique}", json={"publish": True, "parameters": [
        {"key": "greeting", "value": "from guest's package"}]}).is_success
    assert api.put(f"{NS}/actions/{unique}/echo", json={"exec": {"kind": "python:default", "code": ECHO}}).is_success
    with stack.client(auth=stack.other) as other:
        binding = {"binding": {"namespace": "guest", "name": unique}}
        assert other.put(f"{NS}/packages/{unique}-b", json=binding).is_success
        assert other.put(f"{NS}/triggers/{unique}", json={"annotations": [
            {"key": "feed", "value": "/whisk.system/alarms/alarm"}]}).is_success
        bad = feed(other, "alarm", "CREATE", f"/_/{unique}", stack.other, cron="99 * * * *")
        assert bad.status_code == 502 and bad.json()["response"]["result"] == {
            "error": "cron pattern '99 * * * *' is not valid"}
        created = feed(other, "alarm", "CREATE", f"/_/{unique}", stack.other, cron="*/2 * * * * *",
                       trigger_payload={"n": 1})
        assert created.status_code == 200, created.text
        assert created.json()["namespace"] == "other"  # the feed ran as the caller, in its own record
        assert other.put(f"{NS}/rules/{unique}-r", json={"trigger": f"/_/{unique}",
                                                       "action": f"/_/{unique}-b/echo"}).is_success
        scheduler.start()
        wait_until(lambda: len(activations(other, f"{unique}/echo")) >= 2, "two fires into the binding")
        paused = feed(other, "alarm", "PAUSE", f"/other/{unique}", stack.other)
        assert paused.status_code == 200, paused.text
        read = feed(other, "alarm", "READ", f"/other/{unique}", stack.other).json()["response"]["result"]
        assert read["status"]["active"] is False and read["config"]["cron"] == "*/2 * * * * *"
        assert feed(other, "alarm", "UNPAUSE", f"/other/{unique}", stack.other).status_code == 200
        updated = feed(other, "interval", "UPDATE", f"/other/{unique}", stack.other, minutes=60)
        assert updated.json()["response"]["result"] == {"status": "success"}  # as OpenWhisk's alarms feed answers
        reread = feed(other, "alarm", "READ", f"/other/{unique}", stack.other).json()["response"]["result"]
        assert reread["config"]["minutes"] == 60
        assert feed(other, "alarm", "DELETE", f"/other/{unique}", stack.other).status_code == 200
        gone = feed(other, "alarm", "READ", f"/other/{unique}", stack.other)
        assert gone.status_code == 502 and "there is no alarm" in gone.json()["response"]["result"]["error"]
        fired = activations(other, f"{unique}/echo")
        result = fired[0]["response"]["result"]
        assert result["greeting"] == "from guest's package" and result["n"] == 1
        notes = {a["key"]: a["value"] for a in fired[0]["annotations"]}
        assert notes["path"] == f"guest/{unique}/echo" and notes["binding"] == f"other/{unique}-b"
        assert fired[0]["namespace"] == "other"


def subprocess_install(stack: Stack) -> None:
    subprocess.run([SQUALL, "admin", "catalog", "install"], env=stack.env, check=True, capture_output=True,
                   timeout=120)


def test_classic_flow_into_a_sequence_in_a_bound_public_package(
        stack: Stack, api: httpx.Client, scheduler: Scheduler, unique: str) -> None:
    """The classic OpenWhisk flow: an alarm feed trigger → a rule → a sequence that lives in another namespace's
    public package, reached through a binding; each fire runs the whole sequence as the binding's owner."""
    subprocess_install(stack)
    assert api.put(f"{NS}/packages/{unique}", json={"publish": True, "parameters": [
        {"key": "step", "value": 10}]}).is_success
    add = "def main(args):\n    return {'n': args.get('n', 0) + args['step'], 'step': args['step']}\n"
    double = "def main(args):\n    return {'n': args['n'] * 2}\n"
    assert api.put(f"{NS}/actions/{unique}/add", json={"exec": {"kind": "python:default", "code": add}}).is_success
    assert api.put(f"{NS}/actions/{unique}/double",
                   json={"exec": {"kind": "python:default", "code": double}}).is_success
    assert api.put(f"{NS}/actions/{unique}/flow", json={"exec": {"kind": "sequence", "components": [
        f"/guest/{unique}/add", f"/guest/{unique}/double"]}}).is_success
    with stack.client(auth=stack.other) as other:
        assert other.put(f"{NS}/packages/{unique}-b",
                         json={"binding": {"namespace": "guest", "name": unique}}).is_success
        assert other.put(f"{NS}/triggers/{unique}", json={"annotations": [
            {"key": "feed", "value": "/whisk.system/alarms/alarm"}]}).is_success
        created = feed(other, "alarm", "CREATE", f"/_/{unique}", stack.other, cron="*/2 * * * * *",
                       trigger_payload={"n": 1})
        assert created.status_code == 200, created.text
        assert other.put(f"{NS}/rules/{unique}-r", json={"trigger": f"/_/{unique}",
                                                       "action": f"/_/{unique}-b/flow"}).is_success
        scheduler.start()
        wait_until(lambda: len(activations(other, f"{unique}/flow")) >= 2, "two sequence runs")
        assert feed(other, "alarm", "DELETE", f"/other/{unique}", stack.other).status_code == 200
        runs = activations(other, f"{unique}/flow")
        for run in runs:
            assert run["namespace"] == "other" and run["response"]["success"] is True
            assert run["response"]["result"] == {"n": 22}  # (1 + 10) * 2: payload, package parameter, two steps
            assert len(run["logs"]) == 2  # the component activation ids
            notes = {a["key"]: a["value"] for a in run["annotations"]}
            assert notes["kind"] == "sequence" and notes["path"] == f"guest/{unique}/flow"
        components = {c["activationId"]: c for c in activations(other, f"{unique}/add")}
        first = runs[-1]
        assert first["logs"][0] in components
        assert components[first["logs"][0]]["cause"] == first["activationId"]
