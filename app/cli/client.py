"""A small OpenWhisk REST client for the ``squall`` client verbs: HTTP only, like ``wsk``.

It never imports the store, the controller or the services: everything goes through ``/api/v1``.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from app.cli.exits import EXIT_GENERAL, EXIT_NETWORK, http_exit_code

DEFAULT_NAMESPACE = "_"
"""The caller's own namespace, as the API spells it."""
DEFAULT_APIVERSION = "v1"
TIMEOUT_S = 90.0
"""Longer than the controller's 60 s blocking wait, so a blocking invoke gets the server's answer."""

EventHooks = Mapping[str, Sequence[Callable[..., Any]]]


class ClientError(Exception):
    """A call failed: ``status`` is the HTTP status (0 when the server was not reached or did not take part).

    ``exit_code`` is wsk's: ``status - 256`` for an HTTP error, else the one given (1 unless said).
    """

    def __init__(self, status: int, message: str, exit_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body  # the error answer's JSON, when it had one (a failed blocking invoke's activation)
        if exit_code is None:
            exit_code = http_exit_code(status) if 100 <= status <= 599 else EXIT_GENERAL
        self.exit_code = exit_code

    def saying(self, message: str) -> ClientError:
        """The same failure (status and exit code: an unreachable server still exits 3) told in other words."""
        return ClientError(self.status, message, self.exit_code, self.body)


def tls_verify(insecure: bool = False, cert: str = "", key: str = "") -> ssl.SSLContext | bool:
    """httpx's ``verify``: ``--insecure`` skips checking the server; ``CERT``/``KEY`` present a client certificate."""
    if not cert:
        return not insecure
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        context.load_cert_chain(cert, key or None)
    except (OSError, ssl.SSLError) as e:
        raise ClientError(0, f"Cannot load the client certificate CERT={cert} KEY={key or '(in CERT)'}: {e}") from e
    return context


def _normalize_host(apihost: str) -> str:
    """``wsk`` treats an apihost without a scheme as https."""
    host = apihost.strip().rstrip("/")
    if "://" not in host:
        host = "https://" + host
    return host


def _split_auth(auth: str) -> tuple[str, str] | None:
    if not auth:
        return None
    user, _, key = auth.partition(":")
    return user, key


def _entity_path(collection: str, name: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """``/namespaces/<ns>/<collection>/<name>``; a fully qualified ``/ns/pkg/name`` keeps its namespace."""
    if name.startswith("/"):
        parts = name.strip("/").split("/", 1)
        if len(parts) != 2 or not all(parts):
            raise ClientError(0, f"'{name}' is not a valid qualified name")
        namespace, name = parts
    return f"/namespaces/{quote(namespace, safe='')}/{collection}/{quote(name, safe='/')}"


class ApiClient:
    """One ``httpx.Client`` against ``<apihost>/api/v1`` with Basic auth ``uuid:key``.

    ``namespace`` stands for ``_`` (the caller's own) in paths, as wsk's ``NAMESPACE`` property did; ``verify`` and
    ``event_hooks`` go to httpx (``--insecure``, ``--verbose``).
    """

    def __init__(self, apihost: str, auth: str, transport: httpx.BaseTransport | None = None, *,
                 namespace: str = DEFAULT_NAMESPACE, apiversion: str = DEFAULT_APIVERSION,
                 verify: ssl.SSLContext | bool = True, event_hooks: EventHooks | None = None) -> None:
        self.apihost = _normalize_host(apihost)
        self.auth = auth  # a feed action gets it as ``authKey``, as wsk sends it
        self.namespace = namespace or DEFAULT_NAMESPACE
        self.api_url = f"{self.apihost}/api/{quote(apiversion or DEFAULT_APIVERSION, safe='')}"
        self._http = httpx.Client(
            base_url=self.api_url,
            auth=_split_auth(auth),
            timeout=TIMEOUT_S,
            transport=transport,
            verify=verify,
            event_hooks={name: list(hooks) for name, hooks in (event_hooks or {}).items()},
            headers={"User-Agent": "squall-cli/1.0"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _ns(self, namespace: str = DEFAULT_NAMESPACE) -> str:
        """``namespace`` for a path, ``_`` meaning the configured one."""
        return quote(self.namespace if namespace == DEFAULT_NAMESPACE else namespace, safe="")

    def _path(self, collection: str, name: str) -> str:
        return _entity_path(collection, name, self.namespace)

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                 json: Any = None) -> httpx.Response:
        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.TimeoutException as e:
            raise ClientError(0, f"The request to {self.apihost} timed out ({e.__class__.__name__}).",
                              EXIT_NETWORK) from e
        except httpx.TransportError as e:
            raise ClientError(0, f"Could not reach the controller at {self.apihost} ({e}).", EXIT_NETWORK) from e
        if not response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise ClientError(response.status_code, _error_message(response), body=body)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as e:
            raise ClientError(response.status_code,
                              f"The server answered {response.status_code} with a body that is not JSON.") from e

    # -- any entity (actions, packages, triggers, rules) -----------------------------------------

    def put_entity(self, collection: str, name: str, body: dict[str, Any], overwrite: bool = False) -> Any:
        return self._json("PUT", self._path(collection, name),
                          params={"overwrite": "true" if overwrite else "false"}, json=body)

    def get_entity(self, collection: str, name: str) -> Any:
        return self._json("GET", self._path(collection, name))

    def list_entities(self, collection: str, namespace: str = DEFAULT_NAMESPACE, limit: int = 30,
                      skip: int = 0) -> Any:
        return self._json("GET", f"/namespaces/{self._ns(namespace)}/{collection}",
                          params={"limit": limit, "skip": skip})

    def delete_entity(self, collection: str, name: str) -> Any:
        return self._json("DELETE", self._path(collection, name))

    # -- actions --------------------------------------------------------------------------------

    def put_action(self, name: str, body: dict[str, Any], overwrite: bool = False) -> Any:
        return self.put_entity("actions", name, body, overwrite)

    def get_action(self, name: str, code: bool = True) -> Any:
        params = None if code else {"code": "false"}
        return self._json("GET", self._path("actions", name), params=params)

    def list_actions(self, limit: int = 30, skip: int = 0, namespace: str = DEFAULT_NAMESPACE) -> Any:
        return self.list_entities("actions", namespace, limit, skip)

    def list_package_actions(self, package: str, limit: int = 30, skip: int = 0) -> Any:
        """The actions of ``pkg`` or ``/ns/pkg`` (of the bound package, for a binding): ``GET actions/pkg/``."""
        return self._json("GET", self._path("actions", package.rstrip("/")) + "/",
                          params={"limit": limit, "skip": skip})

    def delete_action(self, name: str) -> Any:
        return self.delete_entity("actions", name)

    def invoke_action(self, name: str, payload: dict[str, Any] | None = None, blocking: bool = False,
                      result: bool = False) -> Any:
        """``wsk action invoke``: non-blocking answers ``{"activationId"}``; ``result`` implies blocking.

        A blocking call whose action failed answers 502 with the activation; that is an error here too,
        with the record's error as the message.
        """
        blocking = blocking or result
        params = {"blocking": "true" if blocking else "false", "result": "true" if result else "false"}
        return self._json("POST", self._path("actions", name), params=params, json=payload or {})

    # -- triggers and rules -----------------------------------------------------------------------

    def fire_trigger(self, name: str, payload: dict[str, Any] | None = None) -> str | None:
        """The trigger activation's id, or None when no rule is active (204: nothing ran, nothing stored)."""
        response = self._request("POST", self._path("triggers", name), json=payload or {})
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        aid = body.get("activationId") if isinstance(body, dict) else None
        return str(aid) if aid else response.headers.get("x-openwhisk-activation-id")

    def set_rule_state(self, name: str, status: str) -> None:
        """``status`` ``active`` or ``inactive``; the server answers a plain ``OK``."""
        self._request("POST", self._path("rules", name), json={"status": status, "trigger": None, "action": None})

    # -- namespaces -----------------------------------------------------------------------------

    def list_namespaces(self) -> Any:
        return self._json("GET", "/namespaces")

    # -- the API's description ----------------------------------------------------------------------

    def info(self) -> Any:
        """``GET /api/v1``: ``build`` and ``buildno``, for ``property get``; no key needed."""
        return self._json("GET", self.api_url)

    # -- activations ----------------------------------------------------------------------------

    def list_activations(self, limit: int = 30, skip: int = 0, name: str | None = None,
                         docs: bool = False) -> Any:
        params: dict[str, Any] = {"limit": limit, "skip": skip}
        if name:
            params["name"] = name
        if docs:
            params["docs"] = "true"
        return self._json("GET", f"/namespaces/{self._ns()}/activations", params=params)

    def get_activation(self, activation_id: str) -> Any:
        return self._json("GET", f"/namespaces/{self._ns()}/activations/{quote(activation_id, safe='')}")

    def activation_logs(self, activation_id: str) -> Any:
        return self._json(
            "GET", f"/namespaces/{self._ns()}/activations/{quote(activation_id, safe='')}/logs")

    def activation_result(self, activation_id: str) -> Any:
        return self._json(
            "GET", f"/namespaces/{self._ns()}/activations/{quote(activation_id, safe='')}/result")


def _error_message(response: httpx.Response) -> str:
    """The server's ``error`` field; for a failed activation, its result's error; else a readable fallback."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        code = body.get("code")
        suffix = f" (code {code})" if isinstance(code, str | int) and code != "" else ""  # as wsk prints it
        if isinstance(error, str) and error:
            return error + suffix
        if error is not None:
            return str(error) + suffix
        outcome = body.get("response")
        if isinstance(outcome, dict):
            result = outcome.get("result")
            detail = result.get("error") if isinstance(result, dict) else None
            status = outcome.get("status", "error")
            aid = body.get("activationId", "")
            suffix = f": {detail}" if detail is not None else ""
            return f"The activation {aid} ended with {status}{suffix}".replace("  ", " ")
    reason = response.reason_phrase or "error"
    return f"The server answered {response.status_code} {reason}."
