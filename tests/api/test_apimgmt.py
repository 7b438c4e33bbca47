"""The built-in API gateway through Flask's test client: the ``whisk.system/apimgmt`` routes with the exact
requests ``wsk api create/get/list/delete`` (openwhisk-cli ``commands/api.go``, openwhisk-client-go
``whisk/api.go``) and the npm client's ``routes`` (``lib/routes.js``) send, and serving ``/api/<namespace>/...``
through web actions, with path parameters, rate limits and CORS per route.

The echo dispatcher's result is the input the controller sent, so a ``.json`` route of an echo action shows what
the gateway handed the web action.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.conftest import NO_AUTH, NS, Api, Auth, Reply, check_contract, error, kv, ok

pytestmark = pytest.mark.api

APIMGMT = "/api/v1/web/whisk.system/apimgmt"
WSK_TOKEN = {"accesstoken": "DUMMY TOKEN"}  # what wsk sends when no APIGW_ACCESS_TOKEN is configured


def wsk_options(api: Api, **options: str) -> dict[str, str]:
    """wsk's ``ApiOptions`` query: the access token and the key's uuid as space guid, always."""
    return {**options, **WSK_TOKEN, "spaceguid": api.auth[0]}


def wsk_apidoc(api: Api, base: str, relpath: str, verb: str, action: str, name: str | None = None) -> dict[str, Any]:
    """The body ``wsk api create [-n name] base relpath verb action`` posts (``parseApi``; empty fields omitted)."""
    doc: dict[str, Any] = {
        "namespace": "_", "gatewayBasePath": base, "gatewayPath": relpath, "gatewayMethod": verb.upper(),
        "id": f"API:_:{base}",
        "action": {"name": action, "namespace": "_", "backendMethod": verb.upper(),
                   "backendUrl": f"https://127.0.0.1:3233/api/v1/web/_/default/{action}.http",
                   "authkey": ":".join(api.auth)}}
    params = [segment[1:-1] for segment in relpath.split("/") if segment.startswith("{") and segment.endswith("}")]
    if params:
        doc["pathParameters"] = [{"name": p, "in": "path", "description": f"Default description for '{p}'",
                                  "required": True, "type": "string"} for p in params]
    if name:
        doc["apiName"] = name
    return {"apidoc": doc}


def wsk_create(api: Api, base: str, relpath: str, verb: str, action: str, response_type: str = "json",
               name: str | None = None, auth: Auth | None = None) -> dict[str, Any]:
    body: dict[str, Any] = ok(api.post(f"{APIMGMT}/createApi.http", wsk_apidoc(api, base, relpath, verb, action, name),
                                       query=wsk_options(api, responsetype=response_type), auth=auth))
    return body


def wsk_list(api: Api, **options: str) -> list[dict[str, Any]]:
    """``wsk api list`` (limit and skip always) or, with ``basepath``, ``wsk api get``/``list BASE``."""
    query = wsk_options(api, **options) if options else wsk_options(api, limit="30", skip="0")
    apis: list[dict[str, Any]] = ok(api.get(f"{APIMGMT}/getApi.http", query=query))["apis"]
    return apis


def web_action(api: Api, name: str, **annotations: Any) -> None:
    api.action(name, annotations=kv(**{"web-export": True, **annotations}))


def gateway(api: Api, path: str, method: str = "GET", namespace: str | None = None,
            headers: dict[str, str] | None = None, data: str | None = None) -> TestResponse:
    """A request to the gateway, with no key."""
    response = api.platform.client.open(f"/api/{namespace or api.ns}{path}", method=method, headers=headers or {},
                                        data=data, content_type="application/json" if data else None)
    assert response.headers.get("X-Request-ID")
    if response.status_code >= 400:
        check_contract(response)
    return response


def gw_url(api: Api, base: str) -> str:
    return f"{api.settings.controller.api_host.rstrip('/')}/api/{api.ns}{base}"


# --- createApi ------------------------------------------------------------------------------------------------


def test_wsk_api_create_answers_the_api_as_openwhisk(api: Api) -> None:
    created = wsk_create(api, "/club", "/books", "get", "getBooks", name="Book Club")
    assert created["gwApiUrl"] == gw_url(api, "/club")
    assert created["namespace"] == api.ns
    assert created["gwApiActivated"] is True
    doc = created["apidoc"]
    assert (doc["swagger"], doc["basePath"], doc["info"]) == ("2.0", "/club", {"title": "Book Club",
                                                                                "version": "1.0.0"})
    op = doc["paths"]["/books"]["get"]
    assert op["operationId"] == "getBooks"
    # wsk prints "/<namespace>/<action>" from x-openwhisk, and validates each of these fields is there
    assert op["x-openwhisk"] == {"url": f"{api.settings.controller.api_host.rstrip('/')}/api/v1/web/{api.ns}/default/"
                                        "getBooks.json", "namespace": api.ns, "package": "", "action": "getBooks"}


def test_routes_add_up_in_one_api_per_base_path(api: Api) -> None:
    wsk_create(api, "/club", "/books", "get", "getBooks", name="Book Club")
    wsk_create(api, "/club", "/books", "post", "postBooks")
    created = wsk_create(api, "/club", "/books/{isbn}", "put", "putBooks", response_type="http")
    assert created["apidoc"]["info"]["title"] == "Book Club"  # the first route's name stays
    paths = created["apidoc"]["paths"]
    assert sorted((p, m) for p, ops in paths.items() for m in ops) == [
        ("/books", "get"), ("/books", "post"), ("/books/{isbn}", "put")]
    assert paths["/books/{isbn}"]["put"]["parameters"][0]["name"] == "isbn"
    wsk_create(api, "/shelves", "/", "get", "getShelves")
    assert sorted(a["value"]["apidoc"]["basePath"] for a in wsk_list(api)) == ["/club", "/shelves"]


def test_wsk_api_create_config_file_takes_the_swagger_as_text(api: Api) -> None:
    exported = wsk_create(api, "/club", "/books/{isbn}", "get", "getBooks", response_type="http")["apidoc"]
    ok(api.delete(f"{APIMGMT}/deleteApi.http", query=wsk_options(api, basepath="/club")))
    exported["basePath"] = "/library"
    exported["paths"]["/books/{isbn}"]["get"]["x-openwhisk"]["namespace"] = "_"
    created = ok(api.post(f"{APIMGMT}/createApi.http", {"apidoc": {"namespace": "_", "swagger": json.dumps(exported)}},
                          query=wsk_options(api, responsetype="json")))
    assert created["gwApiUrl"] == gw_url(api, "/library")
    op = created["apidoc"]["paths"]["/books/{isbn}"]["get"]
    assert op["x-openwhisk"]["namespace"] == api.ns  # "_" is the caller's
    assert [a["value"]["apidoc"]["basePath"] for a in wsk_list(api)] == ["/library"]


def test_a_swagger_replaces_the_whole_api(api: Api) -> None:
    wsk_create(api, "/club", "/books", "get", "a")
    wsk_create(api, "/club", "/shelves", "get", "b")
    swagger = {"swagger": "2.0", "basePath": "/club", "info": {"title": "New", "version": "1"},
               "paths": {"/only": {"get": {"operationId": "only", "responses": {},
                                           "x-openwhisk": {"namespace": "_", "package": "", "action": "c",
                                                           "url": "https://x/api/v1/web/_/default/c.json"}}}}}
    ok(api.post(f"{APIMGMT}/createApi", {"apidoc": {"namespace": "_", "swagger": swagger}}))
    (listed,) = wsk_list(api)
    assert list(listed["value"]["apidoc"]["paths"]) == ["/only"]
    assert listed["value"]["apidoc"]["info"]["title"] == "New"


INVALID_APIDOCS: list[tuple[str, Any, str]] = [
    ("no apidoc", {}, "apidoc is required."),
    ("apidoc not an object", {"apidoc": 3},
     "apidoc field is of type int and should be a JSON object or a JSON string."),
    ("apidoc bad JSON text", {"apidoc": "{x"}, "apidoc field cannot be parsed. Ensure it is valid JSON."),
    ("no namespace", {"apidoc": {"gatewayBasePath": "/a"}}, "apidoc is missing the namespace field"),
    ("no base path", {"apidoc": {"namespace": "_"}}, "apidoc is missing the gatewayBasePath field"),
    ("swagger and base path", {"apidoc": {"namespace": "_", "gatewayBasePath": "/a", "swagger": "{}"}},
     "swagger and gatewayBasePath are mutually exclusive and cannot be specified together."),
    ("swagger without paths", {"apidoc": {"namespace": "_", "swagger": {"basePath": "/a", "info": {}}}},
     "swagger is missing the paths field."),
    ("base path parameter", {"apidoc": {"namespace": "_", "gatewayBasePath": "/a/{b}"}},
     "The base path (/a/{b}) cannot have parameters. Only the relative path supports path parameters."),
    ("base path without slash", {"apidoc": {"namespace": "_", "gatewayBasePath": "a"}}, "'a' must begin with '/'."),
]


@pytest.mark.parametrize(("case", "body", "message"), INVALID_APIDOCS, ids=[row[0] for row in INVALID_APIDOCS])
def test_invalid_apidocs_answer_openwhisks_messages(api: Api, case: str, body: Any, message: str) -> None:
    error(api.post(f"{APIMGMT}/createApi.http", body, query=wsk_options(api)), 400, message)


@pytest.mark.parametrize(("change", "message"), [
    ({"gatewayMethod": "FETCH"}, "'FETCH' is not a valid API verb. Valid values are: GET, PUT, POST, DELETE, PATCH, "
                                 "HEAD, OPTIONS"),
    ({"gatewayPath": None}, "apidoc is missing the gatewayPath field"),
    ({"action": None}, "apidoc is missing the action field."),
    ({"action": {"name": "a", "namespace": "_", "backendMethod": "GET"}}, "action is missing the backendUrl field."),
])
def test_invalid_routes(api: Api, change: dict[str, Any], message: str) -> None:
    body = wsk_apidoc(api, "/club", "/books", "get", "getBooks")
    body["apidoc"].update(change)
    error(api.post(f"{APIMGMT}/createApi.http", body, query=wsk_options(api)), 400, message)


def test_path_parameters_need_an_http_response_type(api: Api) -> None:
    error(api.post(f"{APIMGMT}/createApi.http", wsk_apidoc(api, "/club", "/books/{isbn}", "get", "getBooks"),
                   query=wsk_options(api, responsetype="json")), 400,
          "The action must use a response type of '.http' in order to receive the path parameters.")
    error(api.post(f"{APIMGMT}/createApi.http", wsk_apidoc(api, "/club", "/b", "get", "a"),
                   query=wsk_options(api, responsetype="xml")), 400,
          "'xml' is not a valid response type. Valid values are: json, http, html, text, svg")


def test_apimgmt_needs_a_valid_key(api: Api) -> None:
    body = wsk_apidoc(api, "/club", "/books", "get", "getBooks")
    error(api.post(f"{APIMGMT}/createApi.http", body, auth=NO_AUTH), 401)
    error(api.post(f"{APIMGMT}/createApi.http", body, auth=(api.auth[0], "wrong")), 401)
    error(api.get(f"{APIMGMT}/getApi.http", auth=NO_AUTH), 401)
    error(api.delete(f"{APIMGMT}/deleteApi.http", query={"basepath": "/club"}, auth=NO_AUTH), 401)


# --- getApi ---------------------------------------------------------------------------------------------------


def test_wsk_api_list_and_get(api: Api) -> None:
    assert wsk_list(api) == []  # a namespace with no API yet: an empty list, not an error
    wsk_create(api, "/club", "/books", "get", "getBooks", name="Book Club")
    wsk_create(api, "/shelves", "/", "get", "getShelves")
    listed = wsk_list(api)
    assert len(listed) == 2
    for item in listed:
        base = item["value"]["apidoc"]["basePath"]
        assert item["id"] == f"API:{api.ns}:{base}"
        assert item["value"]["gwApiUrl"] == gw_url(api, base)
        assert item["value"]["namespace"] == api.ns
    (by_path,) = wsk_list(api, basepath="/club")
    (by_name,) = wsk_list(api, basepath="Book Club")
    assert by_path == by_name
    assert wsk_list(api, basepath="/nope") == []
    assert len(wsk_list(api, limit="1", skip="0")) == 1
    assert len(wsk_list(api, limit="30", skip="1")) == 1


def test_apis_belong_to_the_callers_namespace(api: Api) -> None:
    wsk_create(api, "/club", "/books", "get", "getBooks")
    assert ok(api.get(f"{APIMGMT}/getApi.http", auth=api.other))["apis"] == []
    error(api.delete(f"{APIMGMT}/deleteApi.http", query={"basepath": "/club"}, auth=api.other), 404)
    assert len(wsk_list(api)) == 1


# --- deleteApi ------------------------------------------------------------------------------------------------


def test_wsk_api_delete_an_operation_a_path_or_the_api(api: Api) -> None:
    for relpath, verb in (("/books", "get"), ("/books", "post"), ("/shelves", "get")):
        wsk_create(api, "/club", relpath, verb, "a")
    delete = f"{APIMGMT}/deleteApi.http"
    assert ok(api.delete(delete, query=wsk_options(api, basepath="/club", relpath="/books", operation="POST"))) == {}
    (left,) = wsk_list(api)
    assert {p: sorted(ops) for p, ops in left["value"]["apidoc"]["paths"].items()} == {"/books": ["get"],
                                                                                      "/shelves": ["get"]}
    ok(api.delete(delete, query=wsk_options(api, basepath="/club", relpath="/shelves")))
    (left,) = wsk_list(api)
    assert list(left["value"]["apidoc"]["paths"]) == ["/books"]
    ok(api.delete(delete, query=wsk_options(api, basepath="/club")))
    assert wsk_list(api) == []


def test_deleting_the_last_operation_deletes_the_api(api: Api) -> None:
    wsk_create(api, "/club", "/books", "get", "a")
    ok(api.delete(f"{APIMGMT}/deleteApi.http", query=wsk_options(api, basepath="/club", relpath="/books",
                                                                  operation="GET")))
    assert wsk_list(api) == []


@pytest.mark.parametrize(("query", "status", "message"), [
    ({}, 400, "basepath is required."),
    ({"basepath": "/club", "operation": "GET"}, 400, "When specifying an operation, the path is required."),
    ({"basepath": "/nope"}, 404, "API deletion failure: API '/nope' does not exist."),
    ({"basepath": "/club", "relpath": "/nope"}, 404, "API deletion failure: path '/nope' does not exist in the API"),
    ({"basepath": "/club", "relpath": "/books", "operation": "PUT"}, 404,
     "API deletion failure: path '/books' with operation 'put' does not exist in the API"),
])
def test_delete_errors(api: Api, query: dict[str, str], status: int, message: str) -> None:
    wsk_create(api, "/club", "/books", "get", "a")
    error(api.delete(f"{APIMGMT}/deleteApi.http", query=wsk_options(api, **query)), status, message)


# --- the npm client's routes -----------------------------------------------------------------------------------


def test_npm_client_routes_create_list_delete(api: Api) -> None:
    """``routes.create({relpath, operation, action})``, ``routes.list()``, ``routes.get({basepath})`` and
    ``routes.delete({basepath})`` as ``lib/routes.js`` sends them: no extension, namespace ``_``, backend ``GET``."""
    body = {"apidoc": {
        "namespace": "_", "gatewayBasePath": "/", "gatewayPath": "/hello/{name}", "gatewayMethod": "POST",
        "id": "API:_:/",
        "action": {"name": "lib/hello", "namespace": "_", "backendMethod": "GET",
                   "backendUrl": "http://127.0.0.1:3233/api/v1/web/_/lib/hello.http", "authkey": ":".join(api.auth)},
        "pathParameters": [{"name": "name", "in": "path", "description": "Default description for 'name'",
                            "required": True, "type": "string"}]}}
    created = ok(api.post(f"{APIMGMT}/createApi", body, query={"responsetype": "http"}))
    assert created["gwApiUrl"] == gw_url(api, "")
    assert created["apidoc"]["paths"]["/hello/{name}"]["post"]["x-openwhisk"]["package"] == "lib"
    listed = ok(api.get(f"{APIMGMT}/getApi"))["apis"]
    assert [a["value"]["apidoc"]["basePath"] for a in listed] == ["/"]
    assert ok(api.get(f"{APIMGMT}/getApi", query={"basepath": "/"}))["apis"] == listed
    assert ok(api.delete(f"{APIMGMT}/deleteApi", query={"basepath": "/", "force": "true"})) == {}
    assert ok(api.get(f"{APIMGMT}/getApi"))["apis"] == []


def test_json_extension_answers_the_same(api: Api) -> None:
    created = ok(api.post(f"{APIMGMT}/createApi.json", wsk_apidoc(api, "/j", "/x", "get", "a")))
    assert ok(api.get(f"{APIMGMT}/getApi.json"))["apis"][0]["value"] == created


def test_the_platform_api_keeps_its_answers(api: Api) -> None:
    """``/api/v1/...`` is never a namespace's gateway: unknown routes stay 404, wrong verbs 405."""
    error(api.get("/api/v1/nothing-here"), 404)
    response = api.platform.client.open(f"{NS}/actions/x", method="PATCH", auth=api.auth)
    assert response.status_code == 405
    ok(api.get("/api/v1"))


# --- serving --------------------------------------------------------------------------------------------------


def test_a_json_route_serves_its_web_action(api: Api) -> None:
    web_action(api, "getBooks")
    wsk_create(api, "/club", "/books", "get", "getBooks")
    response = gateway(api, "/club/books?author=Le+Guin", headers={"X-Custom": "1"})
    body = ok(response)
    assert len(response.headers["x-openwhisk-activation-id"]) == 32
    assert body["__ow_method"] == "get"
    assert body["__ow_path"] == ""
    assert body["author"] == "Le Guin"
    assert body["__ow_headers"]["x-custom"] == "1"
    assert body["__ow_headers"]["x-forwarded-url"] == "http://localhost" + f"/api/{api.ns}/club/books?author=Le+Guin"
    message = api.dispatcher.published[-1]
    assert message.action == f"{api.ns}/getBooks"


def test_the_request_verb_body_and_trailing_slash_pass_through(api: Api) -> None:
    web_action(api, "postBooks")
    wsk_create(api, "/club", "/books", "post", "postBooks")
    body = ok(gateway(api, "/club/books/", "POST", data=json.dumps({"title": "Earthsea"})))
    assert (body["__ow_method"], body["title"]) == ("post", "Earthsea")


def test_path_parameters_reach_an_http_action(api: Api) -> None:
    web_action(api, "getBook")
    api.dispatcher.replies[f"{api.ns}/getBook"] = Reply(result={"statusCode": 201, "body": "made"})
    wsk_create(api, "/club", "/books/{isbn}/pages/{page}", "get", "getBook", response_type="http")
    response = gateway(api, "/club/books/978-0/pages/12?q=1")
    assert (response.status_code, response.get_data(as_text=True)) == (201, "made")
    content = api.dispatcher.published[-1].content
    assert isinstance(content, dict)
    assert content["__ow_path"] == "/club/books/978-0/pages/12"  # as OpenWhisk: the path from the base path on
    assert (content["isbn"], content["page"], content["q"]) == ("978-0", "12", "1")  # Squall: also by name


def test_an_api_at_the_root_base_path(api: Api) -> None:
    web_action(api, "home")
    created = ok(api.post(f"{APIMGMT}/createApi", wsk_apidoc(api, "/", "/", "get", "home")))
    assert created["gwApiUrl"] == gw_url(api, "")
    assert ok(gateway(api, "/"))["__ow_method"] == "get"
    assert ok(gateway(api, ""))["__ow_method"] == "get"  # the gwApiUrl itself, no slash: no redirect


def test_what_the_gateway_does_not_serve(api: Api) -> None:
    web_action(api, "getBooks")
    wsk_create(api, "/club", "/books", "get", "getBooks")
    wsk_create(api, "/club", "/books", "put", "getBooks")
    not_allowed = gateway(api, "/club/books", "DELETE")
    error(not_allowed, 405, "The path has no DELETE operation.")
    assert not_allowed.headers["Allow"] == "GET, PUT"
    error(gateway(api, "/club/shelves"), 404)
    error(gateway(api, "/club/books", namespace=api.other_ns), 404)
    error(gateway(api, "/club/books", namespace="no-such-namespace"), 404)
    wsk_create(api, "/club", "/missing", "get", "noSuchAction")
    error(gateway(api, "/club/missing"), 404)


def test_an_action_that_is_not_a_web_action_is_not_served(api: Api) -> None:
    api.action("private")
    wsk_create(api, "/club", "/private", "get", "private")
    error(gateway(api, "/club/private"), 404)
    assert not any(m.action == f"{api.ns}/private" for m in api.dispatcher.published)


def test_a_secured_web_action_is_reached_through_its_api(api: Api) -> None:
    """wsk sends the action's ``require-whisk-auth`` value as ``secureKey``; the gateway presents it."""
    web_action(api, "secret", **{"require-whisk-auth": 4242})
    error(api.platform.client.open(f"/api/v1/web/{api.ns}/default/secret.json"), 401)
    body = wsk_apidoc(api, "/s", "/x", "get", "secret")
    body["apidoc"]["action"]["secureKey"] = 4242
    ok(api.post(f"{APIMGMT}/createApi.http", body, query=wsk_options(api)))
    assert ok(gateway(api, "/s/x"))["__ow_headers"]["x-require-whisk-auth"] == "4242"


def test_an_apis_namespace_in_the_url_is_escaped(api: Api) -> None:
    ns, auth = api.platform.user("with@at")
    api.action("at", annotations=kv(**{"web-export": True}), auth=auth)
    created = wsk_create(api, "/at", "/x", "get", "at", auth=auth)
    assert created["gwApiUrl"].endswith(f"/api/{quote(ns, safe='@')}/at")
    assert ok(gateway(api, "/at/x", namespace=ns))["__ow_method"] == "get"


# --- beyond OpenWhisk: rate limits and CORS per route ----------------------------------------------------------


def until_refused(api: Api, paths: list[str]) -> tuple[list[int], TestResponse]:
    """Request ``paths`` in turn until one is refused (429): the statuses seen, and the refusal. Counts are per
    window of the clock, so a test that needs a count to overflow sends enough for one window to hold it."""
    statuses: list[int] = []
    for path in paths:
        response = gateway(api, path)
        statuses.append(response.status_code)
        if response.status_code == 429:
            return statuses, response
    raise AssertionError(f"never refused: {statuses}")


def test_a_route_rate_limit(api: Api) -> None:
    web_action(api, "limited")
    ok(api.post(f"{APIMGMT}/createApi.http", wsk_apidoc(api, "/rl", "/a", "get", "limited"),
                query=wsk_options(api, ratelimit="2")))
    wsk_create(api, "/rl", "/b", "get", "limited")
    created = wsk_list(api, basepath="/rl")[0]["value"]["apidoc"]
    assert created["paths"]["/a"]["get"]["x-squall"] == {"rateLimit": 2}
    statuses, refused = until_refused(api, ["/rl/a"] * 5)
    assert statuses[:2] == [200, 200]  # a minute may turn in between: then the count starts over
    error(refused, 429, "Too many requests for this route (count: 3, allowed: 2 per 60 seconds).")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    ok(gateway(api, "/rl/b"))  # another route of the same API counts on its own


def test_an_apis_rate_limit_from_its_swagger(api: Api) -> None:
    web_action(api, "limited")
    swagger = {"swagger": "2.0", "basePath": "/sw", "info": {"title": "t", "version": "1"},
               "x-gateway-rate-limit": [{"rate": 1, "unit": "hour", "units": 1}],
               "paths": {p: {"get": {"operationId": p[1:], "responses": {},
                                     "x-openwhisk": {"namespace": "_", "package": "", "action": "limited",
                                                     "url": "https://x/api/v1/web/_/default/limited.json"}}}
                         for p in ("/a", "/b")}}
    ok(api.post(f"{APIMGMT}/createApi", {"apidoc": {"namespace": "_", "swagger": swagger}}))
    statuses, refused = until_refused(api, ["/sw/a", "/sw/b", "/sw/a"])  # the limit covers all routes together
    assert statuses[0] == 200
    error(refused, 429, "Too many requests for this route (count: 2, allowed: 1 per 3600 seconds).")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600


def test_invalid_route_settings(api: Api) -> None:
    body = wsk_apidoc(api, "/x", "/a", "get", "a")
    error(api.post(f"{APIMGMT}/createApi.http", body, query={"ratelimit": "many"}), 400,
          "ratelimit must be a whole number of requests per minute, not 'many'")
    error(api.post(f"{APIMGMT}/createApi.http", body, query={"ratelimit": "0"}), 400)
    error(api.post(f"{APIMGMT}/createApi.http", {**body, "cors": {"origins": 5}}), 400,
          "cors.origins must be a list of strings")


def test_cors_preflight_is_answered_by_the_route(api: Api) -> None:
    web_action(api, "cors")
    ok(api.post(f"{APIMGMT}/createApi.http", wsk_apidoc(api, "/c", "/a", "post", "cors"),
                query=wsk_options(api, cors="https://app.example")))
    published = len(api.dispatcher.published)
    preflight = gateway(api, "/c/a", "OPTIONS", headers={"Origin": "https://app.example",
                                                         "Access-Control-Request-Method": "POST",
                                                         "Access-Control-Request-Headers": "X-Token"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert preflight.headers["Access-Control-Allow-Headers"] == "X-Token"
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert len(api.dispatcher.published) == published  # nothing ran
    answer = gateway(api, "/c/a", "POST", headers={"Origin": "https://app.example"}, data="{}")
    assert answer.status_code == 200
    assert answer.headers.getlist("Access-Control-Allow-Origin") == ["https://app.example"]


def test_an_api_without_cors_settings_keeps_the_web_actions_cors(api: Api) -> None:
    web_action(api, "plain")
    swagger = {"swagger": "2.0", "basePath": "/p", "info": {"title": "t", "version": "1"},
               "paths": {"/a": {"get": {"operationId": "a", "responses": {},
                                        "x-openwhisk": {"namespace": "_", "package": "", "action": "plain",
                                                        "url": "https://x/api/v1/web/_/default/plain.json"}}}}}
    ok(api.post(f"{APIMGMT}/createApi", {"apidoc": {"namespace": "_", "swagger": swagger}}))
    answer = gateway(api, "/p/a", headers={"Origin": "https://elsewhere.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"  # the web action's own


def test_a_route_refuses_other_origins(api: Api) -> None:
    web_action(api, "strict")
    ok(api.post(f"{APIMGMT}/createApi.http", wsk_apidoc(api, "/st", "/a", "get", "strict"),
                query={"cors": "https://app.example"}))
    answer = gateway(api, "/st/a", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in answer.headers


# --- the admin page -------------------------------------------------------------------------------------------

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def admin_client(api: Api) -> FlaskClient:
    """A browser of its own, logged in to the admin pages with this test's key."""
    client = api.platform.app.test_client()
    found = _TOKEN.search(client.get("/admin/login").text)
    assert found, "no CSRF token in the login page"
    response = client.post("/admin/login", data={"login": ":".join(api.auth),
                                                 "csrf_token": found.group(1) or found.group(2)})
    assert response.status_code == 302
    return client


def test_the_admin_page_lists_a_namespaces_apis_with_their_urls(api: Api) -> None:
    web_action(api, "getBooks")
    wsk_create(api, "/club", "/books", "get", "getBooks", name="<b>Book</b> Club")
    wsk_create(api, "/club", "/books/{isbn}", "get", "getBooks", response_type="http")
    ok(api.post(f"{APIMGMT}/createApi.http", wsk_apidoc(api, "/club", "/shelves", "post", "other"),
                query={"ratelimit": "30", "cors": "false"}))
    client = admin_client(api)
    page = client.get(f"/admin/ns/{api.ns}/apis")
    assert page.status_code == 200
    html = page.text
    assert "&lt;b&gt;Book&lt;/b&gt; Club" in html and "<b>Book</b>" not in html  # escaped
    base = gw_url(api, "/club")
    assert f'<a href="{base}/books" rel="noopener">{base}/books</a>' in html
    assert f"<code>{base}/books/{{isbn}}</code>" in html  # a template is no link
    assert f'href="/admin/ns/{api.ns}/actions/getBooks"' in html
    assert "30/min" in html
    assert ">off<" in html
    assert f'href="/admin/ns/{api.ns}/apis"' in html  # in the navigation
    assert client.get(f"/admin/ns/{api.other_ns}/apis").status_code == 403


def test_the_admin_page_with_no_apis(api: Api) -> None:
    page = admin_client(api).get(f"/admin/ns/{api.ns}/apis")
    assert page.status_code == 200
    assert "No APIs yet." in page.text


ODD_SWAGGERS: list[Any] = [
    {"basePath": "/o", "info": {}, "paths": {"/a": []}},
    {"basePath": "/o", "info": {}, "paths": {"/a/{x}": [1]}},
    {"basePath": "/o", "info": {}, "paths": {"/a/{x}": {"parameters": 3, "get": {"parameters": "x"}}}},
    {"basePath": "/o", "info": {}, "paths": {"/a": {"get": 5}}},
    {"basePath": "/o", "info": {"title": {"a": 1}}, "paths": {"/a": {"get": {"operationId": ["x"]}}},
     "x-ibm-configuration": {"assembly": {"execute": [{"operation-switch": {"case": [{"operations": 3}, 7]}}]}}},
    {"basePath": "/o", "info": {}, "paths": {}, "x-ibm-configuration": [1, 2]},
    {"basePath": "/o", "info": {}, "paths": {}, "x-gateway-configuration": {"assembly": {"execute": 5}}},
    {"basePath": "/o", "info": {}, "paths": {"/a": {"get": {"x-openwhisk": {"action": "a/../b"}}}}},
    {"basePath": "/o", "info": {}, "paths": {}, "x-gateway-rate-limit": ["x"]},
    {"basePath": 5, "info": {}, "paths": {}},
    '{"basePath": "/o", "info": {}, "paths": {}, "n": NaN}',
    '{"basePath": "/o", "info": {}, "paths": {}, "n": ' + "[" * 200 + "]" * 200 + "}",
    {"basePath": "/o" * 5000, "info": {}, "paths": {}},
]


@pytest.mark.parametrize("swagger", ODD_SWAGGERS)
def test_odd_swagger_documents_are_400s_or_stored(api: Api, swagger: Any) -> None:
    response = api.post(f"{APIMGMT}/createApi", {"apidoc": {"namespace": "_", "swagger": swagger}})
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    # a route added to whatever was stored keeps working
    added = api.post(f"{APIMGMT}/createApi", wsk_apidoc(api, "/o", "/added", "get", "a"))
    assert added.status_code == 200, added.get_data(as_text=True)


def test_a_namespace_named_v1_serves_no_api(api: Api) -> None:
    """``/api/v1/...`` is the platform's own API, so that namespace's APIs could never be reached."""
    uuid, _, key = api.platform.identities.create("v1").partition(":")
    error(api.post(f"{APIMGMT}/createApi.http", wsk_apidoc(api, "/a", "/b", "get", "c"), auth=(uuid, key)), 400,
          "The namespace 'v1' cannot serve APIs: /api/v1 is the platform's.")


def test_head_is_answered_by_the_get_route(api: Api) -> None:
    web_action(api, "getBooks")
    wsk_create(api, "/h", "/books", "get", "getBooks")
    assert gateway(api, "/h/books", "HEAD").status_code == 200
    content = api.dispatcher.published[-1].content
    assert isinstance(content, dict)
    assert content["__ow_method"] == "head"


def test_an_unreadable_stored_api_is_skipped_and_can_be_deleted(api: Api) -> None:
    """A document stored under other rules (an older Squall, a hand edit) never breaks the namespace's APIs."""
    api.store.put_entity({"_id": f"{api.ns}/:api/old", "entityType": "api", "namespace": api.ns, "basePath": "/old",
                          "swagger": {"basePath": "/old", "paths": []}, "updated": 1})
    wsk_create(api, "/club", "/books", "get", "a")
    assert [a["value"]["apidoc"]["basePath"] for a in wsk_list(api)] == ["/club"]
    error(gateway(api, "/old/x"), 404)
    ok(api.delete(f"{APIMGMT}/deleteApi.http", query=wsk_options(api, basepath="/old")))
    error(api.delete(f"{APIMGMT}/deleteApi.http", query=wsk_options(api, basepath="/old")), 404,
          "API deletion failure: API '/old' does not exist.")
