"""Web actions without a web framework: what a request to ``/api/v1/web/{namespace}/{target}`` names, the input
it gives the action, and how the action's result becomes the HTTP answer (OpenWhisk's ``WebActions.scala``).

* ``parse_target``: ``<package|default>/<action>[.ext][/extra/path]`` → ``WebTarget``; an unknown extension
  is part of the action's name and the answer is ``.http`` (so ``a.xml`` is the action ``a.xml``).
* ``request_body`` and ``action_input``: the ``__ow_*`` fields, then the query, then the body by media type
  (JSON object merged, other JSON under ``__ow_body``, form fields merged, text as it is, binary in base64);
  with ``raw-http`` nothing is merged: ``__ow_query`` and ``__ow_body`` carry the request as it came.
* ``answer``: an activation's outcome and result → ``WebResponse``, by extension (``.json``, ``.html``,
  ``.svg``, ``.text``, ``.http``), with OpenWhisk's error texts.

Everything here is pure: the service (``app.core.services.web``) looks things up and invokes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.core import strict_json
from app.core.entities import Status, annotation, is_binary_code
from app.core.errors import Invalid, NotFound
from app.core.names import check_name

__all__ = [
    "CORS_METHODS",
    "DEFAULT_ALLOW_HEADERS",
    "ERROR_PROCESSING",
    "EXTENSIONS",
    "NOT_AUTHENTICATED",
    "NOT_READY",
    "PARAMETERS_NOT_ALLOWED",
    "PROPERTY_NOT_FOUND",
    "RESERVED",
    "WebRequest",
    "WebResponse",
    "WebTarget",
    "action_input",
    "answer",
    "cors_headers",
    "error_response",
    "extra_path",
    "immutable_parameters",
    "is_authorized",
    "parse_target",
    "request_body",
]

# OpenWhisk's texts (``Messages`` in ErrorResponse.scala), which clients and tests match on.
PARAMETERS_NOT_ALLOWED = "Request defines parameters that are not allowed (e.g., reserved properties)."
PROPERTY_NOT_FOUND = "Response does not include requested property."
NOT_READY = "Response not yet ready."
ERROR_PROCESSING = "There was an error processing your request."
UNKNOWN_CONTENT_TYPE = "Response did not specify a known content-type."
CONTENT_TYPE_MISMATCH = "Response type in header did not match generated content type."
NOT_AUTHENTICATED = "The resource requires authentication, which was not supplied with the request"
MALFORMED = "The request content was malformed:\n{detail}"


def invalid_media(media_type: str) -> str:
    return f"Response is not valid '{media_type}'."


# The fields a request adds to an action's input; a caller may not send them (nor ``final`` parameters).
METHOD, HEADERS, PATH, USER, QUERY, BODY = (f"__ow_{name}" for name in
                                            ("method", "headers", "path", "user", "query", "body"))
RESERVED = frozenset({METHOD, HEADERS, PATH, USER, QUERY, BODY})

HTTP, JSON, HTML, SVG, TEXT = ".http", ".json", ".html", ".svg", ".text"
EXTENSIONS = (HTTP, JSON, HTML, SVG, TEXT)  # looked for in this order, as OpenWhisk does
CORS_METHODS = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
DEFAULT_ALLOW_HEADERS = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"
REQUIRE_AUTH_HEADER = "x-require-whisk-auth"

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class WebRequest:
    """One HTTP request to a web action, as the web layer received it."""

    method: str  # upper case: GET, POST, ...
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    path: str = ""  # what follows the action's segment ("/a/b"), "" if nothing
    query: str = ""  # the raw query string, without '?'
    body: bytes = b""


@dataclass(frozen=True)
class WebResponse:
    status: int
    headers: Headers = field(default_factory=list)  # in order; a name may repeat
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)


@dataclass(frozen=True)
class WebTarget:
    package: str | None  # None for "default"
    action: str
    extension: str  # one of EXTENSIONS
    path: str  # the extra path, "" or "/..."


def parse_target(target: str) -> WebTarget:
    """``<package|default>/<action>[.ext][/extra/path]``. Raises ``NotFound`` (OpenWhisk's route does not
    match) when a segment is missing or is not a legal name."""
    parts = target.split("/")
    if len(parts) < 2:
        raise NotFound()
    package, segment = parts[0], parts[1]
    extra = extra_path(target)
    name, extension = segment, HTTP
    for ext in EXTENSIONS:
        if segment.endswith(ext):
            name, extension = segment[: -len(ext)], ext
            break
    try:
        check_name(package)
        check_name(segment)  # OpenWhisk matches the whole segment as a name first
        check_name(name)
    except Invalid:
        raise NotFound() from None
    return WebTarget(None if package == "default" else package, name, extension, extra)


def extra_path(target: str) -> str:
    """What follows the action's segment in ``target`` (``"/a/b"``), "" when nothing does."""
    parts = target.split("/", 2)
    return "/" + parts[2] if len(parts) > 2 else ""


# --- who may call ---------------------------------------------------------------------------------------------


def is_authorized(annotations: list[dict[str, Any]], headers: dict[str, str], authenticated: bool) -> bool:
    """``require-whisk-auth``: absent or false → anyone; true → a valid key of any namespace; a string or a
    number → the ``X-Require-Whisk-Auth`` header must equal it; any other value → nobody."""
    required = annotation(annotations, "require-whisk-auth")
    if required is None or required is False:
        return True
    if required is True:
        return authenticated
    if isinstance(required, str):
        return headers.get(REQUIRE_AUTH_HEADER) == required
    if isinstance(required, (int, float)):
        return headers.get(REQUIRE_AUTH_HEADER) == _number_text(required)
    return False


def cors_headers(request: WebRequest) -> Headers:
    """The CORS headers of a web action that does not answer OPTIONS itself."""
    return [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", CORS_METHODS),
            ("Access-Control-Allow-Headers",
             request.headers.get("access-control-request-headers", DEFAULT_ALLOW_HEADERS))]


def immutable_parameters(annotations: list[dict[str, Any]], parameters: dict[str, Any]) -> frozenset[str]:
    """With ``final: true``, the parameters that have a value (not null): a request may not set them."""
    if annotation(annotations, "final") is not True:
        return frozenset()
    return frozenset(k for k, v in parameters.items() if v is not None)


# --- the action's input ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Media:
    type: str  # "text/plain", lower case, no parameters

    @property
    def json_family(self) -> bool:
        return self.type == "application/json" or self.type.endswith("+json")

    @property
    def binary(self) -> bool:
        """As akka-http types it: text, JSON, XML, JavaScript and forms are text; the rest is bytes."""
        main, _, sub = self.type.partition("/")
        if main == "text":
            return False
        return not (main == "application" and (sub in _TEXT_APPLICATION or sub.endswith("+xml")))


_TEXT_APPLICATION = frozenset({"json", "javascript", "x-javascript", "ecmascript", "xml", "x-www-form-urlencoded",
                               "vnd.api+json"})
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf"\A\s*({_TCHARS})/({_TCHARS})\s*(;.*)?\Z", re.DOTALL)


def _media(value: str | None) -> _Media | None:
    """The media type of a Content-Type value, or None when it is not one."""
    if value is None:
        return None
    found = _MEDIA_TYPE.match(value)
    return _Media(f"{found.group(1)}/{found.group(2)}".lower()) if found else None


def request_body(request: WebRequest, raw: bool) -> tuple[bool, Any]:
    """``(present, value)``: the body as the action gets it. Raises ``Invalid`` for a JSON body that is not JSON.

    Not raw: a JSON-family body parsed (an empty one is none), a form's fields, binary media in base64, text as
    it is. Raw: JSON and binary media in base64, text as it is, an empty body is ``""``."""
    data = request.body
    if not data:
        return (True, "") if raw else (False, None)
    # A body without a Content-Type is bytes (application/octet-stream), as akka-http takes it.
    media = _media(request.headers.get("content-type")) or _Media("application/octet-stream")
    if not raw and media.json_family:
        if not data.strip():
            return False, None
        try:
            return True, strict_json.loads(data)
        except ValueError as e:
            raise Invalid(MALFORMED.format(detail=e)) from e
    if not raw and media.type == "application/x-www-form-urlencoded":
        text = data.decode("utf-8", "replace")
        return True, dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
    if media.binary or media.type == "application/json":
        return True, base64.b64encode(data).decode("ascii")
    return True, data.decode("utf-8", "replace")


def query_parameters(query: str) -> dict[str, str]:
    """The query's fields (the last of a repeated one wins)."""
    return dict(urllib.parse.parse_qsl(query, keep_blank_values=True))


def overrides(request: WebRequest, body: Any, forbidden: frozenset[str],
              extra: dict[str, Any] | None = None) -> bool:
    """Whether the query, the body's fields or ``extra`` name a field in ``forbidden``."""
    names = set(query_parameters(request.query)) | set(extra or {})
    if isinstance(body, dict):
        names |= body.keys()
    return bool(names & forbidden)


def action_input(request: WebRequest, *, raw: bool, body: tuple[bool, Any], user: str | None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The action's input: ``extra`` (a gateway's path parameters), the request's ``__ow_*`` fields, then the
    query, then the body (each over the one before)."""
    content: dict[str, Any] = dict(extra or {})
    content[METHOD] = request.method.lower()
    content[HEADERS] = dict(request.headers)
    content[PATH] = request.path
    if user is not None:
        content[USER] = user
    present, value = body
    if raw:
        content[QUERY] = request.query
        content[BODY] = value if present else ""
        return content
    content.update(query_parameters(request.query))
    if present:
        if isinstance(value, dict):
            content.update(value)
        else:
            content[BODY] = value
    return content


# --- the answer -----------------------------------------------------------------------------------------------


def error_response(status: int, message: str, transaction_id: str, headers: Headers | None = None) -> WebResponse:
    """An error in the API's envelope: ``{"error": message, "code": transaction id}``."""
    body = json.dumps({"error": message, "code": transaction_id}, separators=(",", ":")).encode()
    return WebResponse(status, [*(headers or []), ("Content-Type", "application/json")], body)


class _Rejected(Exception):
    """A result that cannot be answered as asked: the answer is an error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def answer(extension: str, status: Status, result: Any, transaction_id: str) -> WebResponse:
    """The answer to a finished activation: a success's result, or an application error's ``error`` field,
    transcoded by ``extension``; a developer or platform error is a 400."""
    if status is Status.SUCCESS:
        value = result
    elif status is Status.APPLICATION_ERROR:
        if not isinstance(result, dict) or "error" not in result:
            return error_response(404, PROPERTY_NOT_FOUND, transaction_id)
        value = result["error"]
    else:
        return error_response(400, ERROR_PROCESSING, transaction_id)
    try:
        return _TRANSCODERS[extension](value)
    except _Rejected as e:
        return error_response(e.status, e.message, transaction_id)


def _pretty(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode()


def _as_json(value: Any) -> WebResponse:
    if not isinstance(value, (dict, list)):
        raise _Rejected(400, invalid_media("application/json"))
    return WebResponse(200, [("Content-Type", "application/json")], _pretty(value))


def _field(value: Any, name: str) -> Any:
    """``body``, else ``name``, of an object (null when neither); any other value is itself."""
    if isinstance(value, dict):
        return value.get("body", value.get(name))
    return value


def _as_html(value: Any) -> WebResponse:
    html = _field(value, "html")
    if not isinstance(html, str):
        raise _Rejected(400, invalid_media("text/html"))
    return WebResponse(200, [("Content-Type", "text/html; charset=UTF-8")], html.encode())


def _as_svg(value: Any) -> WebResponse:
    svg = _field(value, "svg")
    if not isinstance(svg, str):
        raise _Rejected(400, invalid_media("image/svg+xml"))
    return WebResponse(200, [("Content-Type", "image/svg+xml")], svg.encode())


def _as_text(value: Any) -> WebResponse:
    if isinstance(value, dict):
        if "body" in value:
            value = value["body"]
        elif "text" in value:
            value = value["text"]
        else:
            raise _Rejected(404, PROPERTY_NOT_FOUND)
    if isinstance(value, (dict, list)):
        text = _pretty(value).decode()
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value)  # true, 12, 1.5, null
    return WebResponse(200, [("Content-Type", "text/plain; charset=UTF-8")], text.encode())


# --- .http ----------------------------------------------------------------------------------------------------

_NOT_HTTP = invalid_media("message/http")
_HEADER_NAME = re.compile(rf"\A{_TCHARS}\Z")
# Set by the server from the body it sends; an action's own would contradict it.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})


def _header_values(name: str, value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, str):
        return [value]
    if isinstance(value, (int, float)):
        return [_number_text(value)]
    if isinstance(value, list):
        return [v for item in value for v in _header_values(name, item)]
    raise _Rejected(400, _NOT_HTTP)


def _number_text(value: float) -> str:
    return str(value)


def _http_headers(value: Any) -> Headers:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise _Rejected(400, _NOT_HTTP)
    headers: Headers = []
    for name, raw in value.items():
        for text in _header_values(name, raw):
            # Checked here and not by OpenWhisk: a header that cannot be sent (a line break, a non-Latin-1
            # character) is the action's mistake, never a broken answer.
            if not _HEADER_NAME.match(name) or not _sendable(text):
                raise _Rejected(400, _NOT_HTTP)
            if name.lower() not in _FRAMING:
                headers.append((name, text))
    return headers


def _sendable(text: str) -> bool:
    if any(c in text for c in "\r\n\0"):
        return False
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _status_code(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Rejected(400, _NOT_HTTP)
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if not (whole or (isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]{1,9}", value))):
        raise _Rejected(400, _NOT_HTTP)
    code = int(value)
    if not 100 <= code <= 599:
        raise _Rejected(400, _NOT_HTTP)
    return code


def _content_type(headers: Headers) -> str | None:
    return next((v for k, v in headers if k.lower() == "content-type"), None)


def _without_content_type(headers: Headers) -> Headers:
    return [(k, v) for k, v in headers if k.lower() != "content-type"]


def _decode_base64(text: str) -> bytes:
    """Base64 as Java's decoder reads it (padding optional); raises ``_Rejected`` when it is not base64."""
    stripped = text.strip()
    if len(stripped) % 4:
        stripped += "=" * (-len(stripped) % 4)
    try:
        return base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        raise _Rejected(400, CONTENT_TYPE_MISMATCH) from None


def _as_http(value: Any) -> WebResponse:
    if not isinstance(value, dict):
        raise _Rejected(400, _NOT_HTTP)
    headers = _http_headers(value.get("headers"))
    code = _status_code(value.get("statusCode"))
    body = value.get("body")
    if body is None or body == "":
        return WebResponse(204 if code is None else code, _without_content_type(headers))
    code = 200 if code is None else code
    declared = _content_type(headers)
    rest = _without_content_type(headers)
    if isinstance(body, str):
        media = _media(declared) if declared is not None else _Media("text/html")
        if media is None:
            raise _Rejected(400, UNKNOWN_CONTENT_TYPE)
        if media.binary or (media.json_family and is_binary_code(body)):
            return WebResponse(code, [*rest, ("Content-Type", media.type)], _decode_base64(body))
        charset = "" if media.json_family else "; charset=UTF-8"
        return WebResponse(code, [*rest, ("Content-Type", media.type + charset)], body.encode())
    media = _media(declared) if declared is not None else _Media("application/json")
    if media is None or not media.json_family:
        raise _Rejected(400, CONTENT_TYPE_MISMATCH)
    content_type = media.type if media.type == "application/json" else f"{media.type}; charset=UTF-8"
    return WebResponse(code, [*rest, ("Content-Type", content_type)], _pretty(body))


_TRANSCODERS: dict[str, Callable[[Any], WebResponse]] = {
    HTTP: _as_http, JSON: _as_json, HTML: _as_html, SVG: _as_svg, TEXT: _as_text,
}
