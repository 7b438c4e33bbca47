"""CouchClient's error translation: a server that cannot be reached, times out or answers 5xx is
``StoreUnavailable`` (a 503 to try again), not a bare ``StoreError`` (a 500); what the server did answer keeps its
meaning. The unreachable cases use real sockets on this host: a port nobody listens on, and one that accepts
connections but never answers."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
import urllib3

from app.core.errors import Conflict, NotFound, StoreError, StoreUnavailable, Unavailable
from app.core.outage import Outage
from app.store.couch_client import CouchClient
from app.store.couchdb import CouchStore
from config.settings import CouchDBSettings

pytestmark = pytest.mark.unit


@pytest.fixture
def refused_url() -> str:
    """A loopback URL on which nothing listens (the port was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback URL whose server accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def answering(status: int, body: str) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, text=body))


def test_a_refused_connection_is_store_unavailable(refused_url: str) -> None:
    client = CouchClient(refused_url, timeout_s=2.0)
    with pytest.raises(StoreUnavailable) as caught:
        client.request("GET", "/squall_whisks/ns%2Fa")
    assert isinstance(caught.value, StoreError) and isinstance(caught.value, Unavailable)
    assert caught.value.retry_after_s
    assert refused_url in str(caught.value)  # the cause, for the log ...
    assert refused_url not in caught.value.message  # ... not for the caller
    assert isinstance(caught.value.__cause__, urllib3.exceptions.NewConnectionError)


def test_a_timeout_is_store_unavailable(silent_url: str) -> None:
    client = CouchClient(silent_url, timeout_s=0.2)
    with pytest.raises(StoreUnavailable) as caught:
        client.request("GET", "/")
    assert isinstance(caught.value.__cause__, urllib3.exceptions.TimeoutError)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_answer_is_store_unavailable(status: int) -> None:
    client = CouchClient("http://couch.example:5984", 2.0,
                         transport=answering(status, '{"error": "unknown_error", "reason": "timeout"}'))
    with pytest.raises(StoreUnavailable, match=f"answered {status}: unknown_error: timeout"):
        client.request("GET", "/db/doc")


@pytest.mark.parametrize(("status", "error"), [(400, StoreError), (401, StoreError), (404, NotFound),
                                               (409, Conflict), (412, Conflict)])
def test_what_the_server_answered_keeps_its_meaning(status: int, error: type[Exception]) -> None:
    client = CouchClient("http://couch.example:5984", 2.0, transport=answering(status, '{"error": "x"}'))
    with pytest.raises(error) as caught:
        client.request("GET", "/db/doc")
    assert not isinstance(caught.value, Unavailable)


def test_a_url_the_client_cannot_use_is_a_store_error_not_an_outage() -> None:
    client = CouchClient("http://couch.example:5984", 2.0)
    with pytest.raises(StoreError) as caught:
        client.request("GET", "gopher://couch.example/db")
    assert not isinstance(caught.value, Unavailable)


def test_every_store_read_surfaces_an_outage_as_store_unavailable(refused_url: str) -> None:
    with CouchStore(CouchDBSettings(url=refused_url, prefix="t_", timeout_s=2.0)) as store:
        for read in (lambda: store.identity_by_uuid("u"), lambda: store.get_entity("ns/a"),
                     lambda: store.get_limits("ns"), lambda: store.list_entities("ns", "action", 0, 10),
                     lambda: store.get_activation("ns", "a" * 32), lambda: store.put_activations([{"_id": "x"}])):
            with pytest.raises(StoreUnavailable):
                read()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_logged_once_tried_once_a_second_and_its_end_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    up, hits, clock = True, 0, Clock()

    def server(request: httpx.Request) -> httpx.Response:
        nonlocal hits
        hits += 1
        if not up:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return httpx.Response(200, text="{}")

    caplog.set_level(logging.INFO, logger="app.store")
    outage = Outage("CouchDB at http://couch.example:5984", logging.getLogger("app.store.couch_client"),
                    clock=clock)
    client = CouchClient("http://couch.example:5984", 2.0, transport=httpx.MockTransport(server), outage=outage)
    client.request("GET", "/")
    up, hits = False, 0
    for n in range(500):  # 5 s of requests
        clock.now = n / 100
        with pytest.raises(StoreUnavailable):
            client.request("GET", "/db/doc")
    assert hits == 5  # one a second reached for the server; the others failed at once
    up = True
    clock.now = 4.995
    with pytest.raises(StoreUnavailable):  # within a second of the last try (at 4 s): not yet
        client.request("GET", "/")
    clock.now = 5.0
    client.request("GET", "/")
    found = [r for r in caplog.records if r.name == "app.store.couch_client"]
    assert [r.levelno for r in found] == [logging.WARNING, logging.WARNING]
    assert "CouchDB at http://couch.example:5984 unreachable: GET /db/doc: ConnectError" in found[0].getMessage()
    assert found[1].getMessage() == ("CouchDB at http://couch.example:5984 reachable again after 5.0 s; "
                                     "501 requests failed meanwhile")
    assert all(r.exc_info is None for r in found)


def test_attachments_travel_as_raw_bytes_with_their_type_and_revision() -> None:
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "PUT":
            return httpx.Response(201, json={"ok": True, "id": "ns/a", "rev": "2-b"})
        return httpx.Response(200, content=b"\x00zip\xff", headers={"Content-Type": "application/octet-stream"})

    db = CouchClient("http://couch:5984", timeout_s=2.0, transport=httpx.MockTransport(server)).database("w")
    assert db.put_attachment("ns/a", "code-1", "1-a", b"\x00zip\xff", "application/octet-stream") == "2-b"
    assert db.get_attachment("ns/a", "code-1", "2-b") == b"\x00zip\xff"
    put, get = seen
    assert (put.url.raw_path.split(b"?")[0], put.url.params["rev"], put.content) == \
        (b"/w/ns%2Fa/code-1", "1-a", b"\x00zip\xff")  # the id's slash quoted: one path segment
    assert put.headers["content-type"] == "application/octet-stream" and put.headers["accept"] == "*/*"
    assert (get.url.raw_path.split(b"?")[0], get.url.params["rev"], get.content) == (b"/w/ns%2Fa/code-1", "2-b", b"")


@pytest.mark.parametrize(("status", "error"), [(404, NotFound), (409, Conflict), (500, StoreUnavailable)])
def test_attachment_errors_are_translated_as_for_documents(status: int, error: type[Exception]) -> None:
    db = CouchClient("http://couch:5984", timeout_s=2.0,
                     transport=answering(status, '{"error": "x", "reason": "y"}')).database("w")
    with pytest.raises(error):
        db.get_attachment("ns/a", "code-1", "1-a")
