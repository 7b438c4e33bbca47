"""The OpenAPI 3 document of ``/api/v1`` (served at ``/api/v1/api-docs``, which ``GET /api/v1`` advertises).

It describes every route the controller serves: each operation's parameters, request body and every answer it
can give, errors included (``{"error": <message>, "code": <transaction id>}``). The property-based fuzz run in
tests/api holds the app to it, so a route or an answer added without it fails there. It is built per request
from plain values (the runtime kinds come from the manifest), not at import.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

VERSION = "1.0.0"
# A name as the API takes it (app.core.names): a word character first, then words, '@', ' ', '.', '&', '-'.
# The pattern is the ASCII part of the rule, so what it generates is accepted; the server also takes Unicode
# word characters.
_NAME = {"type": "string", "minLength": 1, "maxLength": 256,
         "pattern": r"^[A-Za-z0-9_]([A-Za-z0-9_@ .&-]*[A-Za-z0-9_@.&-])?$"}
_SEMVER = {"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+$"}
# What a PUT may send: one to three parts, as OpenWhisk's SemVer reads them ("1.0" is stored as 1.0.0).
_SEMVER_IN = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+){0,2}$"}
_ERROR_STATUSES = {
    "400": "The request is malformed: a name, a query parameter or the body.",
    "401": "No key, or not a valid one.",
    "403": "The key may not do this in that namespace (another namespace's entity, private or missing).",
    "404": "No such entity here.",
    "409": "The entity exists (no ``overwrite=true``), or is another kind of entity.",
    "413": "The body (or the code, parameters or annotations in it) is over its limit.",
    "429": "The namespace is over a throttle; ``Retry-After`` says when to try again.",
    "503": "The store or the invokers cannot be reached now; ``Retry-After`` says when to try again.",
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: Schema, required: tuple[str, ...] = (), *, extra: bool = True) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if not extra:
        schema["additionalProperties"] = False
    return schema


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: str) -> Schema:
    return {status: {"$ref": f"#/components/responses/E{status}"} for status in statuses}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str, schema: Schema | None = None, description: str = "") -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string", "minLength": 1},
            "description": description}


_FLAG = {"type": "boolean"}
_NAMESPACE = _path("namespace", {"type": "string", "minLength": 1},
                   "The namespace, or ``_`` for the key's own.")
_OVERWRITE = _query("overwrite", _FLAG, "Replace an existing entity (else 409).")
_PAGING = [
    _query("limit", {"type": "integer", "minimum": 0, "maximum": 200}, "At most this many (0: 200; default 30)."),
    _query("skip", {"type": "integer", "minimum": 0, "maximum": 100_000}, "Skip this many, newest first."),
    _query("count", _FLAG, "Answer ``{\"<collection>\": N}`` instead of the list."),
]
_WRITE_ERRORS = ("400", "401", "403", "404", "409", "413", "429", "503")
_READ_ERRORS = ("400", "401", "403", "404", "409", "429", "503")


def _operation(summary: str, responses: Schema, *, parameters: list[Schema] | None = None,
               body: Schema | None = None, errors: tuple[str, ...] = _READ_ERRORS, tag: str = "",
               public: bool = False) -> Schema:
    operation: Schema = {"summary": summary, "responses": {**responses, **_errors(*errors)}}
    if tag:
        operation["tags"] = [tag]
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    if public:
        operation["security"] = []
    return operation


def _count_or(items: Schema, collection: str) -> Schema:
    return {"anyOf": [{"type": "array", "items": items},
                      _object({collection: {"type": "integer", "minimum": 0}}, (collection,), extra=False)]}


def _schemas(kinds: list[str]) -> Schema:
    key_value = _object({"key": {"type": "string"}, "value": {}, "init": {"type": "boolean"}}, ("key",))
    entity = {"namespace": {"type": "string"}, "name": {"type": "string"}, "version": _SEMVER,
              "publish": {"type": "boolean"}, "annotations": _ref("KeyValues"), "updated": {"type": "integer"}}
    entity_required = ("namespace", "name", "version", "publish", "annotations", "updated")
    fqn = _object({"path": {"type": "string"}, "name": {"type": "string"}}, ("path", "name"))
    binding = _object({"namespace": {"type": "string"}, "name": {"type": "string"}})
    activation = {
        "namespace": {"type": "string"}, "name": {"type": "string"}, "version": {"type": "string"},
        "activationId": {"type": "string", "minLength": 32, "maxLength": 32}, "start": {"type": "integer"},
        "end": {"type": "integer"}, "duration": {"type": "integer"}, "annotations": _ref("KeyValues"),
        "publish": {"type": "boolean"}, "cause": {"type": "string"},
    }
    return {
        "Error": _object({"error": {"type": "string", "minLength": 1}, "code": {"type": "string", "minLength": 1}},
                         ("error", "code"), extra=False),
        "KeyValue": key_value,
        "KeyValues": {"type": "array", "items": key_value},
        "ActionLimits": _object({name: {"type": "integer"} for name in ("timeout", "memory", "logs", "concurrency")},
                                ("timeout", "memory", "logs", "concurrency")),
        "LimitsPut": _object({name: {"type": "integer", "minimum": 0}
                              for name in ("timeout", "memory", "logs", "concurrency")}),
        "Exec": _object({"kind": {"type": "string"}, "code": {"type": "string"}, "image": {"type": "string"},
                         "main": {"type": "string"}, "binary": {"type": "boolean"},
                         "components": {"type": "array", "items": {"type": "string"}}}, ("kind",)),
        "ExecPut": _object({
            "kind": {"type": "string", "enum": [*kinds, "sequence"]}, "code": {"type": "string"},
            "main": {"type": "string"}, "image": {"type": "string"}, "binary": {"type": "boolean"},
            "components": {"type": "array", "items": {"type": "string"}, "maxItems": 60},
        }, ("kind",)),
        "Action": _object({**entity, "exec": _ref("Exec"), "parameters": _ref("KeyValues"),
                           "limits": _ref("ActionLimits")}, (*entity_required, "exec", "parameters", "limits")),
        "ActionSummary": _object({**entity, "exec": _object({"binary": {"type": "boolean"}}),
                                  "limits": _ref("ActionLimits")}, (*entity_required, "exec", "limits")),
        "ActionPut": _object({"version": _SEMVER_IN, "exec": _ref("ExecPut"), "parameters": _ref("KeyValues"),
                              "annotations": _ref("KeyValues"), "limits": _ref("LimitsPut"),
                              "publish": {"type": "boolean"},
                              "delAnnotations": {"type": "array", "items": {"type": "string"}}}),
        "Package": _object({**entity, "parameters": _ref("KeyValues"), "binding": binding},
                           (*entity_required, "parameters", "binding")),
        "PackageWithContents": _object({
            **entity, "parameters": _ref("KeyValues"), "binding": binding,
            "actions": {"type": "array", "items": _object({"name": {"type": "string"}})},
            "feeds": {"type": "array", "items": _object({"name": {"type": "string"}})},
        }, (*entity_required, "parameters", "binding", "actions", "feeds")),
        "PackageSummary": _object({**entity, "binding": {"anyOf": [binding, {"type": "boolean"}]}},
                                  (*entity_required, "binding")),
        "PackagePut": _object({"version": _SEMVER_IN, "binding": binding, "parameters": _ref("KeyValues"),
                               "annotations": _ref("KeyValues"), "publish": {"type": "boolean"}}),
        "Trigger": _object({**entity, "parameters": _ref("KeyValues"), "limits": {"type": "object"},
                            "rules": {"type": "object", "additionalProperties": _object(
                                {"action": fqn, "status": {"type": "string", "enum": ["active", "inactive"]}})}},
                           (*entity_required, "parameters", "limits")),
        "TriggerSummary": _object(entity, entity_required),
        "TriggerPut": _object({"version": _SEMVER_IN, "parameters": _ref("KeyValues"),
                               "annotations": _ref("KeyValues"), "limits": {"type": "object"},
                               "publish": {"type": "boolean"}}),
        "Rule": _object({**entity, "trigger": fqn, "action": fqn,
                         "status": {"type": "string", "enum": ["active", "inactive"]}},
                        (*entity_required, "trigger", "action")),
        "RulePut": _object({"version": _SEMVER_IN, "trigger": {"type": "string"}, "action": {"type": "string"},
                            "publish": {"type": "boolean"}, "annotations": _ref("KeyValues")}),
        "RuleStatusPost": _object({"status": {"type": "string", "enum": ["active", "inactive"]}}),
        "ActivationResponse": _object({"status": {"type": "string"}, "success": {"type": "boolean"},
                                       "result": {}, "size": {"type": "integer"}},
                                      ("status", "success", "result")),
        "Activation": _object({**activation, "subject": {"type": "string"},
                               "logs": {"type": "array", "items": {"type": "string"}},
                               "response": _ref("ActivationResponse")},
                              ("namespace", "name", "activationId", "start", "logs", "response")),
        "ActivationSummary": _object({**activation, "statusCode": {"type": "integer"}},
                                     ("namespace", "name", "activationId", "start", "statusCode")),
        "ActivationId": _object({"activationId": {"type": "string", "minLength": 32, "maxLength": 32}},
                                ("activationId",), extra=False),
        "Logs": _object({"logs": {"type": "array", "items": {"type": "string"}}}, ("logs",), extra=False),
        "Payload": {"type": "object", "description": "The parameters of this activation (merged over the "
                                                     "entity's own)."},
        "Alarm": _object({"config": {"type": "object"}, "status": _object({
            "active": {"type": "boolean"}, "dateChanged": {"type": "integer"}, "fired": {"type": "integer"},
            "nextFire": {"type": "integer"}})}, ("config", "status")),
        "AlarmPut": _object({"kind": {"type": "string", "enum": ["alarm", "interval", "once"]},
                             "cron": {"type": "string"}, "minutes": {"type": "integer"},
                             "date": {"type": "integer"}, "startDate": {"type": "integer"},
                             "stopDate": {"type": "integer"}, "trigger_payload": {"type": "object"}}),
        "AlarmStatusPost": _object({"status": {"type": "string", "enum": ["active", "paused"]}}),
        "NamespaceLimits": _object({
            **{name: {"type": "integer"} for name in (
                "invocationsPerMinute", "concurrentInvocations", "firesPerMinute", "maxActionMemory",
                "minActionMemory", "maxActionLogs", "minActionLogs", "maxActionTimeout", "minActionTimeout",
                "maxActionConcurrency", "minActionConcurrency", "maxActionInstances", "activationsKeepDays")},
            "storeActivations": {"type": "boolean"},
            "maxParameterSize": {"type": "string"}}, ("invocationsPerMinute", "firesPerMinute")),
    }


def _meta_paths() -> Schema:
    return {
        "/": {"get": _operation("The platform: its API paths, limits and runtimes (wskdeploy reads it first).", {
            "200": _json(_object({"description": {"type": "string"},
                                  "api_paths": {"type": "array", "items": {"type": "string"}},
                                  "limits": {"type": "object"}, "runtimes": {"type": "object"}},
                                 ("api_paths", "limits", "runtimes")), "The platform.")},
            errors=("503",), tag="meta", public=True)},
        "/api/v1": {"get": _operation("The API's version and where its documents are.", {
            "200": _json(_object({"api_version": {"type": "string"}, "api_version_path": {"type": "string"},
                                  "build": {"type": "string"}, "swagger_paths": {"type": "object"}},
                                 ("api_version", "api_version_path")), "The API.")},
            errors=(), tag="meta", public=True)},
        "/api/v1/api-docs": {"get": _operation("This document.", {
            "200": _json({"type": "object", "required": ["openapi", "paths"]}, "An OpenAPI 3 document.")},
            errors=("503",), tag="meta", public=True)},
        "/metrics": {"get": {**_operation(
            "The platform's metrics for Prometheus, to bearers of the metrics token (403 while none is set).", {
                "200": {"description": "Prometheus' text format, or OpenMetrics when ``Accept`` asks for it.",
                        "content": {media: {"schema": {"type": "string"}}
                                    for media in ("text/plain", "application/openmetrics-text")}}},
            errors=("401", "403"), tag="meta"), "security": [{"metrics": []}]}},
        "/ping": {"get": _operation("Liveness.", {
            "200": {"description": "``pong``", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            errors=(), tag="meta", public=True)},
        "/api/v1/namespaces": {"get": _operation("The key's namespace (a list of one).", {
            "200": _json({"type": "array", "items": {"type": "string"}}, "Namespace names.")},
            errors=("401", "429", "503"), tag="namespaces")},
        "/api/v1/namespaces/{namespace}/limits": {
            "parameters": [_NAMESPACE],
            "get": _operation("The namespace's limits (throttles with its overrides, action limit ranges).", {
                "200": _json(_ref("NamespaceLimits"), "The limits.")}, tag="namespaces")},
    }


def _entity_paths(collection: str, entity: str, tag: str, *, name: Schema | None = None,
                  fire: Schema | None = None, delete_flag: Schema | None = None) -> Schema:
    """The list route and the one-entity routes (GET, PUT, DELETE, and POST when given) of a collection."""
    one: Schema = {
        "parameters": [_NAMESPACE, _path("name", name or _NAME, f"The {tag}'s name.")],
        "get": _operation(f"One {tag}.", {"200": _json(_ref(entity if tag != "package" else "PackageWithContents"),
                                                         f"The {tag}.")}, tag=tag),
        "put": _operation(f"Create a {tag}, or update it with ``overwrite=true``.",
                          {"200": _json(_ref(entity), f"The stored {tag}.")}, parameters=[_OVERWRITE],
                          body=_ref(f"{entity}Put"), errors=_WRITE_ERRORS, tag=tag),
        "delete": _operation(f"Delete a {tag}.", {"200": _json(_ref(entity), f"The deleted {tag}.")},
                             parameters=[delete_flag] if delete_flag else None, tag=tag),
    }
    if fire is not None:
        one["post"] = fire
    summary = "Rule" if entity == "Rule" else f"{entity}Summary"
    return {
        f"/api/v1/namespaces/{{namespace}}/{collection}": {
            "parameters": [_NAMESPACE],
            "get": _operation(f"The namespace's {collection}, newest first.",
                              {"200": _json(_count_or(_ref(summary), collection), f"The {collection}.")},
                              parameters=_PAGING, tag=tag)},
        f"/api/v1/namespaces/{{namespace}}/{collection}/{{name}}": one,
    }


def _invoke() -> Schema:
    finished = {"anyOf": [_ref("Activation"), {}]}
    return _operation(
        "Invoke: non-blocking answers the id at once; blocking waits (``timeout`` ms, up to the action's own "
        "limit) and answers the activation, or its result alone with ``result=true``.", {
            "200": _json(finished, "The finished activation (or its result)."),
            "202": _json(_ref("ActivationId"), "Accepted (non-blocking, or still running past the wait)."),
            "500": _json(finished, "The platform failed this activation (its record, not an error envelope)."),
            "502": _json(finished, "The action failed (application or developer error)."),
        }, parameters=[_query("blocking", _FLAG, "Wait for the result."),
                       _query("result", _FLAG, "With ``blocking``: answer the result alone."),
                       _query("timeout", {"type": "integer", "minimum": 1}, "How long a blocking call waits (ms).")],
        body=_ref("Payload"), errors=_WRITE_ERRORS, tag="actions")


def _fire() -> Schema:
    return _operation("Fire the trigger: each active rule invokes its action (non-blocking).", {
        "202": _json(_ref("ActivationId"), "The trigger's activation."),
        "204": {"description": "No active rule: nothing was run or stored."},
    }, body=_ref("Payload"), errors=_WRITE_ERRORS, tag="triggers")


def _activation_paths() -> Schema:
    one = [_NAMESPACE, _path("activationId", {"type": "string", "minLength": 1}, "32 hexadecimal characters.")]
    return {
        "/api/v1/namespaces/{namespace}/activations": {
            "parameters": [_NAMESPACE],
            "get": _operation("Activation records, newest first.", {
                "200": _json({"anyOf": [{"type": "array", "items": {"anyOf": [_ref("ActivationSummary"),
                                                                               _ref("Activation")]}},
                                        _object({"activations": {"type": "integer"}}, ("activations",),
                                                extra=False)]}, "Records, full ones with ``docs=true``.")},
                parameters=[*_PAGING, _query("docs", _FLAG, "Full records."),
                            _query("name", {"type": "string"}, "Only this action's (``name`` or ``pkg/name``)."),
                            _query("since", {"type": "integer"}, "Started at or after (epoch ms)."),
                            _query("upto", {"type": "integer"}, "Started at or before (epoch ms).")],
                tag="activations")},
        "/api/v1/namespaces/{namespace}/activations/{activationId}": {
            "parameters": one,
            "get": _operation("One record.", {"200": _json(_ref("Activation"), "The record.")}, tag="activations")},
        "/api/v1/namespaces/{namespace}/activations/{activationId}/result": {
            "parameters": one,
            "get": _operation("Its response.", {"200": _json(_ref("ActivationResponse"), "The response.")},
                              tag="activations")},
        "/api/v1/namespaces/{namespace}/activations/{activationId}/logs": {
            "parameters": one,
            "get": _operation("Its logs.", {"200": _json(_ref("Logs"), "The log lines.")}, tag="activations")},
    }


def _alarm_paths() -> Schema:
    return {"/api/v1/namespaces/{namespace}/alarms/{trigger}": {
        "parameters": [_NAMESPACE, _path("trigger", _NAME, "The trigger the schedule fires.")],
        "get": _operation("The schedule (the alarms feed's READ).", {"200": _json(_ref("Alarm"), "It.")},
                          tag="alarms"),
        "put": _operation("Schedule the trigger (CREATE/UPDATE).", {"200": _json(_ref("Alarm"), "It.")},
                          parameters=[_OVERWRITE], body=_ref("AlarmPut"), errors=_WRITE_ERRORS, tag="alarms"),
        "delete": _operation("Unschedule it.", {"200": _json(_ref("Alarm"), "It, as it was last.")},
                             tag="alarms"),
        "post": _operation("Pause or unpause it.", {"200": _json(_object({"ok": {"type": "boolean"}}, ("ok",)),
                                                                  "Done.")},
                           body=_ref("AlarmStatusPost"), errors=_WRITE_ERRORS, tag="alarms"),
    }}


def _web_paths() -> Schema:
    """Web actions: any method, no key needed; the answer is the action's own (any status, type and body)."""
    answered = {"description": "The action's answer: its status, headers and body, transcoded by the extension "
                               "(``.json``, ``.html``, ``.svg``, ``.text``, ``.http``, the default).",
                "content": {"*/*": {"schema": {}}}}
    responses = {
        "200": answered,
        "202": _json(_ref("Error"), "``Response not yet ready.``: still running past the blocking wait."),
        "default": answered,
    }
    target = _path("target", {"type": "string", "minLength": 1},
                   "``<package|default>/<action>[.ext][/extra/path]``; the extra path is the action's "
                   "``__ow_path``.")
    operations: Schema = {"parameters": [_path("namespace", _NAME, "The action's namespace (never ``_``)."), target]}
    for method in ("get", "post", "put", "delete", "patch", "head", "options"):
        operations[method] = _operation(
            f"Run the web action ({method.upper()}) as its namespace's owner and answer with its result; "
            "the query and body become its parameters.", responses,
            body={} if method in ("post", "put", "patch", "delete") else None,
            errors=("400", "401", "404", "413", "429", "503"), tag="web", public=True)
    return {"/api/v1/web/{namespace}/{target}": operations}


def _apigw_paths() -> Schema:
    """The built-in API gateway: OpenWhisk's route management (``whisk.system/apimgmt``, as web actions with a key:
    bare, ``.http`` as wsk calls them, ``.json``) and the APIs it serves at ``/api/{namespace}/...``."""
    ret_api = _object({
        "namespace": {"type": "string"}, "gwApiActivated": {"type": "boolean"}, "tenantId": {"type": "string"},
        "gwApiUrl": {"type": "string"},
        "apidoc": _object({"swagger": {"type": "string"}, "basePath": {"type": "string"}, "info": {"type": "object"},
                           "paths": {"type": "object"}}, ("basePath", "info", "paths")),
    }, ("namespace", "gwApiUrl", "apidoc"))
    listed = _object({"apis": {"type": "array", "items": _object(
        {"id": {"type": "string"}, "key": {"type": "string"}, "value": ret_api}, ("id", "key", "value"))}},
        ("apis",))
    route = _object({
        "namespace": {"type": "string"}, "apiName": {"type": "string"}, "gatewayBasePath": {"type": "string"},
        "gatewayPath": {"type": "string"}, "gatewayMethod": {"type": "string"}, "id": {"type": "string"},
        "pathParameters": {"type": "array", "items": {"type": "object"}},
        "swagger": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "action": _object({"name": {"type": "string"}, "namespace": {"type": "string"},
                           "backendMethod": {"type": "string"}, "backendUrl": {"type": "string"},
                           "authkey": {"type": "string"}, "secureKey": {}}),
    }, ("namespace",))
    gw_token = [_query("accesstoken", {"type": "string"}, "For OpenWhisk's external gateway; ignored."),
                _query("spaceguid", {"type": "string"}, "For OpenWhisk's external gateway; ignored.")]
    create = _operation(
        "Add a route to the key's API at its base path (``apidoc``: wsk's one route), or replace the API with an "
        "OpenAPI 2 document (``apidoc.swagger``, object or JSON text); answers the API.",
        {"200": _json(ret_api, "The API as wsk's ``RetApi``.")},
        parameters=[_query("responsetype", {"type": "string", "enum": ["json", "http", "html", "text", "svg"]},
                           "The web action extension the route answers with (default json)."),
                    _query("ratelimit", {"type": "integer", "minimum": 1},
                           "Squall: at most this many requests a minute to this route."),
                    _query("cors", {"type": "string"},
                           "Squall: ``true``, ``false`` or the allowed origins, comma-separated."), *gw_token],
        body=_object({"apidoc": {"anyOf": [route, {"type": "string"}]}}),
        errors=("400", "401", "409", "413", "429", "503"), tag="apigw")
    get = _operation(
        "The key's APIs, or the one at ``basepath`` (a base path ``/x`` or an API name).",
        {"200": _json(listed, "``{\"apis\": [{\"id\", \"key\", \"value\": RetApi}]}``.")},
        parameters=[_query("basepath", {"type": "string"}, "A base path (``/x``) or an API name."),
                    _query("relpath", {"type": "string"}, "Sent by wsk; the whole API is answered."),
                    _query("operation", {"type": "string"}, "Sent by wsk; the whole API is answered."),
                    *_PAGING[:2], *gw_token],
        errors=("400", "401", "429", "503"), tag="apigw")
    delete = _operation(
        "Delete the API at ``basepath``, or its path ``relpath``, or that path's ``operation``.",
        {"200": _json(_object({}), "``{}``.")},
        parameters=[_query("basepath", {"type": "string"}, "A base path (``/x``) or an API name."),
                    _query("relpath", {"type": "string"}, "Only this path of the API."),
                    _query("operation", {"type": "string"}, "Only this verb of ``relpath``."),
                    _query("force", _FLAG, "Sent by the npm client; ignored."), *gw_token],
        errors=("400", "401", "404", "409", "429", "503"), tag="apigw")
    paths: Schema = {}
    for ext in ("", ".http", ".json"):
        paths[f"/api/v1/web/whisk.system/apimgmt/createApi{ext}"] = {"post": create}
        paths[f"/api/v1/web/whisk.system/apimgmt/getApi{ext}"] = {"get": get}
        paths[f"/api/v1/web/whisk.system/apimgmt/deleteApi{ext}"] = {"delete": delete}
    answered = {"description": "The route's web action's answer (any status, headers and body), with the route's "
                               "CORS headers; 200 a CORS preflight the route answers itself.",
                "content": {"*/*": {"schema": {}}}}
    served = {"200": answered, "202": _json(_ref("Error"), "``Response not yet ready.``"),
              "405": _json(_ref("Error"), "The path has no such verb; ``Allow`` lists those it has."),
              "default": answered}
    namespace = _path("namespace", {"type": "string", "minLength": 1, "not": {"enum": ["v1"]}},
                      "The API's namespace (``v1`` is never one: ``/api/v1`` is this API).")
    rest = _path("rest", {"type": "string", "minLength": 1}, "The base path and the route's path.")
    for template, parameters in (("/api/{namespace}/", [namespace]), ("/api/{namespace}/{rest}", [namespace, rest])):
        operations: Schema = {"parameters": parameters}
        for method in ("get", "post", "put", "delete", "patch", "head", "options"):
            operations[method] = _operation(
                f"Serve the API route ({method.upper()}) through its web action; no key needed. 429 past the "
                "route's rate limit (``Retry-After``).", served,
                body={} if method in ("post", "put", "patch", "delete") else None,
                errors=("400", "401", "404", "413", "429", "503"), tag="apigw", public=True)
        paths[template] = operations
    return paths


def document(kinds: list[str]) -> Schema:
    """The whole document; ``kinds`` are the runtime kinds a new action may name (the manifest's)."""
    rule_status = _operation("Enable or disable the rule.", {
        "200": {"description": "``OK``", "content": {"text/plain": {"schema": {"type": "string"}}}}},
        body=_ref("RuleStatusPost"), errors=_WRITE_ERRORS, tag="rules")
    paths: Schema = {
        **_meta_paths(),
        **_entity_paths("actions", "Action", "action", name={"type": "string", "minLength": 1}),
        **_entity_paths("packages", "Package", "package",
                        delete_flag=_query("force", _FLAG, "Delete the package's actions too (else 409).")),
        **_entity_paths("triggers", "Trigger", "trigger", fire=_fire()),
        **_entity_paths("rules", "Rule", "rule", fire=rule_status),
        **_activation_paths(),
        **_alarm_paths(),
        **_web_paths(),
        **_apigw_paths(),
    }
    paths["/api/v1/namespaces/{namespace}/actions/{name}"]["post"] = _invoke()
    paths["/api/v1/namespaces/{namespace}/actions/{name}"]["get"]["parameters"] = [
        _query("code", _FLAG, "Include the code (default true)."), *_PAGING[:2]]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Squall: the OpenWhisk REST API", "version": VERSION,
                 "description": "Every error is ``{\"error\": <message>, \"code\": <transaction id>}``, the "
                                "transaction id also in the ``X-Request-ID`` header."},
        "servers": [{"url": "/"}],
        "security": [{"basic": []}],
        "tags": [{"name": name} for name in ("meta", "namespaces", "actions", "packages", "triggers", "rules",
                                             "activations", "alarms", "web", "apigw")],
        "paths": paths,
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic",
                                          "description": "``uuid:key`` of a namespace."},
                                "metrics": {"type": "http", "scheme": "bearer",
                                            "description": "``metrics.token``, for ``/metrics`` only."}},
            "schemas": _schemas(kinds),
            "responses": {f"E{status}": _json(_ref("Error"), text) for status, text in _ERROR_STATUSES.items()},
        },
    }
