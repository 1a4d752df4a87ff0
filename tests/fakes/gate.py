"""A TCP gate in front of a fake shop that lets it go away mid-conversation, as a real host can.

The gate forwards each connection to the fake. As soon as `goes_away()` is true (checked when
the fake starts an answer, so after the fake has recorded the request), the shop is gone before
the client has read that answer: `mode="refused"` stops listening (new connections are refused)
and closes the open connections once the answer is through; `mode="silent"` keeps every
connection open and never forwards another byte. `unanswered` counts the connections that
carried a request to the silent shop: the tries that waited for an answer that never came.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType

#: After the shop went away, an answer under way is through when the fake is quiet this long.
QUIET_SECONDS = 0.3


class Gate:
    """Forward 127.0.0.1:<port> to `backend_port` until the shop goes away."""

    def __init__(self, backend_port: int, goes_away: Callable[[], bool], mode: str) -> None:
        assert mode in ("refused", "silent"), mode
        self.backend_port = backend_port
        self.goes_away = goes_away
        self.mode = mode
        self.gone = threading.Event()
        self.unanswered = 0
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Gate:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._go()
        self._stop_listening()
        for connection in self._held:
            connection.close()

    def _go(self) -> None:
        self.gone.set()
        if self.mode == "refused":
            self._stop_listening()

    def _stop_listening(self) -> None:
        # shutdown wakes the accept() under way; close alone leaves the port listening
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:  # the port closed: the shop is gone (or the test ended)
                return
            target = self._listen_silently if self.gone.is_set() else self._forward
            threading.Thread(target=target, args=(client,), daemon=True).start()

    def _listen_silently(self, client: socket.socket) -> None:
        """Read what the client sends and never answer."""
        with self._lock:
            self._held.append(client)
        counted = False
        while _receive(client):
            if not counted:
                counted = True
                with self._lock:
                    self.unanswered += 1

    def _forward(self, client: socket.socket) -> None:
        backend = socket.create_connection(("127.0.0.1", self.backend_port))
        upstream = threading.Thread(target=self._upstream, args=(client, backend), daemon=True)
        upstream.start()
        while True:
            try:
                chunk = backend.recv(65536)
            except OSError:  # quiet after the shop went away: the answer is through
                break
            if not chunk:
                break
            if not self.gone.is_set() and self.goes_away():
                self._go()
            if self.gone.is_set():
                backend.settimeout(QUIET_SECONDS)
            with contextlib.suppress(OSError):
                client.sendall(chunk)
        backend.close()
        if self.mode == "silent" and self.gone.is_set():
            with self._lock:  # the connection stays open, closed with the gate
                self._held.append(client)
            return  # _upstream counts what the client asks on it
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)
        client.close()

    def _upstream(self, client: socket.socket, backend: socket.socket) -> None:
        """Copy the client's requests to the fake; once the shop is gone, to nobody."""
        counted = False
        while chunk := _receive(client):
            if not self.gone.is_set():
                with contextlib.suppress(OSError):
                    backend.sendall(chunk)
                continue
            if self.mode == "silent" and not counted:
                counted = True
                with self._lock:
                    self.unanswered += 1
        with contextlib.suppress(OSError):
            backend.shutdown(socket.SHUT_WR)


def _receive(connection: socket.socket) -> bytes:
    try:
        return connection.recv(65536)
    except OSError:
        return b""
