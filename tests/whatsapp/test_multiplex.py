"""The transport under every Graph API call: at most once, whatever the connection does."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from plugin.whatsapp.channel import TRANSPORT, Request, SendError, Steps
from plugin.whatsapp.multiplex import Multiplexer

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class DroppingServer:
    """Answers the first request of each connection, then takes the second and closes the
    connection without an answer, as a server going away mid-call would."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.requests: list[bytes] = []
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            for number in (1, 2):
                data = connection.recv(65536)
                if not data:
                    return
                self.requests.append(data.split(b"\r\n", 1)[0])
                if number == 1:
                    connection.sendall(ANSWER)


@pytest.fixture
def multiplexer() -> Iterator[Multiplexer]:
    multiplexer = Multiplexer(4)
    yield multiplexer
    multiplexer.close()


def post(url: str) -> Request:
    return Request("POST", f"{url}/v23.0/1/messages", ("Content-Type: application/json",), b"{}", 2)


def test_a_call_whose_kept_connection_closes_unanswered_is_never_sent_again(
    multiplexer: Multiplexer,
) -> None:
    # given a connection kept alive after a first answered call
    server = DroppingServer()
    assert multiplexer.call(post(server.url)).status == 200
    # when the server takes the second call on it and closes without an answer
    with pytest.raises(SendError) as raised:
        multiplexer.call(post(server.url))
    # then the call may have been sent, and it went out once: libcurl did not try again
    assert (raised.value.code, raised.value.maybe_sent) == (TRANSPORT, True)
    assert server.requests == [b"POST /v23.0/1/messages HTTP/1.1"] * 2
    server.listener.close()


def test_a_refused_connection_after_a_sent_call_says_nothing_was_sent(
    multiplexer: Multiplexer,
) -> None:
    # given a call that went out (its handle now counts written bytes)
    server = DroppingServer()
    assert multiplexer.call(post(server.url)).status == 200
    # when the next call finds no one listening
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SendError) as raised:
        multiplexer.call(post(f"http://127.0.0.1:{port}"))
    # then nothing reached anyone: safe to send later
    assert (raised.value.code, raised.value.maybe_sent) == (TRANSPORT, False)
    server.listener.close()


def test_a_closed_multiplexer_starts_no_call() -> None:
    multiplexer = Multiplexer(1)
    multiplexer.close()
    with pytest.raises(RuntimeError):
        multiplexer.call(post("http://127.0.0.1:9"))


def test_a_bug_after_an_answer_ends_the_call_as_maybe_sent(multiplexer: Multiplexer) -> None:
    # given steps that fail reading an answer that came (a bug of ours after the call)
    server = DroppingServer()

    def steps() -> Steps:
        yield post(server.url)
        raise ValueError("a bug")

    # then the call ends as one that may have reached Meta, and the thread serves the next
    with pytest.raises(SendError) as raised:
        multiplexer.run(steps())
    assert (raised.value.title, raised.value.maybe_sent) == ("unexpected error", True)
    other = DroppingServer()  # a fresh connection: this server drops each second call
    assert multiplexer.call(post(other.url)).status == 200
    server.listener.close()
    other.listener.close()
