"""The admin pages' action editor through Flask's test client: creating an action, saving new versions, a conflict
that keeps what was typed, invoking beside the code; with the same rights, CSRF, escaping and validation as every
other form and as ``PUT /actions/{name}`` (the same use case), and never a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from tests.api.conftest import NS, Auth, Platform, kv, ok

pytestmark = pytest.mark.api

OPERATOR_PASSWORD = "editor test operator"
CODE = "def main(args):\n    return {'v': 1}\n"
JS = "function main(params) {\n  return {v: 2};\n}\n"


class _Forms(HTMLParser):
    """The fields of one form (by id) as a browser would post them: inputs, selected options, textareas."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.values: dict[str, str] = {}
        self._inside = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = found.get("id") == self.form_id
        elif not self._inside:
            return
        elif tag == "input" and found.get("type") != "checkbox" and "name" in found:
            self.values[found["name"]] = found.get("value", "")
        elif tag == "input" and "checked" in found:
            self.values[found["name"]] = found.get("value", "y")
        elif tag == "select":
            self._select = found["name"]
        elif tag == "option" and self._select and ("selected" in found or self._select not in self.values):
            self.values[self._select] = found.get("value", "")
        elif tag == "textarea":
            self._textarea = found["name"]
            self.values[self._textarea] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def form_values(html: str, form_id: str = "action-form") -> dict[str, str]:
    parser = _Forms(form_id)
    parser.feed(html)
    assert parser.values, f"no form {form_id} in the page"
    values = parser.values
    for name in ("code", "parameters", "params"):  # HTML drops a textarea's first newline (WTForms writes CRLF)
        if name in values:
            values[name] = values[name].removeprefix("\r\n").removeprefix("\n")
    return values


def errors(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p [^>]*class="error"[^>]*>(.*?)</p>', html)]


@dataclass
class Editor:
    """A logged-in browser on the admin pages, and the REST API under the same namespace's key."""

    platform: Platform
    namespace: str
    auth: Auth
    client: FlaskClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.platform.app.test_client()

    def login(self, login: str, password: str = "") -> Editor:
        page = self.client.get("/admin/login")
        response = self.client.post("/admin/login", data={"login": login, "password": password,
                                                          "csrf_token": _token(page.text)})
        assert response.status_code == 302, response.text
        return self

    def page(self, url: str, status: int = 200) -> TestResponse:
        response = self.client.get(url)
        assert response.status_code == status, (response.status_code, response.text[:2000])
        return response

    def post(self, url: str, data: dict[str, Any], status: int, **kwargs: Any) -> TestResponse:
        response = self.client.post(url, data=data, **kwargs)
        assert response.status_code == status, (response.status_code, errors(response.text), response.text[:3000])
        return response

    def new_url(self, namespace: str | None = None) -> str:
        return f"/admin/ns/{namespace or self.namespace}/create-action"

    def edit_url(self, name: str, namespace: str | None = None) -> str:
        return f"/admin/ns/{namespace or self.namespace}/edit-action/{name}"

    def create(self, status: int = 302, namespace: str | None = None, **fields: Any) -> TestResponse:
        """Fill the create form (its defaults, then ``fields``) and post it."""
        url = self.new_url(namespace)
        values = form_values(self.page(url).text)
        values.update({k: str(v) for k, v in fields.items()})
        return self.post(url, values, status)

    def rest(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = ok(self.platform.client.get(f"{NS}/actions/{name}", auth=self.auth))
        return body

    def rest_put(self, name: str, body: dict[str, Any], overwrite: bool = False) -> dict[str, Any]:
        query = {"overwrite": "true"} if overwrite else {}
        found: dict[str, Any] = ok(self.platform.client.put(f"{NS}/actions/{name}", json=body, auth=self.auth,
                                                            query_string=query))
        return found


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = Platform.build(tmp_path_factory.mktemp("editor") / "squall.db", {
        "admin": {"secret_key": "e" * 32, "login_attempts_per_minute": 1_000_000,
                  "operator_password_hash": generate_password_hash(OPERATOR_PASSWORD)},
        "limits": {"max_concurrency": 4},
    })
    yield built
    built.close()


@pytest.fixture
def editor(platform: Platform) -> Editor:
    """A new namespace's key holder, logged in."""
    namespace, auth = platform.user("ed")
    return Editor(platform, namespace, auth).login(":".join(auth))


# --- create ----------------------------------------------------------------------------------------------------


def test_the_create_form_offers_the_manifests_kinds_and_defaults_to_python(editor: Editor) -> None:
    html = editor.page(editor.new_url()).text
    offered = re.findall(r'<option (?:selected )?value="([^"]+)"', html.split('id="kind"')[1].split("</select>")[0])
    manifest = editor.platform.app.extensions["squall"].manifest
    assert sorted(offered) == [k for k in manifest.valid_kinds() if k != "blackbox"]  # in manifest order
    assert form_values(html)["kind"] == manifest.default_kind("python")
    assert '<textarea class="code" data-modes=' in html and 'name="code"' in html  # the form works without JS
    assert "codemirror-5.65.21.js" in html and "admin/editor.js" in html


def test_create_stores_what_the_form_says(editor: Editor) -> None:
    response = editor.create(name="made", kind="nodejs:18", code=JS, parameters='{"greeting": "hi", "n": 2}',
                             timeout=5000, memory=256, logs=2, concurrency=3, web="raw")
    assert response.headers["Location"] == editor.edit_url("made")
    stored = editor.rest("made")
    assert stored["exec"] == {"kind": "nodejs:18", "code": JS, "binary": False}
    assert stored["parameters"] == kv(greeting="hi", n=2)
    assert stored["limits"] == {"timeout": 5000, "memory": 256, "logs": 2, "concurrency": 3}
    notes = {a["key"]: a["value"] for a in stored["annotations"]}
    assert notes["web-export"] is True and notes["raw-http"] is True and notes["final"] is True
    assert stored["version"] == "0.0.1"
    page = editor.page(editor.edit_url("made")).text
    assert "Created /" + editor.namespace + "/made, version 0.0.1." in page
    assert form_values(page)["code"] == JS


def test_empty_limits_are_the_deployments_defaults_and_no_web_export(editor: Editor) -> None:
    editor.create(name="plain", code=CODE)
    stored = editor.rest("plain")
    defaults = editor.platform.settings.limits
    assert stored["limits"] == {"timeout": defaults.default_timeout_ms, "memory": defaults.default_memory_mb,
                                "logs": defaults.default_logs_mb, "concurrency": defaults.default_concurrency}
    assert "web-export" not in {a["key"] for a in stored["annotations"]}
    assert stored["exec"]["kind"] == "python:3"


def test_an_action_in_a_package(editor: Editor) -> None:
    ok(editor.platform.client.put(f"{NS}/packages/tools", json={"parameters": kv(shared=1)}, auth=editor.auth))
    editor.create(name="tools/hammer", code=CODE, parameters='{"own": 2}')
    assert editor.rest("tools/hammer")["parameters"] == kv(shared=1, own=2)  # as the API shows it, merged
    # The editor shows and saves back the action's own parameters, not its package's.
    assert form_values(editor.page(editor.edit_url("tools/hammer")).text)["parameters"] == '{\n  "own": 2\n}'
    missing = editor.create(404, name="nopkg/x", code=CODE)
    assert errors(missing.text) == [f"There is no package of that name in {editor.namespace}."]


@pytest.mark.parametrize("name", ["edit", "invoke", "delete"])
def test_a_package_action_named_as_a_verb_has_its_own_pages(editor: Editor, name: str) -> None:
    # The verbs used to follow the action's path (…/actions/tools/edit), so "tools/edit" could not be shown: the
    # URL meant the editor of an action "tools" instead.
    ok(editor.platform.client.put(f"{NS}/packages/tools", json={}, auth=editor.auth))
    editor.create(name=f"tools/{name}", code=CODE)
    shown = editor.page(f"/admin/ns/{editor.namespace}/actions/tools/{name}").text
    assert f'href="{editor.edit_url(f"tools/{name}")}"' in shown
    assert form_values(editor.page(editor.edit_url(f"tools/{name}")).text)["code"] == CODE
    confirm = editor.page(f"/admin/ns/{editor.namespace}/delete-action/tools/{name}").text
    assert f"tools/{name}" in confirm


def test_a_taken_name_is_refused_and_the_action_is_left_alone(editor: Editor) -> None:
    editor.rest_put("taken", {"exec": {"kind": "python:3", "code": CODE}})
    response = editor.create(409, name="taken", code="def main(a):\n    return {}\n")
    assert errors(response.text) == ["resource already exists: choose another name, or edit that one."]
    assert form_values(response.text)["code"] == "def main(a):\n    return {}\n"  # what was typed stays
    assert editor.rest("taken")["exec"]["code"] == CODE


@pytest.mark.parametrize(("name", "message"), [
    ("bad<name>", "The name of the entity contains illegal characters."),
    ("-lead", "The name of the entity contains illegal characters."),
    ("a/b/c", "The name of the entity contains illegal characters."),
    ("n" * 257, "Name segement longer than allowed: 257 > 256."),
    ("", "This field is required."),
])
def test_a_bad_name_is_refused_as_the_api_refuses_it(editor: Editor, name: str, message: str) -> None:
    response = editor.create(400, name=name, code=CODE)
    assert errors(response.text) == [message]
    if "<" in name:
        assert "bad<name>" not in response.text and "bad&lt;name&gt;" in response.text  # echoed, escaped
    assert ok(editor.platform.client.get(f"{NS}/actions", auth=editor.auth)) == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"memory": 100_000}, "memory 100000 MB exceeds allowed threshold of 512 MB"),
    ({"memory": 1}, "memory 1 MB below allowed threshold of 128 MB"),
    ({"timeout": 50}, "timeout 50 milliseconds below allowed threshold of 100 milliseconds"),
    ({"timeout": 10**12}, "timeout 1000000000000 milliseconds exceeds allowed threshold of 300000 milliseconds"),
    ({"logs": 11}, "log size 11 MB exceeds allowed threshold of 10 MB"),
    ({"concurrency": 2}, "concurrency 2 exceeds allowed threshold of 1"),  # python:3 runs one at a time
    ({"concurrency": 9, "kind": "nodejs:18"}, "concurrency 9 exceeds allowed threshold of 4"),
    ({"memory": "lots"}, "Not a valid integer value."),
])
def test_limits_out_of_range_are_refused_next_to_their_field(editor: Editor, fields: dict[str, Any],
                                                              message: str) -> None:
    response = editor.create(400, name="limited", code=CODE, **fields)
    assert errors(response.text) == [message]
    assert message in response.text.split(f'id="limit-{next(iter(fields))}"')[1].split("</label>")[0]
    assert form_values(response.text)["code"] == CODE
    assert ok(editor.platform.client.get(f"{NS}/actions", auth=editor.auth)) == []


@pytest.mark.parametrize(("parameters", "message"), [
    ("{not json", "not JSON: "),
    ("[1, 2]", "parameters must be a JSON object"),
    ('{"a": NaN}', "not JSON: "),
])
def test_parameters_must_be_a_json_object(editor: Editor, parameters: str, message: str) -> None:
    code = "def main(args):\n    return {'kept': True}\n"
    response = editor.create(400, name="params", code=code, parameters=parameters)
    assert len(errors(response.text)) == 1 and errors(response.text)[0].startswith(message)
    values = form_values(response.text)
    assert values["code"] == code and values["parameters"] == parameters  # nothing typed is lost


def test_an_unknown_kind_is_refused_in_the_apis_words(editor: Editor) -> None:
    response = editor.create(400, name="cobol", code=CODE, kind="cobol:85")
    assert errors(response.text)[0].startswith("The specified runtime 'cobol:85' is not supported by this platform.")


def test_empty_code_and_oversized_parameters_are_form_errors(editor: Editor) -> None:
    assert errors(editor.create(400, name="empty", code="  ").text) == ["Write some code first."]
    huge = '{"a": "' + "x" * 1_100_000 + '"}'
    response = editor.create(413, name="huge", code=CODE, parameters=huge)
    assert errors(response.text) == ["The size of parameters exceeds the allowed limit of 1048576 bytes."]


def test_code_longer_than_flasks_form_field_limit_is_taken(editor: Editor) -> None:
    code = "def main(args):\n    return {}\n" + "# padding\n" * 70_000  # 700 KB: over Flask's 500 KB per field
    editor.create(name="long", code=code)
    assert editor.rest("long")["exec"]["code"] == code


def test_a_browsers_crlf_line_breaks_are_stored_as_lf(editor: Editor) -> None:
    editor.create(name="crlf", code=CODE.replace("\n", "\r\n"))  # what a browser sends for a textarea
    assert editor.rest("crlf")["exec"]["code"] == CODE


def test_code_that_closes_the_textarea_is_shown_as_text(editor: Editor) -> None:
    code = "def main(args):\n    return {'html': '</textarea><script>alert(1)</script>'}\n"
    editor.rest_put("sneaky", {"exec": {"kind": "python:3", "code": code}})
    for url in (editor.edit_url("sneaky"), f"/admin/ns/{editor.namespace}/actions/sneaky"):
        page = editor.page(url).text
        assert "<script>alert(1)" not in page and "&lt;/textarea&gt;&lt;script&gt;" in page
    assert form_values(editor.page(editor.edit_url("sneaky")).text)["code"] == code


# --- edit ------------------------------------------------------------------------------------------------------


def test_saving_makes_a_new_version_and_keeps_what_the_form_does_not_show(editor: Editor) -> None:
    editor.rest_put("kept", {"exec": {"kind": "python:3", "code": CODE, "main": "entry"},
                             "parameters": [{"key": "secret", "value": "s", "init": True}, {"key": "x", "value": 1}],
                             "annotations": kv(description="mine"), "limits": {"memory": 200}})
    values = form_values(editor.page(editor.edit_url("kept")).text)
    assert values["main"] == "entry" and values["memory"] == "200" and values["web"] == "false"
    values["code"] = "def entry(args):\n    return {'v': 2}\n"
    values["web"] = "true"
    response = editor.post(editor.edit_url("kept"), values, 302)
    assert response.headers["Location"] == editor.edit_url("kept")
    stored = editor.rest("kept")
    assert stored["version"] == "0.0.2"
    assert stored["exec"]["code"] == values["code"] and stored["exec"]["main"] == "entry"
    assert stored["parameters"] == [{"key": "secret", "value": "s", "init": True}, {"key": "x", "value": 1}]
    assert stored["limits"]["memory"] == 200
    notes = {a["key"]: a["value"] for a in stored["annotations"]}
    assert notes["description"] == "mine" and notes["web-export"] is True and notes["raw-http"] is False
    page = editor.page(editor.edit_url("kept")).text
    assert "Saved /" + editor.namespace + "/kept, version 0.0.2." in page
    assert f'href="/api/v1/web/{editor.namespace}/default/kept.json"' in page

    values = form_values(page)
    values["web"] = "false"  # no longer a web action: the annotations go
    editor.post(editor.edit_url("kept"), values, 302)
    keys = {a["key"] for a in editor.rest("kept")["annotations"]}
    assert not keys & {"web-export", "raw-http", "final"} and "description" in keys


def test_a_change_made_meanwhile_is_a_conflict_that_keeps_the_typed_code(editor: Editor) -> None:
    editor.rest_put("shared", {"exec": {"kind": "python:3", "code": CODE}})
    mine = form_values(editor.page(editor.edit_url("shared")).text)
    theirs_code = "def main(args):\n    return {'theirs': True}\n"
    editor.rest_put("shared", {"exec": {"kind": "python:3", "code": theirs_code}}, overwrite=True)  # someone else
    mine["code"] = "def main(args):\n    return {'mine': '<b>&'}\n"

    response = editor.post(editor.edit_url("shared"), mine, 409)
    assert 'id="conflict"' in response.text and "Version <b>0.0.2</b> was saved" in response.text
    kept = form_values(response.text)
    assert kept["code"] == mine["code"]  # not lost, and escaped in the page
    assert kept["rev"] == mine["rev"]  # a plain save conflicts again: only the button overwrites
    assert "&lt;b&gt;&amp;" in response.text and "{'mine': '<b>&'}" not in response.text
    assert "theirs" in response.text  # their code, to compare
    assert editor.rest("shared")["exec"]["code"] == theirs_code
    editor.post(editor.edit_url("shared"), mine, 409)

    overwrite = re.search(r'name="overwrite_rev" value="([^"]+)"', response.text)
    assert overwrite, "no overwrite button"
    editor.post(editor.edit_url("shared"), {**mine, "overwrite_rev": overwrite.group(1)}, 302)
    stored = editor.rest("shared")
    assert stored["exec"]["code"] == mine["code"] and stored["version"] == "0.0.3"


def test_overwriting_conflicts_again_if_it_changed_once_more(editor: Editor) -> None:
    editor.rest_put("busy", {"exec": {"kind": "python:3", "code": CODE}})
    mine = form_values(editor.page(editor.edit_url("busy")).text)
    editor.rest_put("busy", {"exec": {"kind": "python:3", "code": "def main(a):\n    return {'2': 1}\n"}}, True)
    response = editor.post(editor.edit_url("busy"), mine, 409)
    shown = re.search(r'name="overwrite_rev" value="([^"]+)"', response.text)
    assert shown
    editor.rest_put("busy", {"exec": {"kind": "python:3", "code": "def main(a):\n    return {'3': 1}\n"}}, True)
    again = editor.post(editor.edit_url("busy"), {**mine, "overwrite_rev": shown.group(1)}, 409)
    assert "Version <b>0.0.3</b> was saved" in again.text
    assert editor.rest("busy")["exec"]["code"] == "def main(a):\n    return {'3': 1}\n"


def test_an_action_deleted_meanwhile_is_a_conflict_and_can_be_created_again(editor: Editor) -> None:
    editor.rest_put("gone", {"exec": {"kind": "python:3", "code": CODE}})
    mine = form_values(editor.page(editor.edit_url("gone")).text)
    ok(editor.platform.client.delete(f"{NS}/actions/gone", auth=editor.auth))
    mine["code"] = "def main(args):\n    return {'back': True}\n"
    response = editor.post(editor.edit_url("gone"), mine, 409)
    assert "Deleted since you opened it" in response.text and form_values(response.text)["code"] == mine["code"]
    assert editor.platform.client.get(f"{NS}/actions/gone", auth=editor.auth).status_code == 404
    editor.post(editor.edit_url("gone"), {**mine, "overwrite_rev": ""}, 302)
    assert editor.rest("gone")["exec"]["code"] == mine["code"]


def test_a_save_without_the_loaded_revision_is_refused(editor: Editor) -> None:
    editor.rest_put("norev", {"exec": {"kind": "python:3", "code": CODE}})
    values = form_values(editor.page(editor.edit_url("norev")).text)
    values["rev"] = ""
    values["code"] = "def main(args):\n    return {}\n"
    response = editor.post(editor.edit_url("norev"), values, 400)
    assert errors(response.text) == ["The form does not say which version it edits: reload the page."]
    assert editor.rest("norev")["exec"]["code"] == CODE


def test_invalid_input_on_save_keeps_the_code_and_stores_nothing(editor: Editor) -> None:
    editor.rest_put("strict", {"exec": {"kind": "python:3", "code": CODE}})
    values = form_values(editor.page(editor.edit_url("strict")).text)
    values.update(code="def main(args):\n    return {'new': 1}\n", memory="4096")
    response = editor.post(editor.edit_url("strict"), values, 400)
    assert errors(response.text) == ["memory 4096 MB exceeds allowed threshold of 512 MB"]
    assert form_values(response.text)["code"] == values["code"]
    assert editor.rest("strict")["version"] == "0.0.1"


@pytest.mark.parametrize("exec_", [
    {"kind": "sequence", "components": ["/_/inner"]},
    {"kind": "blackbox", "image": "openwhisk/example"},
])
def test_only_text_code_of_a_runtime_kind_is_edited_here(editor: Editor, exec_: dict[str, Any]) -> None:
    editor.rest_put("inner", {"exec": {"kind": "python:3", "code": CODE}})
    editor.rest_put("other", {"exec": exec_})
    assert "change it with the CLI or the API" in editor.page(editor.edit_url("other"), 400).text
    assert 'id="edit"' not in editor.page(f"/admin/ns/{editor.namespace}/actions/other").text


def test_an_action_reached_through_a_binding_is_edited_in_its_own_package(editor: Editor) -> None:
    ok(editor.platform.client.put(f"{NS}/packages/real", json={}, auth=editor.auth))
    ok(editor.platform.client.put(f"{NS}/packages/bound", auth=editor.auth,
                                  json={"binding": {"namespace": editor.namespace, "name": "real"}}))
    editor.rest_put("real/inside", {"exec": {"kind": "python:3", "code": CODE}})
    page = editor.page(editor.edit_url("bound/inside"), 400).text
    assert f"edit /{editor.namespace}/real/inside instead" in page
    editor.page(editor.edit_url("real/inside"))


def test_the_action_page_and_the_list_link_to_the_editor(editor: Editor) -> None:
    editor.rest_put("linked", {"exec": {"kind": "python:3", "code": CODE}})
    assert f'href="{editor.edit_url("linked")}"' in editor.page(f"/admin/ns/{editor.namespace}/actions/linked").text
    assert f'href="{editor.new_url()}"' in editor.page(f"/admin/ns/{editor.namespace}/actions").text
    editor.page(editor.edit_url("missing"), 404)


# --- invoke beside the code ------------------------------------------------------------------------------------


def test_invoking_from_the_editor_shows_the_result_beside_the_code(editor: Editor) -> None:
    editor.create(name="runme", code=CODE, parameters='{"a": 1}')
    page = editor.page(editor.edit_url("runme")).text
    invoke = form_values(page.replace('class="stacked"', 'id="invoke-form" class="stacked"', 1), "invoke-form")
    assert invoke["back"] == "edit"
    url = f"/admin/ns/{editor.namespace}/invoke-action/runme"
    # Without JavaScript: the whole editor page again, with the outcome in it.
    plain = editor.post(url, {**invoke, "params": '{"b": 2}'}, 200)
    assert 'id="action-form"' in plain.text and 'id="result-json"' in plain.text
    assert re.search(r'"a": 1,\s+"b": 2', plain.text)
    # With htmx: the outcome alone, swapped in beside the code.
    swapped = editor.post(url, {**invoke, "params": '{"c": 3}'}, 200, headers={"HX-Request": "true"})
    assert 'id="result-json"' in swapped.text and "<html" not in swapped.text
    bad = editor.post(url, {**invoke, "params": "[]"}, 400)
    assert 'id="action-form"' in bad.text and "parameters must be a JSON object" in bad.text
    # htmx swaps in only a 2xx answer: a refusal comes as the result, so the page never stays silent.
    refused = editor.post(url, {**invoke, "params": "[]"}, 200, headers={"HX-Request": "true"})
    assert errors(refused.text) == ["parameters must be a JSON object"] and "<html" not in refused.text


def test_an_invoke_the_platform_refuses_is_shown_where_the_result_goes(editor: Editor) -> None:
    editor.create(name="final", code=CODE, parameters='{"fixed": 1}', web="true")  # web: final parameters
    page = editor.page(editor.edit_url("final")).text
    invoke = form_values(page.replace('class="stacked"', 'id="invoke-form" class="stacked"', 1), "invoke-form")
    url = f"/admin/ns/{editor.namespace}/invoke-action/final"
    swapped = editor.post(url, {**invoke, "params": '{"fixed": 2}'}, 200, headers={"HX-Request": "true"})
    assert errors(swapped.text) == ["Request defines parameters that are not allowed (e.g., reserved properties)."]
    plain = editor.post(url, {**invoke, "params": '{"fixed": 2}'}, 400)  # without htmx: the error page
    assert "Request defines parameters that are not allowed" in plain.text


# --- rights and CSRF -------------------------------------------------------------------------------------------


def test_another_namespace_is_403_and_changes_nothing(editor: Editor, platform: Platform) -> None:
    other_ns, other_auth = platform.user("victim")
    ok(platform.client.put(f"{NS}/actions/theirs", json={"exec": {"kind": "python:3", "code": CODE}},
                           auth=other_auth))
    editor.page(editor.new_url(other_ns), 403)
    editor.page(editor.edit_url("theirs", other_ns), 403)
    token = _token(editor.page(editor.new_url()).text)
    editor.post(editor.new_url(other_ns), {"csrf_token": token, "name": "planted", "kind": "python:3",
                                           "code": CODE, "parameters": "{}", "web": "false"}, 403)
    editor.post(editor.edit_url("theirs", other_ns), {"csrf_token": token, "kind": "python:3", "code": "x",
                                                      "parameters": "{}", "web": "false", "rev": "1-x",
                                                      "overwrite_rev": ""}, 403)
    stored = ok(platform.client.get(f"{NS}/actions/theirs", auth=other_auth))
    assert stored["exec"]["code"] == CODE and stored["version"] == "0.0.1"
    assert ok(platform.client.get(f"{NS}/actions", auth=other_auth, query_string={"count": "true"})) == {"actions": 1}


def test_the_operator_creates_and_edits_in_any_namespace(editor: Editor, platform: Platform) -> None:
    operator = Editor(platform, editor.namespace, editor.auth).login("admin", OPERATOR_PASSWORD)
    operator.create(name="by-operator", code=CODE)
    assert editor.rest("by-operator")["exec"]["code"] == CODE
    values = form_values(operator.page(operator.edit_url("by-operator")).text)
    values["code"] = JS.replace("function", "// operator\nfunction")
    values["kind"] = "nodejs:18"
    operator.post(operator.edit_url("by-operator"), values, 302)
    assert editor.rest("by-operator")["exec"] == {"kind": "nodejs:18", "code": values["code"], "binary": False}
    operator.page(operator.new_url("no-such-namespace"), 404)


def test_logged_out_pages_redirect_to_login(platform: Platform, editor: Editor) -> None:
    anonymous = platform.app.test_client()
    for url in (editor.new_url(), editor.edit_url("x")):
        response = anonymous.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    posted = anonymous.post(editor.new_url(), data={"name": "x", "code": CODE})
    assert posted.status_code == 400 and "CSRF" in posted.text  # checked first: no session, so no token
    assert ok(platform.client.get(f"{NS}/actions", auth=editor.auth)) == []


@pytest.mark.parametrize("token", [None, "forged"])
def test_csrf_is_required(editor: Editor, token: str | None) -> None:
    values = form_values(editor.page(editor.new_url()).text)
    values.update(name="csrf", code=CODE)
    if token is None:
        del values["csrf_token"]
    else:
        values["csrf_token"] = token
    response = editor.post(editor.new_url(), values, 400)
    assert "CSRF" in response.text
    editor.rest_put("csrf", {"exec": {"kind": "python:3", "code": CODE}})
    edit = form_values(editor.page(editor.edit_url("csrf")).text)
    edit.update(code="def main(a):\n    return {'forged': 1}\n")
    del edit["csrf_token"]
    editor.post(editor.edit_url("csrf"), edit, 400)
    assert editor.rest("csrf")["exec"]["code"] == CODE

