"""The controller's gunicorn worker: gthread, made to join and leave a shared port cleanly.

A rolling restart binds the new controller to the same port with ``SO_REUSEPORT`` while the old one drains,
and the kernel spreads new connections over every listening socket of that group. gthread as gunicorn ships
it handles neither end the way a restart needs; this worker does:

* **Joining.** The arbiter binds a worker's socket right after forking it, before the worker has loaded the
  application (a second or two); connections the kernel hands that socket meanwhile wait for the load. This
  worker closes that socket at once and listens anew only once the application is loaded, so it receives
  connections only when it can serve them.
* **Leaving.** Told to stop (SIGTERM), gthread stops polling its sockets but closes them only after the
  drain, up to the whole graceful timeout; connections the kernel queues on them meanwhile hang and are then
  reset. This worker, once told to stop, takes in what is already queued, closes its sockets, and has every
  request it is still serving answer with ``Connection: close`` so its client reconnects to a controller
  that carries on.

A connection the kernel queues between a last accept and a close is reset, unless
``net.ipv4.tcp_migrate_req`` lets the kernel move it to another socket of the group; the windows are the
few microseconds between two system calls.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from gunicorn import sock, util
from gunicorn.http.message import Request
from gunicorn.workers.gthread import TConn, ThreadWorker

_Accepted = tuple[socket.socket, Any, Any]  # the connection, the client's address, our address


class ControllerWorker(ThreadWorker):
    """gthread that listens once loaded and steps aside at once on SIGTERM; serving is gthread's own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # gunicorn's own arguments, passed through
        super().__init__(*args, **kwargs)
        self._serving: set[Request] = set()
        self._serving_lock = threading.Lock()  # request threads add and remove; the main thread reads
        self._held: list[_Accepted] = []
        self._left = False

    @property
    def _owns_sockets(self) -> bool:
        # With reuse_port the arbiter holds no socket: each worker's are its own (gunicorn's own condition).
        return bool(self.cfg.reuse_port) and hasattr(socket, "SO_REUSEPORT")

    def init_process(self) -> None:
        self.step_out()
        super().init_process()  # loads the application (load_wsgi), then runs the loop (run)

    def step_out(self) -> None:
        """Close the sockets the arbiter bound for us until the application is loaded (``load_wsgi``)."""
        if not self._owns_sockets:  # the arbiter's own sockets, shared by every worker: not ours to close
            return
        for listener in self.sockets:
            self._held += _queued(listener)  # arrived in the moment since the bind: served once loaded
            listener.close()
        self.sockets = []

    def load_wsgi(self) -> None:
        super().load_wsgi()
        if not self.alive:  # told to stop while loading: nothing to join
            return
        if self._owns_sockets:
            listeners = sock.create_sockets(self.cfg, self.log)
            for listener in listeners:
                util.close_on_exec(listener)
            self.sockets = listeners  # type: ignore[assignment]  # gunicorn's socket wrappers delegate
        # The port is shared during a restart, so a request cannot tell which controller answered: this line
        # is how an operator (or a test) knows the new controller serves before stopping the old one.
        self.log.info("Worker ready (pid: %s): the application is loaded and listening", self.pid)

    def run(self) -> None:
        for connection, client, server in self._held:
            connection.setblocking(True)
            self.nr_conns += 1
            self.enqueue_req(TConn(self.cfg, connection, client, server))
        self._held = []
        super().run()

    def handle_request(self, req: Request, conn: TConn) -> bool:
        # A request that starts after the stop answers with "Connection: close" already (gthread's rule);
        # the ones that started before are tracked so that leave() can give them the same ending.
        with self._serving_lock:
            self._serving.add(req)
        try:
            return super().handle_request(req, conn)
        finally:
            with self._serving_lock:
                self._serving.discard(req)

    def set_accept_enabled(self, enabled: bool | None) -> None:
        super().set_accept_enabled(enabled)
        # gthread disables accepting once, on its main thread, right after its loop saw ``alive`` turn false
        # (SIGTERM, or the parent gone): the point to leave, outside any event dispatch that might still
        # hold a listening socket. Disabling while alive is gthread's back-pressure at worker_connections.
        if not enabled and not self.alive:
            self.leave()

    def leave(self) -> None:
        """Stop listening for good: take in what the kernel already queued on our sockets, then close them.

        Those connections are served (with ``Connection: close``, as every answer from now on) rather than
        reset by the close. Idempotent."""
        if self._left:
            return
        self._left = True
        for listener in self.sockets:
            for connection, client, server in _queued(listener):
                self.nr_conns += 1
                self.enqueue_req(TConn(self.cfg, connection, client, server))
            listener.close()
        with self._serving_lock:
            for req in self._serving:
                # Read when the answer's headers go out, so a request that is still running (a blocking
                # invoke waiting for its result) answers with "Connection: close" and its connection ends.
                req.must_close = True


def _queued(listener: socket.socket) -> list[_Accepted]:
    """The connections the kernel completed on ``listener`` and nobody accepted yet, accepted now."""
    listener.setblocking(False)
    server = listener.getsockname()
    accepted: list[_Accepted] = []
    while True:  # bounded by the listen backlog
        try:
            connection, client = listener.accept()
        except BlockingIOError:
            return accepted
        except ConnectionAbortedError:  # the client gave up while queued
            continue
        connection.setblocking(True)
        accepted.append((connection, client, server))
