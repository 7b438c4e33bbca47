"""The inside end of a process container's way to the API host (``PROXY_API_RELAY``).

The container has a loopback interface only; the action calls ``__OW_API_HOST`` = ``http://127.0.0.1:<port>``,
and each connection there is copied to the invoker's Unix socket, which leads to the API host.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading

CHUNK = 64 * 1024


def start_api_relay(unix_path: str, port: int) -> None:
    """Listen on 127.0.0.1:``port`` in a daemon thread; a failure is reported on stderr, not fatal."""
    try:
        listener = socket.create_server(("127.0.0.1", port))
    except OSError as e:
        print(f"actionproxy: no relay to the API host on 127.0.0.1:{port}: {e}", file=sys.stderr)
        return
    threading.Thread(target=_accept, args=(listener, unix_path), name="api-relay", daemon=True).start()


def _accept(listener: socket.socket, unix_path: str) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_bridge, args=(client, unix_path), daemon=True).start()


def _bridge(client: socket.socket, unix_path: str) -> None:
    with client, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
        try:
            upstream.connect(unix_path)
        except OSError as e:
            print(f"actionproxy: the relay to the API host is unavailable: {e}", file=sys.stderr)
            return
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
