"""wsk's ``-v/--verbose``: every HTTP request and response printed on stdout, in wsk's layout, the key masked.

wsk (openwhisk-client-go ``PrintRequestInfo``/``PrintResponseInfo``) prints ``REQUEST:``, ``[METHOD]<tab>URL``,
the headers as JSON and the body cut at 1000 bytes (whole with ``--debug``), then the same for the response.
Unlike wsk, the ``Authorization`` header and the key wherever it appears in a body (a feed action's ``authKey``)
are masked, so that a pasted transcript does not leak the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from app.cli.client import EventHooks

BODY_LIMIT = 1000
MASK = "********"

Echo = Callable[[str], None]


class Printer:
    """The two httpx event hooks; ``full`` (``--debug``) prints bodies whole."""

    def __init__(self, echo: Echo, auth: str, full: bool = False) -> None:
        self._echo = echo
        self._secrets = [s for s in (auth, auth.partition(":")[2]) if len(s) >= 4]
        self._full = full

    def hooks(self) -> EventHooks:
        return {"request": [self.request], "response": [self.response]}

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def _headers(self, headers: httpx.Headers) -> str:
        shown: dict[str, list[str]] = {}
        for name, value in headers.multi_items():
            secret = name.lower() in ("authorization", "proxy-authorization")
            scheme, space, _ = value.partition(" ")
            printed = (f"{scheme} {MASK}" if space else MASK) if secret else self._mask(value)
            shown.setdefault(_title(name), []).append(printed)
        return json.dumps(shown, indent=2)

    def _body(self, data: bytes) -> str:
        text = data.decode("utf-8", errors="replace")
        if not self._full and len(data) > BODY_LIMIT:
            self._echo(f"Body exceeds {BODY_LIMIT} bytes and will be truncated")
            text = data[:BODY_LIMIT].decode("utf-8", errors="replace") + "..."
        return self._mask(text)

    def request(self, request: httpx.Request) -> None:
        self._echo("REQUEST:")
        self._echo(f"[{request.method}]\t{request.url}")
        self._echo("Req Headers")
        self._echo(self._headers(request.headers))
        if request.content:
            self._echo("Req Body")
            self._echo(self._body(request.content))

    def response(self, response: httpx.Response) -> None:
        data = response.read()
        self._echo("RESPONSE:")
        self._echo(f"Got response with code {response.status_code}")
        self._echo("Resp Headers")
        self._echo(self._headers(response.headers))
        self._echo(f"Response body size is {len(data)} bytes")
        self._echo("Response body received:")
        self._echo(self._body(data))


def _title(name: str) -> str:
    """``content-type`` → ``Content-Type``, as Go spells header names."""
    return "-".join(part.capitalize() for part in name.split("-"))
