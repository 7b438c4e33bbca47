"""The npm ``openwhisk`` client's ``routes``, unchanged, against the real stack: create (with a path parameter),
list, get by base path and by name, serve through the gateway URL it answers, delete a route, then the API."""

from __future__ import annotations

import pytest

from tests.e2e.npm import run_npm_script
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def test_npm_client_routes(stack: Stack, unique: str) -> None:
    seen = run_npm_script("npm_routes.js", stack, unique)
    created = seen["created"]
    assert created["gwApiUrl"] == f"{stack.url}/api/guest/{unique}"
    assert created["apidoc"]["info"]["title"] == "Book Club"
    op = created["apidoc"]["paths"]["/books/{isbn}"]["get"]
    assert op["x-openwhisk"] == {"url": f"{stack.url}/api/v1/web/guest/default/{unique}.http", "namespace": "guest",
                                 "package": "", "action": unique}
    assert sorted(seen["second"]["apidoc"]["paths"]) == ["/books", "/books/{isbn}"]
    mine = [a for a in seen["listed"]["apis"] if a["value"]["apidoc"]["basePath"] == f"/{unique}"]
    assert len(mine) == 1
    assert seen["got"]["apis"] == mine
    assert seen["byName"]["apis"] == mine
    assert seen["served"]["status"] == 200
    assert seen["served"]["body"] == {"path": f"/{unique}/books/978-0", "isbn": "978-0", "method": "get",
                                      "q": "npm"}
    assert len(seen["served"]["activationId"]) == 32
    assert seen["deletedOne"] == {}
    assert seen["afterDeleteOne"] == 404
    assert seen["deleted"] == {}
    assert all(a["value"]["apidoc"]["basePath"] != f"/{unique}" for a in seen["afterDelete"]["apis"])
    assert seen["missingError"]["statusCode"] == 404
    assert seen["missingError"]["message"].endswith(f'--> "API deletion failure: API \'/{unique}\' does not exist."')
