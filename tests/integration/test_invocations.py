"""One invocation end to end: controller → RabbitMQ → invoker → Docker → CouchDB, and back via Redis."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.helpers import invoke, put_action, wait_for_record

pytestmark = pytest.mark.integration

HELLO = "def main(args):\n    print('hello log')\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n"


def test_blocking_result_only(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, HELLO)
    response = invoke(api, unique, {"name": "x"}, blocking="true", result="true")
    assert response.status_code == 200
    assert response.json() == {"greeting": "Hello x"}
    assert len(response.headers["x-openwhisk-activation-id"]) == 32


def test_blocking_full_record_then_stored_record_logs_and_result(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, HELLO, parameters=[{"key": "name", "value": "default"}])
    first = invoke(api, unique, blocking="true")
    assert first.status_code == 200
    activation = first.json()
    assert activation["response"].pop("size") == len('{"greeting":"Hello default"}')
    assert activation["response"] == {"status": "success", "success": True, "result": {"greeting": "Hello default"}}
    assert activation["namespace"] == "guest" and activation["name"] == unique
    annotations = {a["key"]: a["value"] for a in activation["annotations"]}
    assert annotations["path"] == f"guest/{unique}"
    assert annotations["kind"] == "python:3"
    assert annotations["limits"] == {"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}
    assert annotations["waitTime"] >= 0 and annotations["initTime"] >= 0  # first call: a cold start
    assert activation["duration"] == activation["end"] - activation["start"]

    warm = invoke(api, unique, {"name": "w"}, blocking="true").json()
    assert "initTime" not in {a["key"] for a in warm["annotations"]}  # the warm container was reused
    assert warm["response"]["result"] == {"greeting": "Hello w"}

    record = wait_for_record(api, activation["activationId"])
    assert len(record["logs"]) == 1 and record["logs"][0].endswith(" stdout: hello log")
    assert record["logs"][0][30] == " "  # OpenWhisk's "<time padded to 30> <stream>: <line>"
    aid = activation["activationId"]
    result = api.get(f"/api/v1/namespaces/_/activations/{aid}/result").json()
    assert result == {"status": "success", "success": True, "result": {"greeting": "Hello default"}, "size": 28}
    assert api.get(f"/api/v1/namespaces/_/activations/{aid}/logs").json() == {"logs": record["logs"]}


def test_non_blocking_answers_202_and_the_record_lands(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, HELLO)
    response = invoke(api, unique, {"name": "nb"})
    assert response.status_code == 202
    aid = response.json()["activationId"]
    assert response.json() == {"activationId": aid} and len(aid) == 32
    record = wait_for_record(api, aid)
    assert record["response"]["result"] == {"greeting": "Hello nb"}
    listed = api.get("/api/v1/namespaces/_/activations", params={"name": unique}).json()
    assert [a["activationId"] for a in listed] == [aid]
    assert listed[0]["statusCode"] == 0 and "logs" not in listed[0]
    docs = api.get("/api/v1/namespaces/_/activations", params={"name": unique, "docs": "true"}).json()
    assert docs[0]["response"]["result"] == {"greeting": "Hello nb"}
    count = api.get("/api/v1/namespaces/_/activations", params={"name": unique, "count": "true"}).json()
    assert count == {"activations": 1}
    since = api.get("/api/v1/namespaces/_/activations",
                    params={"name": unique, "since": record["start"] + 1}).json()
    assert since == []
    upto = api.get("/api/v1/namespaces/_/activations", params={"name": unique, "upto": record["start"]}).json()
    assert len(upto) == 1


def test_array_result_is_returned_bare(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, "def main(args):\n    return [1, 2, {'three': 3}]\n")
    response = invoke(api, unique, blocking="true")
    assert response.status_code == 200 and response.json() == [1, 2, {"three": 3}]


def test_application_error_is_502_with_the_error(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, "def main(args):\n    raise ValueError('boom')\n")
    full = invoke(api, unique, blocking="true")
    assert full.status_code == 502
    assert full.json()["response"]["status"] == "application error"
    assert full.json()["response"]["result"] == {"error": "boom"}
    only = invoke(api, unique, blocking="true", result="true")
    assert only.status_code == 502 and only.json() == {"error": "boom"}
    record = wait_for_record(api, full.json()["activationId"])
    assert any("ValueError: boom" in line and " stderr: " in line for line in record["logs"])


def test_non_dict_result_is_a_developer_error(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, "def main(args):\n    return 42\n")
    response = invoke(api, unique, blocking="true")
    assert response.status_code == 502
    assert response.json()["response"]["status"] == "action developer error"
    assert "error" in response.json()["response"]["result"]


def test_timeout_is_a_developer_error_and_the_next_call_works(api: httpx.Client, unique: str) -> None:
    code = ("import time\n"
            "def main(args):\n"
            "    if args.get('sleep'):\n"
            "        time.sleep(10)\n"
            "    return {'ok': True}\n")
    put_action(api, unique, code, limits={"timeout": 1000})
    slow = invoke(api, unique, {"sleep": True}, blocking="true")
    assert slow.status_code == 502
    body = slow.json()
    assert body["response"]["status"] == "action developer error"
    assert body["response"]["result"] == {"error": "The action exceeded its time limits of 1000 milliseconds."}
    assert {a["key"]: a["value"] for a in body["annotations"]}["timeout"] is True
    fast = invoke(api, unique, blocking="true", result="true")
    assert fast.status_code == 200 and fast.json() == {"ok": True}, fast.text


def test_ten_thousand_log_lines_are_collected(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, "def main(args):\n    for i in range(10000):\n        print('line', i)\n"
                            "    return {'done': True}\n")
    response = invoke(api, unique, blocking="true")
    assert response.status_code == 200
    record = wait_for_record(api, response.json()["activationId"])
    assert len(record["logs"]) == 10000
    assert record["logs"][0].endswith("stdout: line 0") and record["logs"][-1].endswith("stdout: line 9999")


def test_invoke_bad_input(api: httpx.Client, unique: str, stack) -> None:  # type: ignore[no-untyped-def]
    put_action(api, unique, HELLO)
    missing = invoke(api, f"{unique}-missing", blocking="true")
    assert missing.status_code == 404
    too_big = api.post(f"/api/v1/namespaces/_/actions/{unique}", json={"blob": "x" * 1_100_000})
    assert too_big.status_code == 413
    assert too_big.json()["error"].startswith("Request larger than allowed:")
    not_object = api.post(f"/api/v1/namespaces/_/actions/{unique}", json=[1, 2])
    assert not_object.status_code == 400
    bad_timeout = invoke(api, unique, blocking="true", timeout="0")
    assert bad_timeout.status_code == 400
    assert bad_timeout.json()["error"] == "Timeout must be number of milliseconds up to 60000."
    short = api.get("/api/v1/namespaces/_/activations/abc")
    assert short.status_code == 400 and short.json()["error"] == "Activation id length is 3 but must be 32."
    unknown = api.get("/api/v1/namespaces/_/activations/" + "0" * 32)
    assert unknown.status_code == 404
    both = api.get("/api/v1/namespaces/_/activations", params={"docs": "true", "count": "true"})
    assert both.status_code == 400 and both.json()["error"] == "The parameter 'docs' is not permitted with 'count'."


def test_blocking_wait_shorter_than_the_action_answers_202(api: httpx.Client, unique: str) -> None:
    put_action(api, unique, "import time\ndef main(args):\n    time.sleep(3)\n    return {'late': True}\n")
    response = invoke(api, unique, blocking="true", timeout="500")
    assert response.status_code == 202
    aid = response.json()["activationId"]
    record = wait_for_record(api, aid)
    assert record["response"]["result"] == {"late": True}


def test_other_namespace_cannot_read_my_activation(stack, unique: str) -> None:  # type: ignore[no-untyped-def]
    with stack.client() as guest, stack.client(auth=stack.other) as other:
        put_action(guest, unique, HELLO)
        aid = invoke(guest, unique, blocking="true").json()["activationId"]
        wait_for_record(guest, aid)
        assert other.get(f"/api/v1/namespaces/_/activations/{aid}").status_code == 404
        assert other.get(f"/api/v1/namespaces/guest/activations/{aid}").status_code == 403


def test_a_sequential_caller_keeps_one_warm_container(api: httpx.Client, unique: str) -> None:
    """The result reaches the caller before the logs are read; the container goes back to the pool then too, so
    the caller's next invoke finds it warm instead of starting another container. Every record keeps its own
    log line (the next activation's output comes after this one's sentinels)."""
    put_action(api, unique, HELLO)
    ids = []
    for n in range(8):
        answer = invoke(api, unique, {"name": str(n)}, blocking="true")
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["activationId"])
    records = [wait_for_record(api, aid) for aid in ids]
    cold = [r for r in records if any(a["key"] == "initTime" for a in r["annotations"])]
    assert len(cold) == 1 and cold[0]["activationId"] == ids[0]
    for n, record in enumerate(records):
        assert record["response"]["result"] == {"greeting": f"Hello {n}"}
        assert [line.split(": ", 1)[1] for line in record["logs"]] == ["hello log"]
