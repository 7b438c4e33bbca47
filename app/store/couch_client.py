"""A thin client for the CouchDB HTTP API over one long-lived urllib3 connection pool.

Why urllib3 and not httpx (which the rest of Squall uses for HTTP): the invoker sends a ``_bulk_docs`` for
nearly every activation, and httpx spent 1.1 ms of CPU per request against urllib3's 0.47 ms (2,000 small
``_bulk_docs`` to pouchdb-server, ``time.process_time``): a sixth of an invoker's CPU under load.

It speaks only what CouchDB 3 and pouchdb-server both answer the same way
(both were tested; docs/dependencies.md): it always sends ``Accept: application/json`` (pouchdb-server answers
``text/plain`` otherwise), reads revisions from JSON bodies and never from the ``ETag`` (pouchdb-server's is
Express's weak hash), and never DELETEs without a rev (pouchdb-server deletes the document, CouchDB 3
answers 409).

Errors, translated once here:

* 404 → ``NotFound``; 409 and 412 → ``Conflict``;
* a server that cannot be reached (connection refused or reset, a timeout, a broken answer) or that answers
  5xx → ``StoreUnavailable`` (a ``StoreError`` and an ``Unavailable``: the caller may try again shortly);
* any other failed status, a body that is not JSON, or a URL the client cannot use → ``StoreError``
  (chained with ``raise ... from e`` where there is a foreign exception).

While the server cannot be reached, the client's ``Outage`` (``app.core.outage``) logs it once, then counts, and
lets one request a second try it while the others fail at once: a server that hangs costs one timeout a second,
not one per request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

import httpx
import urllib3
from urllib3.exceptions import HostChangedError, LocationValueError
from urllib3.exceptions import HTTPError as Urllib3Error

from app.core.errors import Conflict, NotFound, StoreError, StoreUnavailable
from app.core.outage import Outage

log = logging.getLogger(__name__)

Document = dict[str, Any]

# View parameters whose values are JSON (the others are plain words and numbers).
_JSON_PARAMS = frozenset({"key", "keys", "startkey", "endkey", "start_key", "end_key"})


def _split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``http://user:pass@host:5984/`` → (``http://host:5984``, (user, pass)), user info percent-decoded."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url.rstrip("/"), None
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)).rstrip("/")
    return bare, (unquote(parts.username or ""), unquote(parts.password or ""))


def _quote_id(doc_id: str) -> str:
    """A document id as one path segment; ``_design/x`` keeps its slash (CouchDB redirects ``%2F`` there)."""
    if doc_id.startswith("_design/"):
        return "_design/" + quote(doc_id[len("_design/"):], safe="")
    return quote(doc_id, safe="")


def _encode_params(params: Mapping[str, Any]) -> dict[str, str]:
    encoded: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if name in _JSON_PARAMS:
            encoded[name] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            encoded[name] = "true" if value else "false"
        else:
            encoded[name] = str(value)
    return encoded


ATTACHMENT_S_PER_MB = 1.0
"""An attachment upload may take this much longer than the timeout per MB it carries: pouchdb-server digests a
40 MB attachment in about 12 s on two busy cores (CouchDB in well under one)."""

POOL_CONNECTIONS = 128
"""Connections kept per server: more than any process's threads (64 per controller worker), so none is discarded."""


@dataclass(frozen=True)
class _Answer:
    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class CouchClient:
    """One server: a base URL (credentials may be in it), a timeout, and one connection pool.

    ``transport`` replaces the network for tests (``httpx.MockTransport``: the requests then go through an httpx
    client on it), ``outage`` the log of its outages (with a clock of the test's).
    """

    def __init__(self, url: str, timeout_s: float, transport: httpx.BaseTransport | None = None,
                 outage: Outage | None = None) -> None:
        base, auth = _split_credentials(url)
        self.url = base  # without credentials: safe to show in messages
        self.outage = outage or Outage(f"CouchDB at {base}", log)
        self._headers = {"Accept": "application/json"}
        if auth is not None:
            self._headers.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        self._timeout_s = timeout_s
        self._prefix = urlsplit(base).path.rstrip("/")
        self._pool: urllib3.HTTPConnectionPool | None = None
        self._mock: httpx.Client | None = None
        if transport is not None:
            self._mock = httpx.Client(base_url=base, timeout=httpx.Timeout(timeout_s), headers=self._headers,
                                      transport=transport)
            return
        self._bad_url = ""
        if urlsplit(base).scheme not in ("http", "https"):
            self._bad_url = f"unsupported scheme in {base!r}"
            return
        try:
            self._pool = urllib3.connection_from_url(
                base, maxsize=POOL_CONNECTIONS, block=False, retries=False,
                timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s))
        except (LocationValueError, Urllib3Error, ValueError) as e:  # a URL it cannot use: said at first request
            self._bad_url = repr(e)

    def database(self, name: str) -> Database:
        return Database(self, name)

    def server_info(self) -> Document:
        """``GET /``: the welcome document (``{"couchdb": "Welcome", "version": ...}`` or pouchdb's)."""
        info: Document = self.request("GET", "/")
        return info

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None) -> Any:
        """Send one request; returns its JSON body when the status is 2xx, else raises (see module doc)."""
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        return self._json(self._checked(method, path, params, content, {"Content-Type": "application/json"}))

    def request_bytes(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      data: bytes | None = None, content_type: str = "application/octet-stream") -> bytes:
        """Send raw bytes (an attachment's), or none; returns the raw body of a 2xx answer, else raises as
        ``request`` does. Bytes travel as they are: no base64 inside a JSON document, so no JSON size limit."""
        timeout_s = self._timeout_s + ATTACHMENT_S_PER_MB * len(data or b"") / 1_048_576
        answer = self._checked(method, path, params, data, {"Content-Type": content_type, "Accept": "*/*"},
                               timeout_s)
        return answer.body

    def _checked(self, method: str, path: str, params: Mapping[str, Any] | None, content: bytes | None,
                 headers: dict[str, str], timeout_s: float | None = None) -> _Answer:
        if self.outage.skip():
            raise StoreUnavailable(f"CouchDB at {self.url} cannot be reached (tried again within a second)")
        if content is None:
            headers = {k: v for k, v in headers.items() if k != "Content-Type"}
        answer = self._send(method, path, _encode_params(params or {}), content, headers, timeout_s)
        if answer.status >= 500:
            error, reason = self._error_of(answer)
            raise self._unreachable(f"{method} {path} answered {answer.status}: {error}: {reason}")
        self.outage.succeeded()
        if 200 <= answer.status < 300:
            return answer
        error, reason = self._error_of(answer)
        if answer.status == 404:
            raise NotFound()
        if answer.status in (409, 412):
            raise Conflict()
        raise StoreError(f"CouchDB at {self.url} answered {answer.status} to {method} {path}: "
                         f"{error}: {reason}")

    def _send(self, method: str, path: str, params: dict[str, str], content: bytes | None,
              headers: dict[str, str], timeout_s: float | None = None) -> _Answer:
        if self._mock is not None:
            return self._send_mock(method, path, params, content, headers)
        if self._pool is None:
            raise StoreError(f"CouchDB at {self.url} cannot be used: {self._bad_url}")
        query = f"?{urlencode(params, quote_via=quote)}" if params else ""
        try:
            response = self._pool.request(method, f"{self._prefix}{path}{query}", body=content,
                                          headers={**self._headers, **headers}, redirect=False,
                                          timeout=urllib3.Timeout(connect=self._timeout_s,
                                                                  read=timeout_s or self._timeout_s))
        except (LocationValueError, HostChangedError) as e:  # a configuration error, not an outage
            raise StoreError(f"CouchDB at {self.url} failed on {method} {path}: {e!r}") from e
        except (Urllib3Error, OSError) as e:  # refused, reset, timed out, a broken answer: away for now
            raise self._unreachable(f"{method} {path}: {e!r}") from e
        return _Answer(response.status, response.headers.get("content-type", ""), response.data)

    def _send_mock(self, method: str, path: str, params: dict[str, str], content: bytes | None,
                   headers: dict[str, str]) -> _Answer:
        assert self._mock is not None
        try:
            response = self._mock.request(method, path, params=params, content=content, headers=headers or None)
        except httpx.UnsupportedProtocol as e:  # a configuration error, not an outage
            raise StoreError(f"CouchDB at {self.url} failed on {method} {path}: {e!r}") from e
        except httpx.TransportError as e:
            raise self._unreachable(f"{method} {path}: {e!r}") from e
        except httpx.HTTPError as e:
            raise StoreError(f"CouchDB at {self.url} failed on {method} {path}: {e!r}") from e
        return _Answer(response.status_code, response.headers.get("content-type", ""), response.content)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._mock is not None:
            self._mock.close()

    def _unreachable(self, cause: str) -> StoreUnavailable:
        self.outage.failed(cause)
        return StoreUnavailable(f"CouchDB at {self.url} cannot be reached: {cause}")

    def _json(self, answer: _Answer) -> Any:
        try:
            return answer.json()
        except ValueError as e:
            raise StoreError(f"CouchDB at {self.url} sent a body that is not JSON "
                             f"({answer.content_type}): {answer.text[:200]!r}") from e

    @staticmethod
    def _error_of(answer: _Answer) -> tuple[str, str]:
        try:
            body = answer.json()
        except ValueError:
            return "error", answer.text[:200]
        if isinstance(body, dict):
            return str(body.get("error", "error")), str(body.get("reason", ""))
        return "error", str(body)[:200]


class Database:
    """One database of a ``CouchClient``. Methods return JSON bodies and raise as the module doc says."""

    def __init__(self, client: CouchClient, name: str) -> None:
        self.client = client
        self.name = name
        self._path = "/" + quote(name, safe="")

    def create(self) -> bool:
        """Create the database; False if it existed already (412)."""
        try:
            self.client.request("PUT", self._path)
        except Conflict:
            return False
        return True

    def drop(self) -> bool:
        """Delete the database; False if there was none."""
        try:
            self.client.request("DELETE", self._path)
        except NotFound:
            return False
        return True

    def get(self, doc_id: str, **params: Any) -> Document:
        body: Document = self._call("GET", _quote_id(doc_id), params=params)
        return body

    def put(self, doc: Mapping[str, Any]) -> str:
        """Create (no ``_rev``) or update (matching ``_rev``); returns the new rev. Raises ``Conflict``."""
        doc_id = doc.get("_id")
        if not isinstance(doc_id, str) or not doc_id:
            raise StoreError("a document needs a non-empty string _id to be stored")
        body = self._call("PUT", _quote_id(doc_id), body=dict(doc))
        return str(body["rev"])

    def delete(self, doc_id: str, rev: str) -> str:
        """Delete revision ``rev``; returns the tombstone's rev.

        Raises ``NotFound`` when there is no such document (now), ``Conflict`` when it has another rev.
        Servers disagree on the status for these (CouchDB 3 answers 409 for an unknown rev and for a rev of a
        deleted document, pouchdb-server 404 for a rev it has never seen), so a failure is settled by reading
        the document.
        """
        try:
            body = self._call("DELETE", _quote_id(doc_id), params={"rev": rev})
        except (NotFound, Conflict):
            self.get(doc_id)  # raises NotFound when the document is missing or deleted
            raise Conflict() from None
        return str(body["rev"])

    def all_docs(self, **params: Any) -> Document:
        body: Document = self._call("GET", "_all_docs", params=params)
        return body

    def view(self, design: str, view: str, **params: Any) -> Document:
        """Query ``_design/<design>/_view/<view>``; key parameters are JSON-encoded here."""
        body: Document = self._call("GET", f"_design/{quote(design, safe='')}/_view/{quote(view, safe='')}",
                                    params=params)
        return body

    def find(self, selector: Mapping[str, Any], **options: Any) -> list[Document]:
        """Mango ``_find``; returns the docs (no bookmark: pouchdb-server sends none)."""
        body = self._call("POST", "_find", body={"selector": dict(selector), **options})
        docs: list[Document] = body.get("docs", [])
        return docs

    def bulk(self, docs: Iterable[Mapping[str, Any]]) -> list[Document]:
        """``_bulk_docs``: one result per doc, ``{"id", "rev"}`` or ``{"id", "error", "reason"}``; a single
        document's conflict is reported there, not raised."""
        results: list[Document] = self._call("POST", "_bulk_docs", body={"docs": [dict(d) for d in docs]})
        return results

    def put_attachment(self, doc_id: str, name: str, rev: str | None, data: bytes, content_type: str) -> str:
        """Attach ``data`` to revision ``rev`` of the document (None: create a document holding only it); returns
        the new rev. Raises ``Conflict`` (a stale rev, or a document that exists when ``rev`` is None)."""
        params = {"rev": rev} if rev else None
        answer = self.client.request_bytes("PUT", f"{self._path}/{_quote_id(doc_id)}/{quote(name, safe='')}",
                                           params=params, data=data, content_type=content_type)
        try:
            return str(json.loads(answer)["rev"])
        except (ValueError, KeyError, TypeError) as e:
            raise StoreError(f"CouchDB at {self.client.url} answered an attachment PUT with {answer[:200]!r}") from e

    def get_attachment(self, doc_id: str, name: str, rev: str) -> bytes:
        """The bytes of attachment ``name`` of revision ``rev``. Raises ``NotFound``."""
        return self.client.request_bytes("GET", f"{self._path}/{_quote_id(doc_id)}/{quote(name, safe='')}",
                                         params={"rev": rev})

    def _call(self, method: str, sub: str, *, params: Mapping[str, Any] | None = None,
              body: Any = None) -> Any:
        return self.client.request(method, f"{self._path}/{sub}", params=params, body=body)
