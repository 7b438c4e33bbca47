"""Web actions: an HTTP request to ``/api/v1/web/{namespace}/{target}`` runs a ``web-export`` action as the
namespace's owner (counted against the owner's throttles) and answers with its result, as OpenWhisk's
``WebActions.scala`` does. The rules of input and output are in ``app.core.web``; this is the sequence of
look-ups, checks and the invocation.
"""

from __future__ import annotations

import logging
from typing import Any

from app.core.entities import annotation
from app.core.errors import Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, Unauthorized
from app.core.identities import Identity
from app.core.invocation import ResolvedAction
from app.core.names import EntityPath, check_name
from app.core.ports import EntityStore
from app.core.services.identities import IdentityService
from app.core.services.invocations import InvocationService
from app.core.services.resolution import Resolver
from app.core.web import (
    NOT_AUTHENTICATED,
    NOT_READY,
    PARAMETERS_NOT_ALLOWED,
    RESERVED,
    WebRequest,
    WebResponse,
    action_input,
    answer,
    cors_headers,
    error_response,
    immutable_parameters,
    is_authorized,
    overrides,
    parse_target,
    request_body,
)

log = logging.getLogger(__name__)

ACTIVATION_HEADER = "x-openwhisk-activation-id"


class WebActionService:
    """``payload_bytes``: the largest request body (OpenWhisk: the activation payload limit, 1 MB)."""

    def __init__(self, identities: IdentityService, invocations: InvocationService, entities: EntityStore,
                 payload_bytes: int) -> None:
        self._identities = identities
        self._invocations = invocations
        self._resolver = Resolver(entities)
        self._payload_bytes = payload_bytes

    def handle(self, namespace: str, target: str, request: WebRequest, *, transaction_id: str,
               authorization: tuple[str, str] | None, extra_params: dict[str, Any] | None = None) -> WebResponse:
        """Answer one request. ``target`` is ``<package|default>/<action>[.ext][/extra/path]`` as in the URL,
        ``authorization`` the request's basic ``(uuid, key)`` if any, ``extra_params`` parameters the caller adds
        beneath the query and body (the API gateway's path parameters).

        Raises ``NotFound`` (no such namespace, package or action, or not ``web-export``), ``PayloadTooLarge``
        (body over the payload limit), ``Throttled`` (the owner's throttles), ``Unavailable``; every other outcome
        is the returned answer (401, 400, 202 and the action's own, with the activation id header once invoked).
        """
        parsed = parse_target(target)
        owner, resolved = self._find(namespace, parsed.package, parsed.action)
        action = resolved.action
        if len(request.body) > self._payload_bytes:
            raise PayloadTooLarge(len(request.body), self._payload_bytes)
        options = annotation(action.annotations, "web-custom-options") is True
        cors = [] if options else cors_headers(request)
        if request.method == "OPTIONS" and not options:
            return WebResponse(200, cors)
        user = self._caller(authorization)
        allowed = (request.method == "OPTIONS"  # with custom options the action answers, authorized or not
                   or is_authorized(action.annotations, request.headers, user is not None))
        if not allowed:
            return error_response(401, NOT_AUTHENTICATED, transaction_id, cors)
        raw = annotation(action.annotations, "raw-http") is True
        try:
            body = request_body(request, raw)
        except Invalid as e:
            return error_response(400, e.message, transaction_id, cors)
        if not raw:
            forbidden = RESERVED | immutable_parameters(action.annotations, resolved.parameters())
            if overrides(request, body[1], forbidden, extra_params):
                return error_response(400, PARAMETERS_NOT_ALLOWED, transaction_id, cors)
        payload = action_input(request, raw=raw, body=body, user=user.namespace if user else None,
                               extra=extra_params)
        path = EntityPath(namespace, parsed.action, parsed.package)
        try:
            outcome = self._invocations.invoke(owner, path, payload, blocking=True, transaction_id=transaction_id,
                                               resolved=resolved)
        except Invalid as e:
            return error_response(400, e.message, transaction_id, cors)
        except (Forbidden, Conflict):
            raise NotFound() from None
        activation_header = (ACTIVATION_HEADER, outcome.activation_id)
        if outcome.activation is None:
            return error_response(202, NOT_READY, transaction_id, [*cors, activation_header])
        found = answer(parsed.extension, outcome.activation.status, outcome.activation.result, transaction_id)
        return WebResponse(found.status, _merged(cors, [activation_header, *found.headers]), found.body)

    def _find(self, namespace: str, package: str | None, name: str) -> tuple[Identity, ResolvedAction]:
        """The namespace's owner and the exported action, or ``NotFound`` whatever kept either from being found
        (nothing leaks: a private package, a binding gone wrong, a trigger by that name all look missing)."""
        try:
            check_name(namespace)
            owner = self._identities.by_namespace(namespace)
            resolved = self._resolver.action_for(owner.namespace, EntityPath(namespace, name, package))
        except (Invalid, Forbidden, Conflict):
            raise NotFound() from None
        if annotation(resolved.action.annotations, "web-export") is not True:
            raise NotFound()
        return owner, resolved

    def _caller(self, authorization: tuple[str, str] | None) -> Identity | None:
        """The identity of the request's key; a missing or invalid key is an anonymous caller, as in OpenWhisk
        (whose authenticated web route falls through to the anonymous one)."""
        if authorization is None:
            return None
        try:
            return self._identities.authenticate(*authorization)
        except Unauthorized:
            return None


def _merged(cors: list[tuple[str, str]], headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The CORS headers under the action's own: a header the action sets replaces the default of that name."""
    named = {name.lower() for name, _ in headers}
    return [*(h for h in cors if h[0].lower() not in named), *headers]
