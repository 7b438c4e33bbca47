"""The admin pages in a real headless Chromium (Debian's package, driven by Playwright) against the real stack.

A namespace logs in, invokes an action created through the API from the invoke form, finds the activation in
the activations table and opens its page; the operator sees the invoker. An action is created, invoked, edited,
invoked again and deleted in the editor, and a conflicting save keeps what was typed. Pages are also read and an
action is edited with JavaScript off. Screenshots go to a temporary folder, or to docs/screenshots/ with
SQUALL_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Stack
from tests.integration.helpers import put_action, wait_for_record

pytestmark = pytest.mark.integration

playwright_api = pytest.importorskip("playwright.sync_api")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CODE = ("def main(args):\n    print('hello from the browser test')\n"
        "    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n")
TIMEOUT_MS = 30_000


def _chromium() -> str:
    found = os.environ.get("SQUALL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("no chromium: tests/services.sh installs Debian's chromium package")
        pytest.skip("no chromium (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=_chromium(), headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("SQUALL_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        return DOCS
    return tmp_path_factory.mktemp("screenshots")


def _page(browser: object, javascript: bool = True) -> object:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, java_script_enabled=javascript)  # type: ignore[attr-defined]
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def _login(page: object, stack: Stack, login: str, password: str = "") -> None:
    page.goto(f"{stack.url}/admin/login")  # type: ignore[attr-defined]
    page.fill("input[name=login]", login)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url("**/admin/dashboard")  # type: ignore[attr-defined]


def test_log_in_invoke_find_and_open_an_activation(browser: object, stack: Stack, api: httpx.Client,
                                                   unique: str, shots: Path) -> None:
    put_action(api, unique, CODE)
    page = _page(browser)
    _login(page, stack, ":".join(stack.guest))
    assert "namespace guest" in page.inner_text("header")  # type: ignore[attr-defined]

    # Invoke from the form (htmx posts it and swaps the result in).
    page.click("text=Actions")  # type: ignore[attr-defined]
    page.click(f"a:text-is('{unique}')")  # type: ignore[attr-defined]
    assert "def" in page.inner_text(".code-view")  # type: ignore[attr-defined]
    page.fill("textarea[name=params]", json.dumps({"name": "browser"}))  # type: ignore[attr-defined]
    page.click("#invoke")  # type: ignore[attr-defined]
    page.wait_for_selector("#result-json")  # type: ignore[attr-defined]
    assert json.loads(page.inner_text("#result-json")) == {"greeting": "Hello browser"}  # type: ignore[attr-defined]
    activation_id = page.inner_text("#activation-link").strip()  # type: ignore[attr-defined]
    assert len(activation_id) == 32
    page.wait_for_selector("#logs")  # type: ignore[attr-defined]  # polled in until the record is stored
    assert "hello from the browser test" in page.inner_text("#logs")  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "admin-invoke.png"), full_page=True)  # type: ignore[attr-defined]

    # Find it in the activations table, filtered by the action's name.
    page.click("header >> text=Activations")  # type: ignore[attr-defined]
    page.fill("input[name=name]", unique)  # type: ignore[attr-defined]
    page.click("form.filters button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"**name={unique}**")  # type: ignore[attr-defined]  # htmx pushed the filtered address
    link = f"table.activations a:has-text('{activation_id}')"
    page.wait_for_selector(link)  # type: ignore[attr-defined]
    assert page.locator("table.activations tbody tr").count() == 1  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "admin-activations.png"), full_page=True)  # type: ignore[attr-defined]

    # Its page: result, logs and timings.
    page.click(link)  # type: ignore[attr-defined]  # found again: htmx may have swapped the table meanwhile
    page.wait_for_url(f"**/activations/{activation_id}")  # type: ignore[attr-defined]
    assert page.inner_text("#status") == "success"  # type: ignore[attr-defined]
    assert json.loads(page.inner_text("#result-json")) == {"greeting": "Hello browser"}  # type: ignore[attr-defined]
    assert "hello from the browser test" in page.inner_text("#logs")  # type: ignore[attr-defined]
    timings = page.inner_text("#timings")  # type: ignore[attr-defined]
    assert "cold start" in timings and "init" in timings and "run" in timings
    page.screenshot(path=str(shots / "admin-activation.png"), full_page=True)  # type: ignore[attr-defined]

    # The dashboard counts it and draws its charts.
    page.click("text=Dashboard")  # type: ignore[attr-defined]
    page.wait_for_selector("#chart-status canvas")  # type: ignore[attr-defined]
    assert f"guest/{unique}" in page.inner_text("main")  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "admin-dashboard.png"), full_page=True)  # type: ignore[attr-defined]

    # While the page stays open, a new activation shows up in its figures (the charts refresh themselves).
    before = int(page.inner_text("#total"))  # type: ignore[attr-defined]
    more = api.post(f"/api/v1/namespaces/_/actions/{unique}", params={"blocking": "true"}, json={})
    wait_for_record(api, more.json()["activationId"])
    playwright_api.expect(page.locator("#total")).to_have_text(str(before + 1), timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


def test_the_operator_sees_the_invoker_and_its_pool(browser: object, stack: Stack, api: httpx.Client,
                                                    unique: str, shots: Path) -> None:
    put_action(api, unique, CODE)
    done = api.post(f"/api/v1/namespaces/_/actions/{unique}", params={"blocking": "true"}, json={})
    assert done.status_code == 200  # so the pool holds at least one warm container
    page = _page(browser)
    _login(page, stack, *stack.operator)
    page.click("text=Invokers")  # type: ignore[attr-defined]
    row = page.inner_text(f"table.invokers tr:has-text('{stack.invoker_name}')")  # type: ignore[attr-defined]
    assert "up" in row and "free" in row and "MB" in row
    page.screenshot(path=str(shots / "admin-invokers.png"), full_page=True)  # type: ignore[attr-defined]
    page.click("text=Namespaces")  # type: ignore[attr-defined]
    assert "other" in page.inner_text("main")  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "admin-namespaces.png"), full_page=True)  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


def test_pages_work_without_javascript(browser: object, stack: Stack, api: httpx.Client, unique: str) -> None:
    put_action(api, unique, CODE)
    page = _page(browser, javascript=False)
    _login(page, stack, ":".join(stack.guest))
    page.goto(f"{stack.url}/admin/ns/guest/actions/{unique}")  # type: ignore[attr-defined]
    page.fill("textarea[name=params]", json.dumps({"name": "plain"}))  # type: ignore[attr-defined]
    page.click("#invoke")  # type: ignore[attr-defined]  # a plain form POST and a new page
    page.wait_for_selector("#result-json")  # type: ignore[attr-defined]
    assert json.loads(page.inner_text("#result-json")) == {"greeting": "Hello plain"}  # type: ignore[attr-defined]
    activation_id = page.inner_text("#activation-link").strip()  # type: ignore[attr-defined]
    wait_for_record(api, activation_id)
    page.click("#activation-link")  # type: ignore[attr-defined]
    assert "hello from the browser test" in page.inner_text("#logs")  # type: ignore[attr-defined]
    page.goto(f"{stack.url}/admin/dashboard?minutes=5")  # type: ignore[attr-defined]
    assert f"guest/{unique}" in page.inner_text("main")  # type: ignore[attr-defined]  # tables without charts
    page.context.close()  # type: ignore[attr-defined]


# --- the action editor ---------------------------------------------------------------------------------------

EDITED = CODE.replace("'Hello '", "'Hi again, '")
KEYWORD_COLOUR = "rgb(119, 0, 136)"  # CodeMirror's default theme: .cm-s-default .cm-keyword { color: #708 }


def _editor_text(page: object) -> str:
    page.wait_for_selector(".CodeMirror")  # type: ignore[attr-defined]  # scripts run after the page is shown
    text: str = page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")  # type: ignore[attr-defined]
    return text


def _type_code(page: object, code: str) -> None:
    """Replace the editor's text as a user would: click into it, select all, type (inserted as typed text, so the
    editor's auto-indent does not add to the code's own indentation)."""
    page.click(".CodeMirror-code")  # type: ignore[attr-defined]
    page.keyboard.press("Control+a")  # type: ignore[attr-defined]
    page.keyboard.insert_text(code)  # type: ignore[attr-defined]
    assert _editor_text(page) == code


def _highlights_python(page: object) -> None:
    """The editor is CodeMirror (not the bare textarea) and colours Python's keywords."""
    keyword = page.locator(".CodeMirror .cm-keyword", has_text="def").first  # type: ignore[attr-defined]
    playwright_api.expect(keyword).to_be_visible()
    assert keyword.evaluate("e => getComputedStyle(e).color") == KEYWORD_COLOUR
    assert not page.is_visible("textarea#code")  # type: ignore[attr-defined]  # hidden under the editor


def _invoke(page: object, name: str) -> dict[str, object]:
    page.fill("textarea[name=params]", json.dumps({"name": name}))  # type: ignore[attr-defined]
    page.click("#invoke")  # type: ignore[attr-defined]
    page.wait_for_selector("#result-json")  # type: ignore[attr-defined]
    playwright_api.expect(page.locator("#result-json")).to_contain_text(name)  # type: ignore[attr-defined]
    page.wait_for_selector("#logs")  # type: ignore[attr-defined]  # polled in until the record is stored
    assert "hello from the browser test" in page.inner_text("#logs")  # type: ignore[attr-defined]
    result: dict[str, object] = json.loads(page.inner_text("#result-json"))  # type: ignore[attr-defined]
    return result


def test_create_invoke_edit_invoke_delete_in_the_editor(browser: object, stack: Stack, api: httpx.Client,
                                                        unique: str, shots: Path) -> None:
    page = _page(browser)
    _login(page, stack, ":".join(stack.guest))
    page.click("text=Actions")  # type: ignore[attr-defined]
    page.click("#new-action")  # type: ignore[attr-defined]

    # Create: a name, the kind (the editor's highlighting follows it), code typed into the editor.
    page.fill("input[name=name]", unique)  # type: ignore[attr-defined]
    page.wait_for_selector(".CodeMirror")  # type: ignore[attr-defined]
    page.select_option("select[name=kind]", "nodejs:18")  # type: ignore[attr-defined]
    assert page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getOption('mode')") == "javascript"  # type: ignore[attr-defined]
    page.select_option("select[name=kind]", "python:3")  # type: ignore[attr-defined]
    _type_code(page, CODE)
    _highlights_python(page)
    # A web action's parameters are final (invokes may not override them): one the code does not read.
    page.fill("textarea[name=parameters]", json.dumps({"source": "editor"}))  # type: ignore[attr-defined]
    page.fill("input[name=memory]", "192")  # type: ignore[attr-defined]
    page.select_option("select[name=web]", "true")  # type: ignore[attr-defined]
    assert page.is_visible("#unsaved")  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "admin-create.png"), full_page=True)  # type: ignore[attr-defined]
    page.click("#save")  # type: ignore[attr-defined]
    page.wait_for_url(f"**/edit-action/{unique}")  # type: ignore[attr-defined]
    assert f"Created /guest/{unique}, version 0.0.1." in page.inner_text("main")  # type: ignore[attr-defined]
    stored = api.get(f"/api/v1/namespaces/_/actions/{unique}").json()
    assert stored["exec"]["code"] == CODE and stored["limits"]["memory"] == 192
    assert stored["parameters"] == [{"key": "source", "value": "editor"}]
    assert {"key": "web-export", "value": True} in stored["annotations"]

    # Invoke it beside the code.
    assert _invoke(page, "first") == {"greeting": "Hello first"}

    # Edit, save with Ctrl-S in the editor (a new version), invoke again: the new code answers.
    _type_code(page, EDITED)
    page.keyboard.press("Control+s")  # type: ignore[attr-defined]
    page.wait_for_selector("text=version 0.0.2.")  # type: ignore[attr-defined]
    assert _editor_text(page) == EDITED
    assert _invoke(page, "second") == {"greeting": "Hi again, second"}
    _highlights_python(page)
    page.screenshot(path=str(shots / "admin-edit.png"), full_page=True)  # type: ignore[attr-defined]
    web = httpx.get(f"{stack.url}/api/v1/web/guest/default/{unique}.json", params={"name": "web"}, timeout=90)
    assert web.json() == {"greeting": "Hi again, web"}  # still exported: the web select kept its value

    # Delete it, with the confirmation.
    page.click("#delete")  # type: ignore[attr-defined]
    page.click("button.danger")  # type: ignore[attr-defined]
    page.wait_for_url("**/admin/ns/guest/actions")  # type: ignore[attr-defined]
    assert f"Deleted /guest/{unique}." in page.inner_text("main")  # type: ignore[attr-defined]
    assert api.get(f"/api/v1/namespaces/_/actions/{unique}").status_code == 404
    page.context.close()  # type: ignore[attr-defined]


def test_a_conflicting_save_keeps_the_typed_code(browser: object, stack: Stack, api: httpx.Client, unique: str,
                                                 shots: Path) -> None:
    put_action(api, unique, CODE)
    page = _page(browser)
    _login(page, stack, ":".join(stack.guest))
    page.goto(f"{stack.url}/admin/ns/guest/edit-action/{unique}")  # type: ignore[attr-defined]
    _type_code(page, EDITED)
    theirs = CODE.replace("'Hello '", "'Theirs, '")
    put = api.put(f"/api/v1/namespaces/_/actions/{unique}", params={"overwrite": "true"},
                  json={"exec": {"kind": "python:default", "code": theirs}})
    assert put.status_code == 200  # someone else saved meanwhile
    page.click("#save")  # type: ignore[attr-defined]
    page.wait_for_selector("#conflict")  # type: ignore[attr-defined]
    assert "Version 0.0.2 was saved" in page.inner_text("#conflict")  # type: ignore[attr-defined]
    assert _editor_text(page) == EDITED  # not lost
    _highlights_python(page)
    page.click("#conflict summary")  # type: ignore[attr-defined]  # their code, to compare
    page.screenshot(path=str(shots / "admin-conflict.png"), full_page=True)  # type: ignore[attr-defined]
    assert api.get(f"/api/v1/namespaces/_/actions/{unique}").json()["exec"]["code"] == theirs
    page.click("#overwrite")  # type: ignore[attr-defined]
    page.wait_for_selector("text=version 0.0.3.")  # type: ignore[attr-defined]
    assert api.get(f"/api/v1/namespaces/_/actions/{unique}").json()["exec"]["code"] == EDITED
    page.context.close()  # type: ignore[attr-defined]


def test_the_editor_is_a_textarea_without_javascript(browser: object, stack: Stack, api: httpx.Client,
                                                     unique: str) -> None:
    page = _page(browser, javascript=False)
    _login(page, stack, ":".join(stack.guest))
    page.goto(f"{stack.url}/admin/ns/guest/create-action")  # type: ignore[attr-defined]
    page.fill("input[name=name]", unique)  # type: ignore[attr-defined]
    page.fill("textarea#code", CODE)  # type: ignore[attr-defined]
    page.click("#save")  # type: ignore[attr-defined]
    page.wait_for_url(f"**/edit-action/{unique}")  # type: ignore[attr-defined]
    assert api.get(f"/api/v1/namespaces/_/actions/{unique}").json()["exec"]["code"] == CODE  # LF, as typed
    page.fill("textarea#code", EDITED)  # type: ignore[attr-defined]
    page.click("#save")  # type: ignore[attr-defined]
    page.wait_for_selector("text=version 0.0.2.")  # type: ignore[attr-defined]
    page.fill("textarea[name=params]", json.dumps({"name": "plain"}))  # type: ignore[attr-defined]
    page.click("#invoke")  # type: ignore[attr-defined]  # a plain POST: the editor's page again, with the outcome
    page.wait_for_selector("#result-json")  # type: ignore[attr-defined]
    assert json.loads(page.inner_text("#result-json")) == {"greeting": "Hi again, plain"}  # type: ignore[attr-defined]
    assert page.input_value("textarea#code") == EDITED  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]
