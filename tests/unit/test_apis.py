"""The gateway's API documents (``app.core.apis``): OpenWhisk's route management rules, read from its
``core/routemgmt`` actions, as plain data, and matching a request path to an operation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.core.apis import (
    Api,
    Cors,
    RateLimit,
    Target,
    add_endpoint,
    base_swagger,
    match,
    operation_id,
    parse_cors,
    parse_swagger,
    path_parameter_names,
    remove_endpoint,
    with_namespace,
)
from app.core.errors import Invalid

HOST = "http://127.0.0.1:3233"


def apidoc(relpath: str = "/books", method: str = "GET", action: str = "getBooks", namespace: str = "_",
           **extra: Any) -> dict[str, Any]:
    """The apidoc of ``wsk api create /club <relpath> <method> <action>``."""
    return {"namespace": "_", "gatewayBasePath": "/club", "gatewayPath": relpath, "gatewayMethod": method,
            "id": "API:_:/club", "action": {"name": action, "namespace": namespace, "backendMethod": method,
                                            "backendUrl": f"{HOST}/api/v1/web/_/default/{action}.http",
                                            "authkey": "uuid:key"}, **extra}


def api_with(*routes: tuple[str, str, str], base: str = "/club", response_type: str = "http") -> Api:
    swagger = base_swagger(base, None)
    for relpath, method, action in routes:
        swagger = add_endpoint(swagger, {**apidoc(relpath, method, action), "gatewayBasePath": base}, "guest",
                               response_type, HOST)
    return parse_swagger(swagger, "guest")


@pytest.mark.parametrize(("method", "relpath", "expected"), [
    ("get", "/books", "getBooks"),
    ("GET", "/books/{isbn}", "getBooksIsbn"),
    ("post", "/", "post"),
    ("put", "/my-books/by_author", "putMy-booksBy_author"),
    ("delete", "/a.b/C", "deleteABC"),
    ("patch", "/v1/{id}/items", "patchV1IdItems"),
])
def test_operation_ids_are_openwhisks(method: str, relpath: str, expected: str) -> None:
    assert operation_id(method, relpath) == expected


@pytest.mark.parametrize(("path", "expected"), [
    ("/books", []),
    ("/books/{isbn}", ["isbn"]),
    ("/{a}/x/{b}/{a}", ["a", "b"]),
    ("/books/x{isbn}", []),  # not a whole segment: not a parameter (isValidRelativePath)
    ("/{isbn}", ["isbn"]),
])
def test_path_parameters_are_whole_segments(path: str, expected: list[str]) -> None:
    assert path_parameter_names(path) == expected


def test_a_route_becomes_openwhisks_swagger() -> None:
    swagger = add_endpoint(base_swagger("/club", "Book Club"), apidoc("/books/{isbn}", "get"), "guest", "http", HOST)
    op = swagger["paths"]["/books/{isbn}"]["get"]
    assert op["operationId"] == "getBooksIsbn"
    assert op["parameters"][0] == {"name": "isbn", "in": "path", "description": "Default description for 'isbn'",
                                   "required": True, "type": "string"}
    assert op["x-openwhisk"] == {"url": f"{HOST}/api/v1/web/guest/default/getBooks.http", "namespace": "guest",
                                 "package": "", "action": "getBooks"}
    assert op["responses"] == {"default": {"description": "Default response"}}
    case = swagger["x-ibm-configuration"]["assembly"]["execute"][0]["operation-switch"]["case"][0]
    assert case == {"operations": ["getBooksIsbn"], "execute": [{"invoke": {
        "target-url": f"{HOST}/api/v1/web/guest/default/getBooks.http$(request.path)", "verb": "keep"}}]}
    assert swagger["info"] == {"title": "Book Club", "version": "1.0.0"}
    assert swagger["x-ibm-configuration"]["cors"] == {"enabled": True}


@pytest.mark.parametrize(("name", "namespace", "expected"), [
    ("getBooks", "_", Target("guest", "", "getBooks", "json")),
    ("lib/getBooks", "_", Target("guest", "lib", "getBooks", "json")),
    ("/other/lib/getBooks", "other", Target("other", "lib", "getBooks", "json")),
    ("/other/getBooks", "other", Target("other", "", "getBooks", "json")),
])
def test_a_routes_action_may_be_in_a_package_or_namespace(name: str, namespace: str, expected: Target) -> None:
    api = parse_swagger(add_endpoint(base_swagger("/club", None), apidoc(action=name, namespace=namespace),
                                     "guest", "json", HOST), "guest")
    assert api.operations[0].target == expected


def test_a_secured_web_action_gets_its_secret_header() -> None:
    doc = apidoc()
    doc["action"]["secureKey"] = 1234
    api = parse_swagger(add_endpoint(base_swagger("/club", None), doc, "guest", "json", HOST), "guest")
    assert api.operations[0].headers == (("X-Require-Whisk-Auth", "1234"),)


def test_routes_add_up_and_replace_their_own_verb() -> None:
    api = api_with(("/books", "get", "a"), ("/books", "post", "b"), ("/books", "get", "c"), ("/shelves", "get", "d"))
    assert sorted((op.relpath, op.method, op.target.action if op.target else "") for op in api.operations) == [
        ("/books", "get", "c"), ("/books", "post", "b"), ("/shelves", "get", "d")]
    cases = api.swagger["x-ibm-configuration"]["assembly"]["execute"][0]["operation-switch"]["case"]
    assert [c["operations"] for c in cases] == [["getBooks"], ["postBooks"], ["getShelves"]]


@pytest.mark.parametrize(("relpath", "method", "left", "message"), [
    ("/books", "get", [("/books", "post"), ("/shelves", "get")], None),
    ("/books", None, [("/shelves", "get")], None),
    ("/nope", None, None, "path '/nope' does not exist in the API"),
    ("/shelves", "post", None, "path '/shelves' with operation 'post' does not exist in the API"),
])
def test_removing_routes(relpath: str, method: str | None, left: list[tuple[str, str]] | None,
                         message: str | None) -> None:
    api = api_with(("/books", "get", "a"), ("/books", "post", "b"), ("/shelves", "get", "d"))
    if message is not None:
        with pytest.raises(Invalid) as raised:
            remove_endpoint(api.swagger, relpath, method)
        assert raised.value.message == message
        return
    after = parse_swagger(remove_endpoint(api.swagger, relpath, method), "guest")
    assert sorted((op.relpath, op.method) for op in after.operations) == left
    cases = after.swagger["x-ibm-configuration"]["assembly"]["execute"][0]["operation-switch"]["case"]
    assert sorted(c["operations"][0] for c in cases) == sorted(operation_id(m, p) for p, m in left or [])


SWAGGER: dict[str, Any] = {
    "swagger": "2.0", "info": {"title": "Books", "version": "1.0"}, "basePath": "/club",
    "paths": {"/books/{isbn}": {"get": {
        "operationId": "getBook", "parameters": [{"name": "isbn", "in": "path", "required": True}],
        "x-openwhisk": {"namespace": "_", "package": "lib", "action": "getBook",
                        "url": "https://h/api/v1/web/_/lib/getBook.http"},
        "responses": {}}}},
}


def _without(path: list[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(SWAGGER))
    node = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return doc


def _with(path: list[str], value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(SWAGGER))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


OP = ["paths", "/books/{isbn}", "get"]


@pytest.mark.parametrize(("document", "message"), [
    ("{not json", "swagger field cannot be parsed. Ensure it is valid JSON."),
    ([1], "swagger field is list and should be an object or a JSON string."),
    (_without(["basePath"]), "swagger is missing the basePath field."),
    (_without(["paths"]), "swagger is missing the paths field."),
    (_without(["info"]), "swagger is missing the info field."),
    (_with(["basePath"], "club"), "Swagger file basePath must start with a leading slash (/)"),
    (_with(["basePath"], "/club/{id}"),
     "The base path (/club/{id}) cannot have parameters. Only the relative path supports path parameters."),
    (_with([*OP, "x-openwhisk", "url"], "https://h/api/v1/web/_/lib/getBook.json"),
     "The action must use a response type of '.http' in order to receive the path parameters."),
    (_with([*OP, "parameters"], []),
     "The parameter 'isbn' defined in path '/books/{isbn}' does not match any of the parameters defined for the "
     "path in the swagger file."),
    (_with([*OP, "x-squall"], {"rateLimit": 0}),
     "x-squall of get /books/{isbn}: rateLimit must be a whole number of requests per minute of at least 1"),
    (_with([*OP, "x-squall"], {"rateLimit": {"rate": 5, "unit": "week"}}),
     "x-squall of get /books/{isbn}: rateLimit.unit must be one of second, minute, hour, day"),
    (_with([*OP, "x-squall"], {"cors": "yes"}), "x-squall of get /books/{isbn}: cors must be true, false or an object"),
    (_with([*OP, "x-squall"], {"cors": {"origin": "x"}}),
     "x-squall of get /books/{isbn}: cors has unknown fields: origin"),
    (_with([*OP, "x-squall"], {"speed": 1}), "x-squall of get /books/{isbn} has unknown fields: speed"),
    (_with([*OP, "x-squall"], {"cors": {"headers": ["X-A\r\nSet-Cookie: a=b"]}}),
     "x-squall of get /books/{isbn}: cors.headers must be a list of strings"),  # no header injection
])
def test_invalid_swagger_documents(document: Any, message: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_swagger(document, "guest")
    assert raised.value.message == message


def test_a_swagger_document_as_wsk_sends_it() -> None:
    api = parse_swagger(json.dumps(SWAGGER), "guest")  # --config-file: the file's text
    assert (api.base_path, api.name) == ("/club", "Books")
    (op,) = api.operations
    assert (op.relpath, op.method, op.operation_id) == ("/books/{isbn}", "get", "getBook")
    assert op.target == Target("guest", "lib", "getBook", "http")
    assert api.gw_url(HOST) == f"{HOST}/api/guest/club"


def test_a_swagger_with_only_the_gateways_target_urls() -> None:
    doc = _without([*OP, "x-openwhisk"])
    doc["x-gateway-configuration"] = {"assembly": {"execute": [{"operation-switch": {"case": [{
        "operations": ["getBook"],
        "execute": [{"invoke": {"target-url": "https://h/api/v1/web/guest/default/getBook.http$(request.path)",
                                "verb": "keep"}}]}]}}]}}
    (op,) = parse_swagger(doc, "guest").operations
    assert op.target == Target("guest", "", "getBook", "http")


def test_the_default_namespace_is_the_callers() -> None:
    doc = with_namespace(SWAGGER, "alice")
    assert doc["paths"]["/books/{isbn}"]["get"]["x-openwhisk"]["namespace"] == "alice"
    assert doc["paths"]["/books/{isbn}"]["get"]["x-openwhisk"]["url"] == "https://h/api/v1/web/alice/lib/getBook.http"
    assert SWAGGER["paths"]["/books/{isbn}"]["get"]["x-openwhisk"]["namespace"] == "_"  # a copy


@pytest.mark.parametrize(("extension", "gateway", "expected"), [
    ({}, None, None),
    ({"rateLimit": 10}, None, RateLimit(10, 60)),
    ({"rateLimit": {"rate": 3, "unit": "second"}}, None, RateLimit(3, 1)),
    ({"rateLimit": {"rate": 100, "unit": "hour", "units": 2}}, None, RateLimit(100, 7200)),
    ({}, [{"rate": 5, "unit": "minute", "units": 1}], None),  # the gateway's limit is the API's, not the route's
])
def test_rate_limits(extension: dict[str, Any], gateway: Any, expected: RateLimit | None) -> None:
    doc = _with([*OP, "x-squall"], extension)
    if gateway is not None:
        doc["x-gateway-rate-limit"] = gateway
    api = parse_swagger(doc, "guest")
    assert api.operations[0].rate_limit == expected
    assert api.rate_limit == (RateLimit(5, 60) if gateway else None)


def test_an_apis_own_settings_are_every_routes_default() -> None:
    doc = _with(["x-squall"], {"rateLimit": 7, "cors": False})
    doc["paths"]["/books/{isbn}"]["put"] = {**doc["paths"]["/books/{isbn}"]["get"], "operationId": "putBook",
                                            "x-squall": {"rateLimit": 2, "cors": True}}
    get, put = parse_swagger(doc, "guest").operations
    assert (get.rate_limit, get.cors) == (RateLimit(7), Cors(enabled=False))
    assert (put.rate_limit, put.cors) == (RateLimit(2), Cors(enabled=True))


def test_rate_limit_windows() -> None:
    assert RateLimit(5, 60).window(120_000) == (2, 60)
    assert RateLimit(5, 60).window(179_001) == (2, 1)
    assert RateLimit(5, 1).window(1_500) == (1, 1)


@pytest.mark.parametrize(("cors", "origin", "requested", "expected"), [
    (Cors(), "https://a.example", None, {
        "Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Methods": "GET, POST, PUT, "
        "DELETE, PATCH, HEAD, OPTIONS", "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}),
    (Cors(credentials=False), None, "X-A", {
        "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, PATCH, HEAD, "
        "OPTIONS", "Access-Control-Allow-Headers": "X-A"}),
    (Cors(enabled=False), "https://a.example", None, {}),
    (Cors(origins=("https://b.example",)), "https://a.example", None, {}),
    (Cors(origins=("https://b.example",), methods=("GET",), headers=("X-Key",), credentials=False, max_age_s=60),
     "https://b.example", "X-Other", {
         "Access-Control-Allow-Origin": "https://b.example", "Access-Control-Allow-Methods": "GET",
         "Access-Control-Allow-Headers": "X-Key", "Access-Control-Max-Age": "60", "Vary": "Origin"}),
])
def test_cors_answers(cors: Cors, origin: str | None, requested: str | None, expected: dict[str, str]) -> None:
    assert cors.response_headers(origin, requested) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (True, Cors()),
    (False, Cors(enabled=False)),
    ({"origins": "https://a.example, https://b.example", "methods": ["get"], "maxAge": 5},
     Cors(origins=("https://a.example", "https://b.example"), methods=("GET",), max_age_s=5)),
])
def test_cors_settings(value: Any, expected: Cors) -> None:
    assert parse_cors(value, "cors") == expected


BOOKS = api_with(("/books", "get", "list"), ("/books", "post", "add"), ("/books/{isbn}", "get", "one"),
                 ("/books/new", "get", "form"), ("/books/{isbn}/pages/{page}", "get", "page"), ("/", "get", "home"))
ROOT = api_with(("/health", "get", "health"), ("/club/other", "get", "shadowed"), base="/")


@pytest.mark.parametrize(("path", "expected"), [
    ("/club/books", ("/club", "/books", {}, ["GET", "POST"])),
    ("/club/books/", ("/club", "/books", {}, ["GET", "POST"])),
    ("/club/books/978", ("/club", "/books/{isbn}", {"isbn": "978"}, ["GET"])),
    ("/club/books/new", ("/club", "/books/new", {}, ["GET"])),  # a literal path beats a template
    ("/club/books/978/pages/12", ("/club", "/books/{isbn}/pages/{page}", {"isbn": "978", "page": "12"}, ["GET"])),
    ("/club", ("/club", "/", {}, ["GET"])),
    ("/club/", ("/club", "/", {}, ["GET"])),
    ("/health", ("/", "/health", {}, ["GET"])),
    ("/club/books/978/pages", None),
    ("/club/shelves", None),
    ("/clubhouse/books", None),
    ("/club/other", ("/", "/club/other", {}, ["GET"])),  # the longest base path first, then the others
])
def test_matching(path: str, expected: tuple[str, str, dict[str, str], list[str]] | None) -> None:
    found = match([ROOT, BOOKS], path)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert (found.api.base_path, found.relpath, found.parameters, found.allowed()) == expected
