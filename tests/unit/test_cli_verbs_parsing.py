"""The pure parts of the wsk-style verbs: -P/-A files, --web/--web-secure annotations, --summary text, FIELD filters
and -n order, --last/--strip arguments, poll's window, the api verbs' apidoc and table, action get's URL and file."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click
import pytest

from app.cli import activations, apis, poll, verbs
from app.cli.action_get import action_url, code_and_filename
from app.cli.output import field_of, name_sorted, refuse_with_json
from app.cli.param_files import merged_key_values, merged_values
from app.cli.summaries import action_summary, package_summary, parameter_names, rule_summary
from app.cli.web_flags import web_annotations, web_secure, with_values

pytestmark = pytest.mark.unit

WEB = [{"key": "web-export", "value": True}, {"key": "raw-http", "value": False}, {"key": "final", "value": True}]


def write(tmp_path: Path, name: str, value: Any) -> Path:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


# -- -P / -A ---------------------------------------------------------------------------------------


def test_param_files_merge_in_order_and_pairs_win(tmp_path: Path) -> None:
    first = write(tmp_path, "a.json", {"a": 1, "b": [1], "c": "file"})
    second = write(tmp_path, "b.json", {"b": {"x": None}})
    assert merged_values([first, second], [("c", "3"), ("d", "text")]) == {
        "a": 1, "b": {"x": None}, "c": 3, "d": "text"}
    assert merged_key_values([first], [], "annotation")[0] == {"key": "a", "value": 1}
    assert merged_values([], []) == {}


@pytest.mark.parametrize(("content", "message"), [("[1, 2]", "holds JSON list, not an object"),
                                                  ('"text"', "holds JSON str"),
                                                  ("{not json", "is not JSON")])
def test_a_param_file_must_hold_a_json_object(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path, "bad.json", content)
    with pytest.raises(click.BadParameter, match=message):
        merged_values([path], [])


# -- --web / --web-secure ------------------------------------------------------------------------------------


def test_web_modes_set_wsk_three_annotations() -> None:
    assert web_annotations("true") == WEB
    assert [a["value"] for a in web_annotations("raw")] == [True, True, True]
    assert [a["value"] for a in web_annotations("false")] == [False, False, False]
    assert with_values([{"key": "a", "value": 1}, {"key": "web-export", "value": False}], WEB[:1]) == [
        {"key": "a", "value": 1}, {"key": "web-export", "value": True}]


def test_web_secure_values() -> None:
    assert web_secure("s3cret", "true", WEB, None) == ([{"key": "require-whisk-auth", "value": "s3cret"}], [])
    assert web_secure("TRUE", "true", WEB, None, new_secret=lambda: 2**60 + 7) == (
        [{"key": "require-whisk-auth", "value": 7}], [])  # within a JavaScript number, as wsk
    assert web_secure("false", "true", WEB, None) == ([{"key": "require-whisk-auth", "value": False}], [])


def test_web_secure_on_update_follows_the_stored_action() -> None:
    stored = [*WEB, {"key": "require-whisk-auth", "value": 1234}]
    assert web_secure("true", None, [], stored) == ([], [])  # a generated secret is kept
    assert web_secure("false", None, [], stored) == ([], ["require-whisk-auth"])
    assert web_secure("other", None, [], stored) == ([{"key": "require-whisk-auth", "value": "other"}], [])
    with pytest.raises(click.UsageError, match="only valid when the --web option is enabled"):
        web_secure("true", "false", [], stored)  # this command turns web off
    with pytest.raises(click.UsageError):
        web_secure("true", None, [], [{"key": "web-export", "value": False}])
    with pytest.raises(click.UsageError):
        web_secure("true", None, [], None)


def test_action_body_takes_files_limits_and_web_flags(tmp_path: Path) -> None:
    params = write(tmp_path, "p.json", {"a": 1})
    body = verbs._action_body(None, None, None, [("b", "2")], None, None, update=True, param_files=[params],
                              annotations=[("note", "x")], logsize=5, concurrency=2)
    assert body == {"parameters": [{"key": "a", "value": 1}, {"key": "b", "value": 2}],
                    "annotations": [{"key": "note", "value": "x"}], "limits": {"logs": 5, "concurrency": 2}}
    secured = verbs._with_web_flags(body, "raw", "s", None, ["old"])
    assert secured["annotations"] == [{"key": "note", "value": "x"}, {"key": "web-export", "value": True},
                                      {"key": "raw-http", "value": True}, {"key": "final", "value": True},
                                      {"key": "require-whisk-auth", "value": "s"}]
    assert secured["delAnnotations"] == ["old"]
    dropped = verbs._with_web_flags({}, None, "false", [*WEB, {"key": "require-whisk-auth", "value": "s"}])
    assert dropped == {"delAnnotations": ["require-whisk-auth"]}


# -- output: --json, FIELD, -n, --summary --------------------------------------------------------------------


def test_field_filter_and_json_exclusions() -> None:
    assert field_of({"Limits": {"memory": 1}}, "limits") == {"memory": 1}
    with pytest.raises(click.UsageError, match="Invalid field filter 'nope'."):
        field_of({"name": "x"}, "nope")
    refuse_with_json(False, summary=True)
    refuse_with_json(True, summary=False)
    with pytest.raises(click.UsageError, match="--summary"):
        refuse_with_json(True, summary=True)


def test_name_sort_is_wsk_order() -> None:
    actions = [{"namespace": "g/pkg", "name": "b"}, {"namespace": "g", "name": "b"}, {"namespace": "g/Pa", "name": "a"},
               {"namespace": "g", "name": "B"}]
    assert [(a["namespace"], a["name"]) for a in name_sorted("actions", actions)] == [
        ("g", "B"), ("g", "b"), ("g/Pa", "a"), ("g/pkg", "b")]
    assert [t["name"] for t in name_sorted("triggers", [{"namespace": "g", "name": "b"},
                                                        {"namespace": "g", "name": "A"}])] == ["A", "b"]


def test_summaries_mark_bound_and_final_parameters() -> None:
    action: dict[str, Any] = {"namespace": "g", "name": "x", "parameters": [{"key": "b", "value": 1}],
              "annotations": [{"key": "parameters", "value": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}]}
    assert parameter_names(action) == ["a", "*b", "c"]
    assert action_summary(action) == ["action /g/x: Returns a result based on parameters a, b and c",
                                      "   (parameters: a, *b, c)"]
    final = {**action, "annotations": [*action["annotations"], {"key": "final", "value": True},
                                       {"key": "description", "value": "Says hi"}]}
    assert action_summary(final) == ["action /g/x: Says hi", "   (parameters: a, **b, c)"]
    assert action_summary({"namespace": "g/p", "name": "y"}) == ["action /g/p/y", "   (parameters: none defined)"]
    package = {"namespace": "g", "name": "p", "actions": [{"name": "y"}], "feeds": [{"name": "f"}]}
    assert package_summary(package) == ["package /g/p", "   (parameters: none defined)", " action /g/p/y",
                                        "   (parameters: none defined)", " feed   /g/p/f",
                                        "   (parameters: none defined)"]
    assert rule_summary({"namespace": "g", "name": "r", "status": "active"}) == ["rule /g/r", "   (status: active)"]


# -- activations ---------------------------------------------------------------------------------------------


def test_strip_takes_the_timestamp_and_stream_away() -> None:
    assert activations.strip_log("2024-05-01T10:11:12.123456Z stdout: hello there") == "hello there"
    assert activations.strip_log("2024-05-01T10:11:12.1Z    stderr: oops") == "oops"
    assert activations.strip_log("no timestamp here") == "no timestamp here"


def test_get_arguments_with_and_without_last() -> None:
    assert activations.split_id_and_field(("id",), False) == ("id", None)
    assert activations.split_id_and_field(("id", "logs"), False) == ("id", "logs")
    assert activations.split_id_and_field((), True) == (None, None)
    assert activations.split_id_and_field(("logs",), True) == (None, "logs")
    with pytest.raises(click.UsageError, match="An activation ID is required"):
        activations.split_id_and_field((), False)
    with pytest.raises(click.UsageError, match="--last takes no ACTIVATION_ID"):
        activations.split_id_and_field(("id", "logs"), True)


def test_summary_head_names_the_activation() -> None:
    head = activations.summary_head({"namespace": "g", "name": "x", "end": 1_700_000_000_123,
                                     "response": {"status": "success"}})
    assert head.startswith("activation result for '/g/x' (success at 20") and head.endswith(")")


# -- poll --------------------------------------------------------------------------------------------------------


def record(aid: str, start: int) -> dict[str, Any]:
    return {"activationId": aid, "name": "n", "start": start, "logs": []}


def test_where_polling_starts() -> None:
    assert poll.back_seconds(5, 1, 1, 1) == 5 + 60 + 3600 + 86400
    assert poll.start_ms(1_000_000, 10, 999) == 990_000
    assert poll.start_ms(1_000_000, 0, 500) == 501  # just after the newest activation, as wsk
    assert poll.start_ms(1_000_000, 0, None) == 0


def test_poller_prints_each_record_once_oldest_first_and_looks_back() -> None:
    stored: list[dict[str, Any]] = []
    asked: list[int] = []
    shown: list[str] = []

    def fetch(since: int) -> list[dict[str, Any]]:
        asked.append(since)
        return sorted((r for r in stored if r["start"] >= since), key=lambda r: -r["start"])

    poller = poll.Poller(fetch=fetch, show=lambda r: shown.append(r["activationId"]), since_ms=1000)
    stored += [record("old", 500), record("a", 2000), record("b", 1500)]
    assert poller.round() == 2 and shown == ["b", "a"]
    assert poller.round() == 0
    stored.append(record("late", 1800))  # started before "a", landed after it was printed
    stored.append(record("c", 200_000))
    assert poller.round() == 2 and shown == ["b", "a", "late", "c"]
    assert asked == [1000, 1000, 1000]
    assert poller.round() == 0 and asked[-1] == 200_000 - poll.LOOKBACK_MS
    assert set(poller.printed) == {"c"}  # the others are out of the window for good


def test_poller_run_stops_after_exit_and_survives_later_errors() -> None:
    now = [0.0]
    sleeps: list[float] = []
    errors: list[Exception] = []
    rounds = [0]

    def fetch(since: int) -> list[dict[str, Any]]:
        rounds[0] += 1
        if rounds[0] == 2:
            raise LookupError("flaky")
        return []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    poller = poll.Poller(fetch=fetch, show=lambda r: None, since_ms=0)
    poller.run(5, on_error=errors.append, errors=(LookupError,), clock=lambda: now[0], sleep=sleep)
    assert sleeps == [2.0, 2.0, 1.0] and rounds[0] == 4 and [str(e) for e in errors] == ["flaky"]

    def broken(since: int) -> list[dict[str, Any]]:
        raise LookupError("wrong key")
    with pytest.raises(LookupError):  # the first round's error ends the poll
        poll.Poller(fetch=broken, show=lambda r: None, since_ms=0).run(5, on_error=errors.append,
                                                                       errors=(LookupError,), sleep=sleep)


# -- api -----------------------------------------------------------------------------------------------------------


def test_route_apidoc_is_what_wsk_sends() -> None:
    apidoc, action = apis.route_apidoc(("/club", "/books/{isbn}", "get", "pkg/act"), "Club", "http",
                                       "http://host:3233", "u:k")
    assert action == apis.ActionName("_", "pkg", "act")
    assert apidoc == {
        "namespace": "_", "gatewayBasePath": "/club", "gatewayPath": "/books/{isbn}", "gatewayMethod": "GET",
        "action": {"name": "pkg/act", "namespace": "_", "backendMethod": "GET",
                   "backendUrl": "http://host:3233/api/v1/web/_/pkg/act.http", "authkey": "u:k"},
        "id": "API:_:/club", "apiName": "Club",
        "pathParameters": [{"name": "isbn", "in": "path", "required": True, "type": "string",
                            "description": "Default description for 'isbn'"}]}
    three, _ = apis.route_apidoc(("/books", "post", "/ns/act"), None, "json", "https://h", "u:k")
    assert three["gatewayBasePath"] == "/" and three["action"]["backendUrl"] == "https://h/api/v1/web/ns/default/act.http"


@pytest.mark.parametrize(("args", "response_type", "message"), [
    (("/c/{x}", "/b", "get", "a"), "json", "cannot have parameters"),
    (("/c", "/b/{x}", "get", "a"), "json", "A response type of 'http' is required"),
    (("/c", "b", "get", "a"), "json", "'b' must begin with '/'."),
    (("/c", "/b", "fetch", "a"), "json", "'fetch' is not a valid API verb"),
    (("/c", "/b", "get", "a/b/c/d"), "json", "not a valid action name"),
    (("/b", "get"), "json", "Specify a swagger file"),
])
def test_route_apidoc_refusals(args: tuple[str, ...], response_type: str, message: str) -> None:
    with pytest.raises(click.UsageError, match=message):
        apis.route_apidoc(args, None, response_type, "http://h", "u:k")


def test_swagger_files_are_checked(tmp_path: Path) -> None:
    good = {"swagger": "2.0", "basePath": "/club", "info": {"title": "t", "version": "1"}, "paths": {"/a": {}}}
    path = write(tmp_path, "api.json", good)
    assert apis.swagger_apidoc(path) == {"namespace": "_", "swagger": path.read_text()}
    with pytest.raises(click.UsageError, match="missing basePath, info, paths, or swagger"):
        apis.swagger_apidoc(write(tmp_path, "b.json", {**good, "paths": {}}))
    with pytest.raises(click.UsageError, match="leading slash"):
        apis.swagger_apidoc(write(tmp_path, "c.json", {**good, "basePath": "club"}))
    with pytest.raises(click.UsageError, match="missing basePath"):  # YAML is read, then checked the same way
        apis.swagger_apidoc(write(tmp_path, "d.yaml", "swagger: '2.0'"))


def test_a_yaml_swagger_file_goes_to_the_gateway_as_json(tmp_path: Path) -> None:
    text = ("swagger: '2.0'\nbasePath: /club\ninfo: {title: Book Club, version: 1.0, released: 2026-12-07}\n"
            "paths:\n  /books:\n    get:\n      responses:\n        200: {description: ok}\n")
    for suffix in ("yaml", "YML"):
        apidoc = apis.swagger_apidoc(write(tmp_path, f"api.{suffix}", text))
        assert apidoc["namespace"] == "_"
        assert json.loads(apidoc["swagger"]) == {  # YAML-only scalars (a date, an int key) as JSON has them
            "swagger": "2.0", "basePath": "/club", "info": {"title": "Book Club", "version": 1.0,
                                                           "released": "2026-12-07"},
            "paths": {"/books": {"get": {"responses": {"200": {"description": "ok"}}}}}}


@pytest.mark.parametrize(("text", "message"), [
    ("a: &x [1, 2]\nb: *x\n", "aliases"),  # a few nested aliases expand to gigabytes of JSON
    ("swagger: [unclosed\n", "Unable to parse YAML configuration file"),
    ("!!python/object:os.system {}\n", "Unable to parse YAML"),  # the safe loader builds no Python objects
])
def test_hostile_yaml_swagger_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(click.UsageError, match=message):
        apis.swagger_apidoc(write(tmp_path, "api.yaml", text))


def test_api_list_rows_and_wsk_table() -> None:
    answer = {"apis": [{"value": {"gwApiUrl": "http://h/api/g/club/", "apidoc": {
        "basePath": "/club", "info": {"title": "Book Club"},
        "paths": {"/books": {"get": {"x-openwhisk": {"namespace": "g", "package": "", "action": "list"}},
                             "post": {"x-openwhisk": {"namespace": "g", "package": "p", "action": "add"}},
                             "parameters": []}}}}}]}
    found = apis.routes(answer)
    assert [(r.action, r.verb, r.url) for r in found] == [("/g/list", "get", "http://h/api/g/club/books"),
                                                         ("/g/p/add", "post", "http://h/api/g/club/books")]
    assert apis.routes(answer, "/books", "POST") == found[1:]
    assert apis.routes(answer, "/other") == []
    assert apis.table_lines(found) == [  # wsk's "%-8s %7s %10s  %s": the widest action, the widest API name + 1
        "Action      Verb   API Name  URL",
        "/g/list      get  Book Club  http://h/api/g/club/books",
        "/g/p/add    post  Book Club  http://h/api/g/club/books"]
    assert apis.full_lines(found[:1]) == ["Action: /g/list", "   API Name: Book Club", "   Base path: /club",
                                          "   Path: /books", "   Verb: get", "   URL: http://h/api/g/club/books"]
    assert apis.table_lines([]) == [f"{'Action':<30} {'Verb':>7} {'API Name':>20}  URL"]
    long = apis.Route("/g/" + "x" * 50, "get", "n" * 40, "/b", "/p", "u")
    assert apis.table_lines([long])[1] == f"{long.action[:40]}     get  {'n' * 30}  u"


# -- action get -------------------------------------------------------------------------------------------------


def test_action_urls_as_wsk_prints_them() -> None:
    web = {"namespace": "guest/tools", "name": "hi there", "annotations": [{"key": "web-export", "value": True}]}
    assert action_url("https://h/", web) == "https://h/api/v1/web/guest/tools/hi%20there"
    assert action_url("https://h", {**web, "namespace": "guest"}) == "https://h/api/v1/web/guest/default/hi%20there"
    plain = {"namespace": "guest/tools", "name": "a", "annotations": []}
    assert action_url("http://h", plain) == "http://h/api/v1/namespaces/guest/actions/tools/a"
    assert action_url("http://h", {**plain, "namespace": "guest"}) == "http://h/api/v1/namespaces/guest/actions/a"


def test_saved_code_and_its_file_name() -> None:
    assert code_and_filename({"name": "a", "exec": {"kind": "python:3", "code": "x=1"}}, None) == (b"x=1", "a.py")
    zipped = base64.b64encode(b"PK\x03\x04").decode()
    assert code_and_filename({"name": "a", "exec": {"kind": "python:3", "code": zipped, "binary": True}},
                             None) == (b"PK\x03\x04", "a.zip")
    assert code_and_filename({"name": "j", "exec": {"kind": "java:8", "code": zipped, "binary": True}},
                             "out.bin") == (b"PK\x03\x04", "out.bin")
    with pytest.raises(click.ClickException, match="Cannot save action sequences"):
        code_and_filename({"name": "s", "exec": {"kind": "sequence", "components": []}}, None)
    with pytest.raises(click.ClickException, match="Cannot save Docker images"):
        code_and_filename({"name": "d", "exec": {"kind": "blackbox", "image": "x/y"}}, None)
