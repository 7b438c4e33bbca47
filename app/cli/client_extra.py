"""REST calls the client verbs make beyond ``ApiClient``'s own methods, as functions over an ``ApiClient`` (to fold
into it later): the activation list with its time window, and the API gateway's route management
(``/api/v1/web/whisk.system/apimgmt/{createApi,getApi,deleteApi}.http``, what ``wsk api`` calls; docs/api-gateway.md).
"""

from __future__ import annotations

from typing import Any

from app.cli.client import DEFAULT_NAMESPACE, ApiClient, ClientError

APIMGMT = "/web/whisk.system/apimgmt"


def list_activations(api: ApiClient, *, name: str | None = None, since: int | None = None,
                     upto: int | None = None, limit: int = 30, skip: int = 0, docs: bool = False) -> Any:
    """``GET /namespaces/_/activations``: newest first; ``since``/``upto`` in epoch ms; ``limit`` 0 means the
    server's maximum; ``docs`` full records (with logs and result)."""
    params: dict[str, Any] = {"limit": limit, "skip": skip}
    for key, value in (("name", name), ("since", since), ("upto", upto)):
        if value is not None:
            params[key] = value
    if docs:
        params["docs"] = "true"
    return api._json("GET", f"/namespaces/{DEFAULT_NAMESPACE}/activations", params=params)


def _prefixed(prefix: str, e: ClientError) -> ClientError:
    return e.saying(f"{prefix}: {e.message}")


def create_api(api: ApiClient, apidoc: dict[str, Any], response_type: str) -> Any:
    """``createApi``: the stored API (``gwApiUrl``, ``apidoc``...)."""
    try:
        return api._json("POST", f"{APIMGMT}/createApi.http", params={"responsetype": response_type},
                         json={"apidoc": apidoc})
    except ClientError as e:
        raise _prefixed("Unable to create API", e) from e


def get_apis(api: ApiClient, basepath: str | None = None, limit: int = 0, skip: int = 0) -> Any:
    """``getApi``: ``{"apis": [{"id", "key", "value": {"gwApiUrl", "apidoc", ...}}]}``, the APIs of the namespace or
    the one at ``basepath`` (a base path or an API name; none is an empty list)."""
    params: dict[str, Any] = {"limit": limit, "skip": skip}
    if basepath:
        params["basepath"] = basepath
    try:
        return api._json("GET", f"{APIMGMT}/getApi.http", params=params)
    except ClientError as e:
        raise _prefixed("Unable to obtain the API list", e) from e


def delete_api(api: ApiClient, basepath: str, relpath: str | None = None, operation: str | None = None) -> None:
    """``deleteApi``: the whole API, one path of it, or one verb of a path."""
    params = {"basepath": basepath}
    if relpath:
        params["relpath"] = relpath
    if operation:
        params["operation"] = operation
    try:
        api._json("DELETE", f"{APIMGMT}/deleteApi.http", params=params)
    except ClientError as e:
        raise _prefixed("Unable to delete API", e) from e
