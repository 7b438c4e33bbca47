"""APIs of the built-in gateway: the document ``wsk api create`` and the npm client's ``routes.create`` send, the
OpenAPI 2 (swagger) document each API is kept as, and matching a request to one of its operations.

OpenWhisk keeps an API in its separate gateway (``openwhisk-apigateway``) as a swagger document that its route
management actions (``core/routemgmt``: ``createApi``, ``getApi``, ``deleteApi``, ``apigw-utils.js``) build: one
per namespace and base path, each operation naming its web action in ``x-openwhisk`` and again as a ``target-url``
in ``x-ibm-configuration``. Squall keeps the same document, so ``wsk api get`` prints what OpenWhisk prints and a
document it printed can be sent back with ``wsk api create --config-file``. Squall's own settings per route ride in
``x-squall`` objects (rate limits, CORS) that OpenWhisk's tools carry along untouched.

Pure: no I/O; errors are ``Invalid`` with OpenWhisk's messages.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from app.core import strict_json
from app.core.errors import Invalid, Throttled
from app.core.names import check_name

__all__ = [
    "METHODS",
    "RESPONSE_TYPES",
    "Api",
    "Cors",
    "Match",
    "Operation",
    "RateLimit",
    "RateLimited",
    "Target",
    "add_endpoint",
    "api_doc_id",
    "base_swagger",
    "load_swagger",
    "match",
    "normalize_path",
    "operation_id",
    "parse_cors",
    "parse_swagger",
    "path_parameter_names",
    "remove_endpoint",
    "with_namespace",
]

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
"""The verbs an API operation may have (wsk's ``ApiVerbs``), lower case as swagger writes them."""
RESPONSE_TYPES = ("json", "http", "html", "text", "svg")
"""The web action extensions an operation may answer with (``wsk api create --response-type``)."""
DEFAULT_CORS_METHODS = "GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS"
"""What OpenWhisk's gateway allows when an API enables CORS (``cors.lua``)."""

_PARAM_SEGMENT = re.compile(r"\A\{([^/{}]+)\}\Z")
_TARGET_URL = re.compile(
    r"\A\w+://[^/]+(?:/[^?#]*?)?/api/v\d/web/(?P<ns>[^/]+)/(?P<pkg>[^/]+)/(?P<action>[^/]+?)\.(?P<ext>\w+)"
    r"(?P<rest>\$\(request\.path\))?\Z")
_HEADER_VARIABLE = re.compile(r"\Amessage\.headers\.(?P<name>[A-Za-z0-9!#$%&'*+.^_`|~-]+)\Z")
_UNITS_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class RateLimited(Throttled):
    """A route's rate limit was reached: 429 with ``Retry-After`` (the seconds until its window ends)."""

    reason = "api_route"

    def __init__(self, message: str, retry_after_s: int, *, namespace: str = "") -> None:
        super().__init__(message, namespace=namespace)
        self.retry_after_s = retry_after_s


def api_doc_id(namespace: str, base_path: str) -> str:
    """The entity store id of a namespace's API at ``base_path``: ``':'`` never starts an entity name, so no
    action, package, trigger or rule id can be the same."""
    return f"{namespace}/:api{base_path}"


def path_parameter_names(path: str) -> list[str]:
    """The names of the whole-segment ``{name}`` parameters of ``path``, in order, each once."""
    names: list[str] = []
    for segment in path.split("/"):
        found = _PARAM_SEGMENT.match(segment)
        if found and found.group(1) not in names:
            names.append(found.group(1))
    return names


def operation_id(method: str, relpath: str) -> str:
    """OpenWhisk's ``makeOperationId``: ``get`` + ``/books/{isbn}`` is ``getBooksIsbn``."""
    spaced = re.sub(r"[^0-9a-z_-]", " ", relpath, flags=re.IGNORECASE)
    camel = re.sub(r"\w\S*", lambda m: m.group(0)[0].upper() + m.group(0)[1:].lower(), spaced, flags=re.ASCII)
    return method.lower() + re.sub(r"\s", "", camel)


# --- the pieces of an operation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The web action an operation forwards to."""

    namespace: str
    package: str  # "" for none (the web URL says "default")
    action: str
    response_type: str  # one of RESPONSE_TYPES

    @property
    def fqn(self) -> str:
        return f"/{self.namespace}/{self.package}/{self.action}" if self.package else f"/{self.namespace}/{self.action}"

    def web_target(self) -> str:
        """``<package|default>/<action>.<ext>``: the web action URL after its namespace."""
        return f"{self.package or 'default'}/{self.action}.{self.response_type}"

    def url(self, api_host: str) -> str:
        return f"{api_host.rstrip('/')}/api/v1/web/{self.namespace}/{self.web_target()}"


@dataclass(frozen=True)
class RateLimit:
    """At most ``rate`` requests per ``interval_s`` seconds (fixed windows), counted over every caller."""

    rate: int
    interval_s: int = 60

    def window(self, now_ms: int) -> tuple[int, int]:
        """The window holding ``now_ms`` and the whole seconds left until it ends (at least 1)."""
        span_ms = self.interval_s * 1000
        index = now_ms // span_ms
        return index, max(1, math.ceil(((index + 1) * span_ms - now_ms) / 1000))

    def describe(self) -> str:
        if self.interval_s == 60:
            return f"{self.rate}/min"
        return f"{self.rate} per {self.interval_s} s"


@dataclass(frozen=True)
class Cors:
    """CORS answers for a route: ``enabled`` False strips every CORS header (as OpenWhisk's gateway with
    ``cors.enabled: false``); True answers preflights itself and allows ``origins`` (none: any, the caller's
    ``Origin`` echoed)."""

    enabled: bool = True
    origins: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    credentials: bool = True
    max_age_s: int | None = None

    def response_headers(self, origin: str | None, requested_headers: str | None) -> dict[str, str]:
        """The CORS headers of an answer to a request from ``origin`` (empty when this origin is not allowed)."""
        if not self.enabled:
            return {}
        if self.origins and origin not in self.origins and "*" not in self.origins:
            return {}
        out = {
            "Access-Control-Allow-Origin": origin if origin and (self.origins or self.credentials) else "*",
            "Access-Control-Allow-Methods": ", ".join(self.methods) if self.methods else DEFAULT_CORS_METHODS,
        }
        if self.credentials:
            out["Access-Control-Allow-Credentials"] = "true"
        if self.headers:
            out["Access-Control-Allow-Headers"] = ", ".join(self.headers)
        elif requested_headers:
            out["Access-Control-Allow-Headers"] = requested_headers
        if self.max_age_s is not None:
            out["Access-Control-Max-Age"] = str(self.max_age_s)
        if origin and out["Access-Control-Allow-Origin"] == origin:
            out["Vary"] = "Origin"
        return out

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        return ", ".join(self.origins) if self.origins else "any origin"


@dataclass(frozen=True)
class Operation:
    """One verb of one path of an API."""

    relpath: str
    method: str  # lower case
    operation_id: str
    target: Target | None  # None: the document names no web action (answered 404)
    headers: tuple[tuple[str, str], ...] = ()  # set on the forwarded request (X-Require-Whisk-Auth)
    rate_limit: RateLimit | None = None
    cors: Cors | None = None  # None: the action's own CORS answers

    @property
    def parameters(self) -> list[str]:
        return path_parameter_names(self.relpath)


@dataclass(frozen=True)
class Api:
    """A namespace's API at one base path: its swagger document and the operations read from it."""

    namespace: str
    base_path: str
    name: str
    swagger: dict[str, Any]
    operations: tuple[Operation, ...]
    rate_limit: RateLimit | None = None  # over every operation together
    rev: str | None = None
    updated: int = 0

    @property
    def doc_id(self) -> str:
        return api_doc_id(self.namespace, self.base_path)

    def gw_url(self, api_host: str) -> str:
        """Where the gateway serves it (``gwApiUrl``): ``<api_host>/api/<namespace><basePath>``."""
        base = "" if self.base_path == "/" else self.base_path
        return f"{api_host.rstrip('/')}/api/{quote(self.namespace, safe='@')}{base}"

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"_id": self.doc_id, "entityType": "api", "namespace": self.namespace,
                               "basePath": self.base_path, "name": self.name, "swagger": self.swagger,
                               "updated": self.updated}
        if self.rev:
            doc["_rev"] = self.rev
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Api:
        api = parse_swagger(doc["swagger"], doc["namespace"])
        return Api(api.namespace, api.base_path, api.name, api.swagger, api.operations, api.rate_limit,
                   rev=doc.get("_rev"), updated=int(doc.get("updated") or 0))

    def to_cli(self, api_host: str) -> dict[str, Any]:
        """The API as ``createApi`` answers it and ``getApi`` lists it (``value``): wsk's ``RetApi``."""
        return {"namespace": self.namespace, "gwApiActivated": True, "tenantId": self.namespace,
                "gwApiUrl": self.gw_url(api_host), "apidoc": self.swagger}


# --- the document createApi is sent -----------------------------------------------------------------------------


def base_swagger(base_path: str, name: str | None) -> dict[str, Any]:
    """OpenWhisk's ``generateBaseSwaggerApi``: an API with no paths yet, CORS enabled."""
    return {"swagger": "2.0", "info": {"title": name or base_path, "version": "1.0.0"}, "basePath": base_path,
            "paths": {}, "x-ibm-configuration": {"assembly": {}, "cors": {"enabled": True}}}


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid(f"apidoc is missing the {what} field")
    return value


def _action_fields(action: Any) -> dict[str, Any]:
    if not isinstance(action, dict):
        raise Invalid("apidoc is missing the action field.")
    for key in ("backendMethod", "backendUrl", "namespace", "name"):
        if not action.get(key) or not isinstance(action.get(key), str):
            raise Invalid(f"action is missing the {key} field.")
    return action


def _split_action_name(name: str, namespace: str) -> tuple[str, str, str]:
    """``/ns/pkg/a``, ``/ns/a``, ``pkg/a`` or ``a`` → (namespace, package, action), as ``apigw-utils.js``."""
    parts = [p for p in name.split("/") if p]
    if name.startswith("/") and len(parts) >= 2:
        namespace, parts = parts[0], parts[1:]
    if len(parts) == 1:
        return namespace, "", parts[0]
    if len(parts) == 2:
        return namespace, parts[0], parts[1]
    raise Invalid(f"'{name}' is not a valid action name.")


def add_endpoint(swagger: dict[str, Any], apidoc: dict[str, Any], namespace: str, response_type: str,
                 api_host: str, extension: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenWhisk's ``addEndpointToSwaggerApi``: a copy of ``swagger`` with the one route of a wsk/npm ``apidoc``
    (``gatewayBasePath``, ``gatewayPath``, ``gatewayMethod``, ``action``) added or replaced. ``_`` as the action's
    namespace is the caller's. ``extension`` (Squall's route settings) becomes the operation's ``x-squall``."""
    relpath = _text(apidoc.get("gatewayPath"), "gatewayPath")
    method = _text(apidoc.get("gatewayMethod"), "gatewayMethod").lower()
    if method not in METHODS:
        raise Invalid(f"'{apidoc['gatewayMethod']}' is not a valid API verb. Valid values are: "
                      + ", ".join(m.upper() for m in METHODS))
    if not relpath.startswith("/"):
        raise Invalid(f"'{relpath}' must begin with '/'.")
    action = _action_fields(apidoc.get("action"))
    action_ns = namespace if action["namespace"] == "_" else action["namespace"]
    target_ns, package, name = _split_action_name(action["name"], action_ns)
    target = Target(target_ns, package, name, response_type)
    params = apidoc.get("pathParameters")
    if not isinstance(params, list) or not params:
        params = [{"name": p, "in": "path", "description": f"Default description for '{p}'", "required": True,
                   "type": "string"} for p in path_parameter_names(relpath)]
    op_id = operation_id(method, relpath)
    operation: dict[str, Any] = {"operationId": op_id}
    if params:
        operation["parameters"] = params
    operation["x-openwhisk"] = {"url": target.url(api_host), "namespace": target.namespace,
                                "package": target.package, "action": target.action}
    operation["responses"] = {"default": {"description": "Default response"}}
    if extension:
        operation["x-squall"] = extension
    out = copy.deepcopy(swagger)
    out.setdefault("paths", {}).setdefault(relpath, {})[method] = operation
    _set_case(out, op_id, target, api_host, action.get("secureKey"))
    return out


def _cases(swagger: dict[str, Any]) -> list[dict[str, Any]]:
    """``x-ibm-configuration.assembly.execute[0].operation-switch.case``, created on the way."""
    config = _child(swagger, "x-ibm-configuration", dict)
    assembly = _child(config, "assembly", dict)
    execute = _child(assembly, "execute", list)
    if not execute or not isinstance(execute[0], dict):
        execute.insert(0, {})
    switch = _child(execute[0], "operation-switch", dict)
    cases: list[dict[str, Any]] = _child(switch, "case", list)
    return cases


def _child(parent: dict[str, Any], key: str, kind: type[Any]) -> Any:
    """``parent[key]``, made an empty ``kind`` first when it is missing or of another type."""
    if not isinstance(parent.get(key), kind):
        parent[key] = kind()
    return parent[key]


def _first_operation(case: Any) -> Any:
    """The operation id a case of the operation switch is for (OpenWhisk keeps one per case)."""
    operations = case.get("operations") if isinstance(case, dict) else None
    return operations[0] if isinstance(operations, list) and operations else None


def _set_case(swagger: dict[str, Any], op_id: str, target: Target, api_host: str, secure_key: Any) -> None:
    """OpenWhisk's ``setActionOperationInvocationDetails``."""
    cases = _cases(swagger)
    case: dict[str, Any] = {"operations": [op_id], "execute": [{"invoke": {
        "target-url": target.url(api_host) + ("$(request.path)" if target.response_type == "http" else ""),
        "verb": "keep"}}]}
    if secure_key:
        case["execute"].append({"set-variable": {"actions": [
            {"set": "message.headers.X-Require-Whisk-Auth", "value": secure_key}]}})
    for i, existing in enumerate(cases):
        if _first_operation(existing) == op_id:
            cases[i] = case
            return
    cases.append(case)


def remove_endpoint(swagger: dict[str, Any], relpath: str, method: str | None) -> dict[str, Any]:
    """OpenWhisk's ``removeEndpointFromSwaggerApi``: a copy without the path (or just its ``method``)."""
    out = copy.deepcopy(swagger)
    paths = out.get("paths") or {}
    ops = paths.get(relpath)
    if not isinstance(ops, dict):
        raise Invalid(f"path '{relpath}' does not exist in the API")
    if method is None:
        removed = [m for m in ops if m in METHODS]
        del paths[relpath]
    else:
        method = method.lower()
        if method not in ops:
            raise Invalid(f"path '{relpath}' with operation '{method}' does not exist in the API")
        removed = [method]
        del ops[method]
        if not any(m in METHODS for m in ops):
            del paths[relpath]
    gone = {operation_id(m, relpath) for m in removed}
    cases = _cases(out)
    cases[:] = [c for c in cases if _first_operation(c) not in gone]
    return out


# --- reading a swagger document ---------------------------------------------------------------------------------


def load_swagger(value: Any) -> dict[str, Any]:
    """The swagger of an apidoc: an object, or a JSON string (wsk sends the file's text)."""
    if isinstance(value, str):
        try:
            value = strict_json.loads(value)
        except ValueError:
            raise Invalid("swagger field cannot be parsed. Ensure it is valid JSON.") from None
    if not isinstance(value, dict):
        raise Invalid(f"swagger field is {type(value).__name__} and should be an object or a JSON string.")
    return value


def with_namespace(swagger: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A copy whose web actions in the default namespace ``_`` (``x-openwhisk.namespace``, ``target-url``) are in
    ``namespace``, so the stored document names where each request goes."""
    out = copy.deepcopy(swagger)
    paths = out.get("paths")
    for ops in paths.values() if isinstance(paths, dict) else []:
        for op in ops.values() if isinstance(ops, dict) else []:
            ow = op.get("x-openwhisk") if isinstance(op, dict) else None
            if isinstance(ow, dict) and ow.get("namespace") == "_":
                ow["namespace"] = namespace
                if isinstance(ow.get("url"), str):
                    ow["url"] = ow["url"].replace("/api/v1/web/_/", f"/api/v1/web/{namespace}/", 1)
    for case in _switch_cases(out):
        for policy in _list(case.get("execute")):
            invoke = policy.get("invoke") if isinstance(policy, dict) else None
            if isinstance(invoke, dict) and isinstance(invoke.get("target-url"), str):
                invoke["target-url"] = invoke["target-url"].replace("/api/v1/web/_/", f"/api/v1/web/{namespace}/", 1)
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _switch_cases(swagger: dict[str, Any]) -> list[dict[str, Any]]:
    """Every case of every operation switch of the document's assembly (what is not an object is skipped)."""
    assembly = _config(swagger).get("assembly")
    cases: list[dict[str, Any]] = []
    for step in _list(assembly.get("execute") if isinstance(assembly, dict) else None):
        switch = step.get("operation-switch") if isinstance(step, dict) else None
        cases.extend(c for c in _list(switch.get("case") if isinstance(switch, dict) else None) if isinstance(c, dict))
    return cases


def _config(swagger: dict[str, Any]) -> dict[str, Any]:
    found = swagger.get("x-gateway-configuration") or swagger.get("x-ibm-configuration") or {}
    return found if isinstance(found, dict) else {}


def _case_details(swagger: dict[str, Any]) -> dict[str, tuple[str | None, tuple[tuple[str, str], ...]]]:
    """Per operation id: the ``target-url`` and the headers its ``set-variable`` policies set."""
    out: dict[str, tuple[str | None, tuple[tuple[str, str], ...]]] = {}
    for case in _switch_cases(swagger):
        url: str | None = None
        headers: list[tuple[str, str]] = []
        for policy in _list(case.get("execute")):
            if not isinstance(policy, dict):
                continue
            invoke = policy.get("invoke")
            if isinstance(invoke, dict) and isinstance(invoke.get("target-url"), str):
                url = invoke["target-url"]
            variables = policy.get("set-variable")
            for item in _list(variables.get("actions") if isinstance(variables, dict) else None):
                name = _HEADER_VARIABLE.match(str(item.get("set", ""))) if isinstance(item, dict) else None
                value = item.get("value") if isinstance(item, dict) else None
                if name and value is not None and str(value).isprintable():
                    headers.append((name.group("name"), str(value)))
        for op_id in _list(case.get("operations")):
            out[str(op_id)] = (url, tuple(headers))
    return out


def _target(operation: dict[str, Any], url: str | None, namespace: str) -> Target | None:
    """The web action: ``x-openwhisk`` when given, else the ``target-url`` of its case. Raises ``Invalid`` for
    a name no entity may have."""
    found = _named_target(operation, url, namespace)
    if found is not None:
        for name in (found.namespace, found.action, *([found.package] if found.package else [])):
            check_name(name)
    return found


def _named_target(operation: dict[str, Any], url: str | None, namespace: str) -> Target | None:
    ow = operation.get("x-openwhisk")
    if isinstance(ow, dict) and ow.get("action"):
        ext = "json"
        found = _TARGET_URL.match(str(ow.get("url") or ""))
        if found:
            ext = found.group("ext")
        ns = str(ow.get("namespace") or "_")
        return Target(namespace if ns == "_" else ns, str(ow.get("package") or ""), str(ow["action"]),
                      ext if ext in RESPONSE_TYPES else "json")
    found = _TARGET_URL.match(url or "")
    if not found:
        return None
    pkg = found.group("pkg")
    ns = found.group("ns")
    ext = found.group("ext")
    return Target(namespace if ns == "_" else ns, "" if pkg == "default" else pkg, found.group("action"),
                  ext if ext in RESPONSE_TYPES else "json")


def _rate_limit(value: Any, where: str) -> RateLimit | None:
    """``x-squall.rateLimit``: a whole number of requests per minute, or ``{"rate", "unit", "units"}``; also
    the gateway's ``x-gateway-rate-limit`` list of that object."""
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    if isinstance(value, bool):
        raise Invalid(f"{where} must be a whole number of requests per minute of at least 1")
    if isinstance(value, int):
        if value < 1:
            raise Invalid(f"{where} must be a whole number of requests per minute of at least 1")
        return RateLimit(value)
    if isinstance(value, dict):
        rate, unit, units = value.get("rate"), value.get("unit", "minute"), value.get("units", 1)
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
            raise Invalid(f"{where}.rate must be a whole number of at least 1")
        if unit not in _UNITS_S:
            raise Invalid(f"{where}.unit must be one of second, minute, hour, day")
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise Invalid(f"{where}.units must be a whole number of at least 1")
        return RateLimit(rate, _UNITS_S[unit] * units)
    raise Invalid(f"{where} must be a whole number of requests per minute of at least 1")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v and v.isprintable() for v in value):
        raise Invalid(f"{where} must be a list of strings")
    return tuple(value)


def parse_cors(value: Any, where: str) -> Cors | None:
    """``x-squall.cors``: true, false, or ``{"origins", "methods", "headers", "credentials", "maxAge"}``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return Cors(enabled=value)
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be true, false or an object")
    unknown = set(value) - {"enabled", "origins", "methods", "headers", "credentials", "maxAge"}
    if unknown:
        raise Invalid(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    enabled = value.get("enabled", True)
    credentials = value.get("credentials", True)
    if not isinstance(enabled, bool) or not isinstance(credentials, bool):
        raise Invalid(f"{where}.enabled and {where}.credentials must be true or false")
    max_age = value.get("maxAge")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0):
        raise Invalid(f"{where}.maxAge must be a whole number of seconds")
    methods = tuple(m.upper() for m in _strings(value.get("methods", []), f"{where}.methods"))
    if any(m.lower() not in METHODS for m in methods):
        raise Invalid(f"{where}.methods must name HTTP verbs of: " + ", ".join(m.upper() for m in METHODS))
    return Cors(enabled, _strings(value.get("origins", []), f"{where}.origins"), methods,
                _strings(value.get("headers", []), f"{where}.headers"), credentials, max_age)


def _extension(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be an object")
    unknown = set(value) - {"rateLimit", "cors"}
    if unknown:
        raise Invalid(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    return value


def _validate_paths(swagger: dict[str, Any], base_path: str, urls: dict[str, str | None]) -> None:
    """OpenWhisk's ``validateFinalSwagger``: path parameters only in the relative path, only for ``.http``
    actions, each declared among the operation's (or the path's) parameters."""
    if path_parameter_names(base_path):
        raise Invalid(f"The base path ({base_path}) cannot have parameters. Only the relative path supports "
                      "path parameters.")
    for relpath, ops in swagger["paths"].items():
        names = path_parameter_names(relpath) if isinstance(relpath, str) else []
        if not names or not isinstance(ops, dict):
            continue  # what is not an object is refused with its own message after this
        shared = _list(ops.get("parameters"))
        for method, op in ops.items():
            if method not in METHODS or not isinstance(op, dict):
                continue
            ow = op.get("x-openwhisk")
            if isinstance(ow, dict) and ow.get("url") and not str(ow["url"]).endswith(".http"):
                raise Invalid("The action must use a response type of '.http' in order to receive the path "
                              "parameters.")
            url = urls.get(str(op.get("operationId")))
            if url and not url.endswith(".http$(request.path)"):
                raise Invalid(f"The target-url for operationId '{op.get('operationId')}' must end in "
                              "'$(request.path)' in order for actions to receive the path parameters.")
            declared = {p.get("name") for p in shared + _list(op.get("parameters")) if isinstance(p, dict)}
            for name in names:
                if name not in declared:
                    raise Invalid(f"The parameter '{name}' defined in path '{relpath}' does not match any of the "
                                  "parameters defined for the path in the swagger file.")


def parse_swagger(value: Any, namespace: str) -> Api:
    """Validate an OpenAPI 2 document (object or JSON text) as ``createApi`` does and read its operations.
    ``_`` as an action's namespace is ``namespace``. Raises ``Invalid``."""
    swagger = load_swagger(value)
    base_path = swagger.get("basePath")
    if not base_path:
        raise Invalid("swagger is missing the basePath field.")
    if not isinstance(swagger.get("paths"), dict):
        raise Invalid("swagger is missing the paths field.")
    if not isinstance(swagger.get("info"), dict):
        raise Invalid("swagger is missing the info field.")
    if not isinstance(base_path, str) or not base_path.startswith("/"):
        raise Invalid("Swagger file basePath must start with a leading slash (/)")
    base_path = normalize_path(base_path)
    cases = _case_details(swagger)
    _validate_paths(swagger, base_path, {op_id: url for op_id, (url, _) in cases.items()})
    root = _extension(swagger.get("x-squall"), "x-squall")
    root_rate = _rate_limit(root.get("rateLimit"), "x-squall.rateLimit")
    api_rate = _rate_limit(swagger.get("x-gateway-rate-limit") or swagger.get("x-ibm-rate-limit"),
                           "x-gateway-rate-limit")
    root_cors = parse_cors(root.get("cors"), "x-squall.cors")
    config_cors = _config(swagger).get("cors")
    if root_cors is None and isinstance(config_cors, dict) and isinstance(config_cors.get("enabled"), bool):
        root_cors = Cors(enabled=config_cors["enabled"])
    operations: list[Operation] = []
    for relpath, ops in swagger["paths"].items():
        if not isinstance(relpath, str) or not relpath.startswith("/"):
            raise Invalid(f"'{relpath}' must begin with '/'.")
        if not isinstance(ops, dict):
            raise Invalid(f"path '{relpath}' must be an object of operations")
        for method, op in ops.items():
            if method not in METHODS:
                continue
            if not isinstance(op, dict):
                raise Invalid(f"operation '{method}' of path '{relpath}' must be an object")
            op_id = str(op.get("operationId") or operation_id(method, relpath))
            url, headers = cases.get(op_id, (None, ()))
            where = f"x-squall of {method} {relpath}"
            ext = _extension(op.get("x-squall"), where)
            cors = parse_cors(ext.get("cors"), f"{where}: cors")
            operations.append(Operation(
                relpath=relpath, method=method, operation_id=op_id, target=_target(op, url, namespace),
                headers=headers, rate_limit=_rate_limit(ext.get("rateLimit"), f"{where}: rateLimit") or root_rate,
                cors=cors if cors is not None else root_cors))
    info = swagger["info"]
    name = str(info.get("title") or base_path)
    return Api(namespace, base_path, name, swagger, tuple(operations), api_rate)


# --- matching a request -----------------------------------------------------------------------------------------


def normalize_path(path: str) -> str:
    """``/a/b/`` is ``/a/b``; ``""`` and ``/`` are ``/``."""
    stripped = path.rstrip("/")
    return stripped if stripped.startswith("/") else "/" + stripped


@dataclass(frozen=True)
class Match:
    """A request's API, the relative path it matched (with its operations) and the path parameters' values."""

    api: Api
    relpath: str
    operations: dict[str, Operation]  # by lower-case method
    parameters: dict[str, str] = field(default_factory=dict)

    def allowed(self) -> list[str]:
        return [m.upper() for m in METHODS if m in self.operations]


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _template_match(template: str, path: str) -> dict[str, str] | None:
    want, have = _segments(template), _segments(path)
    if len(want) != len(have):
        return None
    values: dict[str, str] = {}
    for pattern, segment in zip(want, have, strict=True):
        param = _PARAM_SEGMENT.match(pattern)
        if param:
            values[param.group(1)] = segment
        elif pattern != segment:
            return None
    return values


def match(apis: list[Api], path: str) -> Match | None:
    """The operation set for ``path`` (everything after ``/api/<namespace>``): the longest base path that holds
    it, then an exact relative path, then the template with the most literal segments (``/books/new`` before
    ``/books/{id}``). Trailing slashes do not matter."""
    path = normalize_path(path)
    for api in sorted(apis, key=lambda a: len(_segments(a.base_path)), reverse=True):
        base = api.base_path
        if base == "/":
            rel = path
        elif path == base:
            rel = "/"
        elif path.startswith(base + "/"):
            rel = path[len(base):]
        else:
            continue
        by_path: dict[str, dict[str, Operation]] = {}
        for op in api.operations:
            by_path.setdefault(op.relpath, {})[op.method] = op
        exact = [p for p in by_path if normalize_path(p) == rel]
        if exact:
            return Match(api, exact[0], by_path[exact[0]])
        best: tuple[int, str, dict[str, str]] | None = None
        for template in by_path:
            values = _template_match(template, rel)
            if values is None:
                continue
            literal = len(_segments(template)) - len(values)
            if best is None or literal > best[0]:
                best = (literal, template, values)
        if best is not None:
            return Match(api, best[1], by_path[best[1]], best[2])
    return None
