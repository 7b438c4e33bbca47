"""Entity versions on the wire, as OpenWhisk's ``SemVer`` reads them: one to three numeric parts, stored and
answered as ``major.minor.patch`` (wskdeploy sends ``"version": "1.0"`` from every manifest that names one); an
update takes the given version, else bumps the stored patch; anything else is 400 with OpenWhisk's message and
no pydantic wording ("Value error, ...")."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.api.conftest import CODE, NS, Api, error, ok

pytestmark = pytest.mark.api

MALFORMED_VERSION = "The request content was malformed:\nversion: semantic version malformed"
COLLECTIONS = ["actions", "packages", "triggers", "rules"]
BODIES: dict[str, dict[str, Any]] = {
    "actions": {"exec": {"kind": "python:3", "code": CODE}},
    "packages": {},
    "triggers": {},
    "rules": {"trigger": "/_/t", "action": "/_/a"},
}


def put(api: Api, collection: str, version: Any, *, overwrite: bool = False, omit: bool = False) -> TestResponse:
    """PUT the entity ``v`` of ``collection`` with ``version`` (left out of the body when ``omit``)."""
    body = dict(BODIES[collection]) if omit else {**BODIES[collection], "version": version}
    return api.put(f"{NS}/{collection}/v", body, query={"overwrite": "true"} if overwrite else None)


@pytest.fixture
def rule_targets(api: Api) -> Api:
    """The trigger and action a rule body names (other collections ignore them)."""
    api.action("a")
    api.trigger("t")
    return api


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize(("given", "stored"), [("1", "1.0.0"), ("1.0", "1.0.0"), ("0.1", "0.1.0"),
                                               ("1.2.3", "1.2.3")])
def test_short_versions_are_stored_as_major_minor_patch(rule_targets: Api, collection: str, given: str,
                                                         stored: str) -> None:
    api = rule_targets
    assert ok(put(api, collection, given))["version"] == stored
    assert ok(api.get(f"{NS}/{collection}/v"))["version"] == stored
    listed = {e["name"]: e for e in ok(api.get(f"{NS}/{collection}"))}
    assert listed["v"]["version"] == stored


@pytest.mark.parametrize(("given", "stored"), [
    ("01.002.0003", "1.2.3"),  # leading zeros: Integer.parseInt reads them
    ("+1.-0", "1.0.0"),  # a sign, as parseInt takes it; -0 is 0
    ("1.", "1.0.0"),  # Java's split drops trailing empty parts
    ("1.2..", "1.2.0"),
    ("1.2.3.4", "1.2.3"),  # parts after the third are not read
    ("1.2.3.x", "1.2.3"),
    ("2147483647.0", "2147483647.0.0"),  # a 32-bit Int at most
    (None, "0.0.1"),  # null is "not given"
])
def test_what_openwhisk_semver_reads_besides(api: Api, given: str | None, stored: str) -> None:
    assert ok(put(api, "packages", given))["version"] == stored


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_an_update_takes_the_given_version_else_bumps_the_patch(rule_targets: Api, collection: str) -> None:
    api = rule_targets
    assert ok(put(api, collection, "1.0"))["version"] == "1.0.0"
    assert ok(put(api, collection, None, overwrite=True, omit=True))["version"] == "1.0.1"
    # OpenWhisk's update is `content.version getOrElse old.version.upPatch`: the client's version wins.
    assert ok(put(api, collection, "2", overwrite=True))["version"] == "2.0.0"
    assert ok(put(api, collection, "1.5", overwrite=True))["version"] == "1.5.0"  # lower is fine too
    assert ok(put(api, collection, None, overwrite=True))["version"] == "1.5.1"
    assert ok(api.get(f"{NS}/{collection}/v"))["version"] == "1.5.1"


BAD_VERSIONS: list[Any] = [
    "", "0", "0.0", "0.0.0", "-1", "1.-1", "1.x", "1.2.3-beta", "v1.0", ".1", "1..2", " 1", "1 ", "1_0",
    "2147483648", 1, 1.0, True, [], {},
]


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("version", BAD_VERSIONS, ids=repr)
def test_bad_versions_are_400_and_store_nothing(rule_targets: Api, collection: str, version: Any) -> None:
    api = rule_targets
    assert error(put(api, collection, version), 400) == MALFORMED_VERSION
    error(api.get(f"{NS}/{collection}/v"), 404)


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_bad_version_on_update_leaves_the_entity_as_it_was(rule_targets: Api, collection: str) -> None:
    api = rule_targets
    before = ok(put(api, collection, "1.0"))
    assert error(put(api, collection, "1.0.x-rc", overwrite=True), 400) == MALFORMED_VERSION
    after = ok(api.get(f"{NS}/{collection}/v"))
    assert after["version"] == "1.0.0" and after["updated"] == before["updated"]


def test_a_wskdeploy_manifest_deploys(api: Api) -> None:
    # What wskdeploy sends for a manifest package and action both naming `version: 1.0`.
    assert ok(api.put(f"{NS}/packages/p", {"version": "1.0", "publish": False}))["version"] == "1.0.0"
    action = ok(api.put(f"{NS}/actions/p/hello", {"version": "1.0", "exec": {"kind": "python:3", "code": CODE}}))
    assert action["version"] == "1.0.0"
    assert ok(api.get(f"{NS}/packages/p"))["actions"][0]["version"] == "1.0.0"
    ok(api.put(f"{NS}/packages/p", {"version": "1.0"}, query={"overwrite": "true"}))  # redeploying
    assert ok(api.get(f"{NS}/packages/p"))["version"] == "1.0.0"
    activation = ok(api.post(f"{NS}/actions/p/hello", {}, query={"blocking": "true"}))
    assert activation["version"] == "1.0.0"
