"""APIs of the built-in gateway: what OpenWhisk's route management actions do (``createApi``, ``getApi``,
``deleteApi`` in ``core/routemgmt``), with the namespace's APIs kept in the entity store (one document per base
path, ``app.core.apis``), and what its API gateway does for a request: find the operation, count it against the
route's rate limit.

Every API belongs to the namespace of the key that created it (OpenWhisk's ``__ow_user``), whatever namespace
the document names; the web actions it forwards to may live anywhere (web actions are public).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from app.core import strict_json
from app.core.apis import (
    RESPONSE_TYPES,
    Api,
    Match,
    Operation,
    RateLimit,
    RateLimited,
    add_endpoint,
    api_doc_id,
    base_swagger,
    load_swagger,
    match,
    normalize_path,
    parse_swagger,
    path_parameter_names,
    remove_endpoint,
    with_namespace,
)
from app.core.entities import now_ms
from app.core.errors import Conflict, Invalid, NotFound, StoreError
from app.core.identities import Identity
from app.core.ports import EntityStore, RateCounter
from app.core.services.entitlement import check_owner

log = logging.getLogger(__name__)

MAX_APIS = 1000
"""At most this many APIs per namespace are read to serve or list (a namespace holds a handful)."""
RESERVED_NAMESPACES = frozenset({"v1"})
"""``/api/v1/...`` is the platform's own API: a namespace of that name cannot serve a gateway API."""
_WRITE_TRIES = 5
DELETE_FAILED = "API deletion failure: "


class ApiService:
    """Create, read, delete and serve a namespace's gateway APIs."""

    def __init__(self, entities: EntityStore, counter: RateCounter | None, api_host: str) -> None:
        self._entities = entities
        self._counter = counter
        self.api_host = api_host.rstrip("/")

    # --- createApi / getApi / deleteApi --------------------------------------------------------------------

    def create(self, identity: Identity, apidoc: Any, response_type: str | None = None,
               extension: dict[str, Any] | None = None) -> Api:
        """Add one route to the API at its base path (made when missing), or, for a swagger ``apidoc``, replace
        the whole API at the swagger's base path. ``extension`` (Squall's ``x-squall`` of the route) applies to a
        one-route apidoc only. Raises ``Invalid`` with OpenWhisk's messages."""
        namespace = identity.namespace
        if namespace in RESERVED_NAMESPACES:
            raise Invalid(f"The namespace '{namespace}' cannot serve APIs: /api/{namespace} is the platform's.")
        doc = _apidoc(apidoc)
        if doc.get("swagger"):
            if doc.get("gatewayBasePath"):
                raise Invalid("swagger and gatewayBasePath are mutually exclusive and cannot be specified together.")
            api = parse_swagger(with_namespace(load_swagger(doc["swagger"]), namespace), namespace)
            return self._write(api.base_path, lambda _old: api.swagger, namespace)
        base_path = doc.get("gatewayBasePath")
        if not isinstance(base_path, str) or not base_path:
            raise Invalid("apidoc is missing the gatewayBasePath field")
        if not base_path.startswith("/"):
            raise Invalid(f"'{base_path}' must begin with '/'.")
        if path_parameter_names(base_path):
            raise Invalid(f"The base path ({base_path}) cannot have parameters. Only the relative path supports "
                          "path parameters.")
        base_path = normalize_path(base_path)
        kind = (response_type or "json").lower()
        if kind not in RESPONSE_TYPES:
            raise Invalid(f"'{response_type}' is not a valid response type. Valid values are: "
                          + ", ".join(RESPONSE_TYPES))
        api_name = doc.get("apiName") if isinstance(doc.get("apiName"), str) else None

        def updated(old: dict[str, Any] | None) -> dict[str, Any]:
            swagger = old if old is not None else base_swagger(base_path, api_name)
            return add_endpoint(swagger, doc, namespace, kind, self.api_host, extension)

        return self._write(base_path, updated, namespace)

    def get(self, identity: Identity, basepath_or_name: str | None = None, skip: int = 0,
            limit: int = MAX_APIS) -> list[Api]:
        """The caller's APIs (newest first), or the one at a base path (``/x``) or with a name (``x``)."""
        if skip < 0 or limit < 0:
            raise Invalid("skip and limit must be whole numbers of at least 0")
        apis = self.list(identity.namespace)
        if basepath_or_name:
            apis = [a for a in apis if _named(a, basepath_or_name)]
        return apis[skip:skip + limit] if limit else apis[skip:]

    def delete(self, identity: Identity, basepath_or_name: str, relpath: str | None = None,
               operation: str | None = None) -> Api | None:
        """Delete the API, or one path of it, or one operation of a path; an API left with no path goes.
        Returns what is left (None when the API went). Raises ``NotFound`` / ``Invalid`` in OpenWhisk's words."""
        if not basepath_or_name:
            raise Invalid("basepath is required.")
        if operation and not relpath:
            raise Invalid("When specifying an operation, the path is required.")
        found = [a for a in self.list(identity.namespace) if _named(a, basepath_or_name)]
        if not found and not relpath and basepath_or_name.startswith("/"):
            self._delete_unreadable(api_doc_id(identity.namespace, normalize_path(basepath_or_name)))
            return None
        if not found:
            raise NotFound(f"{DELETE_FAILED}API '{basepath_or_name}' does not exist.")
        api = found[0]
        for _ in range(_WRITE_TRIES):
            if not relpath:
                self._delete(api)
                return None
            try:
                swagger = remove_endpoint(api.swagger, relpath, operation)
            except Invalid as e:
                raise NotFound(DELETE_FAILED + e.message) from None
            if not any(isinstance(ops, dict) for ops in (swagger.get("paths") or {}).values()):
                self._delete(api)
                return None
            try:
                return self._put(replace(parse_swagger(swagger, api.namespace), rev=api.rev))
            except Conflict:
                api = self._load(api.doc_id)
        raise Conflict("The API changed while it was being updated; try again.")

    def of(self, identity: Identity, namespace: str) -> list[Api]:
        """``namespace``'s APIs for its owner (the admin pages); ``Forbidden`` for anyone else."""
        check_owner(identity, namespace)
        return self.list(namespace)

    def list(self, namespace: str) -> list[Api]:
        """Every API of ``namespace``, newest first (also for the admin pages)."""
        apis: list[Api] = []
        for doc in self._entities.list_entities(namespace, "api", 0, MAX_APIS):
            if doc.get("entityType") != "api" or doc.get("namespace") != namespace:
                continue
            try:
                apis.append(Api.from_doc(doc))
            except (Invalid, KeyError, TypeError) as e:  # stored under older rules: skipped, never a 500
                log.warning("API %s skipped: %s", doc.get("_id"), e)
        return apis

    # --- serving ------------------------------------------------------------------------------------------

    def resolve(self, namespace: str, path: str) -> Match:
        """The operations for ``path`` of ``namespace``'s APIs. Raises ``NotFound``."""
        if namespace in RESERVED_NAMESPACES:
            raise NotFound()
        found = match(self.list(namespace), path)
        if found is None:
            raise NotFound("The requested resource does not exist.")
        return found

    def admit(self, found: Match, operation: Operation) -> None:
        """Count one request against the operation's rate limit and its API's; raises ``RateLimited`` past
        either. A counter that cannot be reached lets the request through (the limit protects, it is not the
        service), as the invocation throttle does."""
        now = now_ms()
        api = found.api
        self._count(operation.rate_limit, now,
                    f"op:{api.namespace}:{api.base_path}:{operation.method}:{operation.relpath}", api.namespace)
        self._count(api.rate_limit, now, f"api:{api.namespace}:{api.base_path}", api.namespace)

    def _count(self, limit: RateLimit | None, now: int, key: str, namespace: str) -> None:
        if limit is None or self._counter is None:
            return
        window, retry_after_s = limit.window(now)
        try:
            count = self._counter.increment(f"squall:apigw:{key}:{limit.interval_s}:{window}", limit.interval_s + 5)
        except StoreError as e:
            log.warning("gateway route %s not counted: %s", key, e)
            return
        if count > limit.rate:
            raise RateLimited(f"Too many requests for this route (count: {count}, allowed: {limit.rate} per "
                              f"{limit.interval_s} seconds).", retry_after_s, namespace=namespace)

    # --- the store ----------------------------------------------------------------------------------------

    def _load(self, doc_id: str) -> Api:
        doc = self._entities.get_entity(doc_id)
        if doc.get("entityType") != "api":
            raise NotFound()
        return Api.from_doc(doc)

    def _write(self, base_path: str, change: Any, namespace: str) -> Api:
        """Read-modify-write the API at ``base_path`` (``change(old swagger or None) -> new swagger``)."""
        doc_id = api_doc_id(namespace, base_path)
        for _ in range(_WRITE_TRIES):
            try:
                old: Api | None = self._load(doc_id)
            except NotFound:
                old = None
            swagger = change(old.swagger if old else None)
            api = parse_swagger(swagger, namespace)
            try:
                return self._put(replace(api, rev=old.rev if old else None))
            except Conflict:
                continue
        raise Conflict("The API changed while it was being updated; try again.")

    def _put(self, api: Api) -> Api:
        stamped = replace(api, updated=now_ms())
        rev = self._entities.put_entity(stamped.to_doc())
        return replace(stamped, rev=rev)

    def _delete_unreadable(self, doc_id: str) -> None:
        """Delete an API document ``list`` could not read (or answer the missing API's 404)."""
        try:
            doc = self._entities.get_entity(doc_id)
        except NotFound:
            doc = {}
        if doc.get("entityType") != "api" or not doc.get("_rev"):
            raise NotFound(f"{DELETE_FAILED}API '{doc_id.split('/:api', 1)[-1]}' does not exist.")
        self._entities.delete_entity(doc_id, doc["_rev"])

    def _delete(self, api: Api) -> None:
        assert api.rev is not None
        self._entities.delete_entity(api.doc_id, api.rev)


def _apidoc(value: Any) -> dict[str, Any]:
    """The ``apidoc`` of a createApi body: an object or a JSON string (OpenWhisk accepts both)."""
    if value is None or value == "":
        raise Invalid("apidoc is required.")
    if isinstance(value, str):
        try:
            value = strict_json.loads(value)
        except ValueError:
            raise Invalid("apidoc field cannot be parsed. Ensure it is valid JSON.") from None
    if not isinstance(value, dict):
        raise Invalid(f"apidoc field is of type {type(value).__name__} and should be a JSON object or a JSON string.")
    if not value.get("namespace"):
        raise Invalid("apidoc is missing the namespace field")
    return value


def _named(api: Api, basepath_or_name: str) -> bool:
    """``/x`` names a base path, anything else an API name (``getApis`` in ``apigw-utils.js``)."""
    if basepath_or_name.startswith("/"):
        return api.base_path == normalize_path(basepath_or_name)
    return api.name == basepath_or_name
