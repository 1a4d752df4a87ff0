"""Every call to the Graph API goes through a `Multiplexer`: one thread, many calls in flight.

A dispatch worker keeps up to `send_concurrency` sends to Meta in flight. One thread per call
(urllib3 under a thread pool) spent 550 µs of CPU per send under load, most of it parsing
headers in Python and passing the GIL among 64 threads; libcurl's multi interface (pycurl)
writes, reads and multiplexes the calls in C while this one thread starts them and reads the
answers: about 50 µs. A dispatcher owns one sized to its senders; the occasional calls of
template and account syncs, replies and uploads share the process's (`process_multiplexer`).

At most once: libcurl silently sends a request again when a reused keep-alive connection
closes before any answer came, though the server may have taken it (a POST to Meta is a
message). The body is handed over by a read function whose rewind always fails, so such a
second try becomes an error that says the message may have been sent, as urllib3 with
`retries=False` said before.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import selectors
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from http import HTTPStatus
from urllib.parse import urlsplit

import certifi
import pycurl

from plugin.whatsapp.channel import TRANSPORT, Answer, Request, SendError, Steps

log = logging.getLogger(__name__)

#: Failures before the connection carried a byte of the request: nothing reached Meta.
NEVER_SENT = frozenset(
    {
        pycurl.E_COULDNT_RESOLVE_PROXY,
        pycurl.E_COULDNT_RESOLVE_HOST,
        pycurl.E_COULDNT_CONNECT,
        pycurl.E_OPERATION_TIMEDOUT,  # only with nothing sent: a connect that timed out
        pycurl.E_SSL_CONNECT_ERROR,
    }
)
#: Longest wait for a socket when libcurl asks for no timer (it always does while calls run).
IDLE_WAIT = 1.0

Done = Callable[[str | SendError], None]


def ca_bundle() -> str:
    """The certificates Meta's are checked against: the environment's bundle, as curl and
    requests read it, or certifi's."""
    return (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )


def proxy_for(url: str) -> str:
    """The proxy the environment sets for this URL's host ("" for none): HTTPS_PROXY /
    HTTP_PROXY / ALL_PROXY and NO_PROXY, as requests reads them (libcurl alone would ignore
    HTTP_PROXY in capitals)."""
    target = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not proxies or urllib.request.proxy_bypass(target.hostname or ""):
        return ""
    return proxies.get(target.scheme) or proxies.get("all") or ""


def unexpected(error: BaseException) -> SendError:
    """A bug of ours around a call that may have gone out: never resend it."""
    return SendError(0, "unexpected error", maybe_sent=True, details=type(error).__name__)


class _Call:
    """One conversation in flight: its steps, where its end goes, and its current exchange."""

    __slots__ = ("done", "sink", "steps")

    def __init__(self, steps: Steps, done: Done) -> None:
        self.steps = steps
        self.done = done
        self.sink = io.BytesIO()


def _never_rewind(offset: int, origin: int) -> int:
    return pycurl.SEEKFUNC_FAIL


class Multiplexer:
    """Runs `Steps` (a channel's conversation with Meta: requests out, answers in, a message
    id or a `SendError` at the end) with up to `size` connections, from one thread.

    Thread-safe; the thread starts with the first call. Made in the process that calls (a
    fork makes its own: `process_multiplexer`, `plugin.engine.dispatch.worker_dispatcher`).
    """

    def __init__(self, size: int, name: str = "shopnudge-http") -> None:
        self.size = size
        self.name = name
        self._queue: deque[tuple[_Call, Request]] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._piped = True
        self._proxies: dict[str, str] = {}
        self._ca = ca_bundle()

    # -- the callers' side ------------------------------------------------------------------

    def submit(self, steps: Steps) -> Future[str]:
        """Begin a conversation; its future ends with the message id or SendError, at once
        when it needs no call (the dry run), else in the multiplexer's thread."""
        answer: Future[str] = Future()

        def done(outcome: str | SendError) -> None:
            if isinstance(outcome, SendError):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome)

        try:
            request = next(steps)
        except StopIteration as end:
            done(end.value)
        except SendError as error:
            done(error)
        except Exception as error:
            log.exception("unexpected error before a call")
            done(unexpected(error))
        else:
            self._enqueue(_Call(steps, done), request)
        return answer

    def run(self, steps: Steps) -> str:
        """A conversation to its end, waiting for it: its message id, or SendError."""
        return self.submit(steps).result()

    def call(self, request: Request) -> Answer:
        """One request and its answer (SendError when none came)."""
        return self.run(_one(request))  # type: ignore[arg-type]

    def close(self, wait: bool = True) -> None:
        """End the thread once its calls are answered (waiting for that, with `wait`) and
        close the connections; calls started later raise."""
        with self._lock:
            self._closing = True
            thread = self._thread
            if thread is None:
                self._close_pipe()
            else:
                self._wake()
        if thread is not None and wait and thread is not threading.current_thread():
            thread.join()

    def _enqueue(self, call: _Call, request: Request) -> None:
        with self._lock:
            if self._closing:
                raise RuntimeError("the multiplexer is closed")
            self._queue.append((call, request))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            if len(self._queue) == 1:  # else a wake is on its way: the thread takes them all
                self._wake()

    def _wake(self) -> None:
        """Wake the thread (the lock held: the pipe is never written once closed, when its
        number may already name another file)."""
        if self._piped:
            with contextlib.suppress(BlockingIOError):  # a full pipe wakes it already
                os.write(self._wake_write, b"\0")

    def _close_pipe(self) -> None:
        """Close the wake pipe (the lock held)."""
        if self._piped:
            self._piped = False
            os.close(self._wake_read)
            os.close(self._wake_write)

    # -- the thread -------------------------------------------------------------------------

    def _loop(self) -> None:
        multi = pycurl.CurlMulti()
        multi.setopt(pycurl.M_MAXCONNECTS, self.size)
        selector = selectors.DefaultSelector()
        selector.register(self._wake_read, selectors.EVENT_READ)
        deadline: list[float | None] = [None]
        calls: dict[pycurl.Curl, _Call] = {}
        idle: list[pycurl.Curl] = []

        def on_socket(what: int, fd: int, _multi: object, _data: object) -> None:
            events = (selectors.EVENT_READ if what & pycurl.POLL_IN else 0) | (
                selectors.EVENT_WRITE if what & pycurl.POLL_OUT else 0
            )
            registered = fd in selector.get_map()
            if what == pycurl.POLL_REMOVE or not events:
                if registered:
                    selector.unregister(fd)
            elif registered:
                selector.modify(fd, events)
            else:
                selector.register(fd, events)

        def on_timer(milliseconds: int) -> None:
            deadline[0] = None if milliseconds < 0 else time.monotonic() + milliseconds / 1000

        multi.setopt(pycurl.M_SOCKETFUNCTION, on_socket)
        multi.setopt(pycurl.M_TIMERFUNCTION, on_timer)

        def act(fd: int, flags: int) -> None:
            while multi.socket_action(fd, flags)[0] == pycurl.E_CALL_MULTI_PERFORM:
                pass

        def begin(call: _Call, request: Request) -> None:
            handle = idle.pop() if idle else self._handle()
            try:
                self._configure(handle, call, request)
            except Exception as error:
                idle.append(handle)
                self._advance(call, unexpected(error), begin)
                return
            calls[handle] = call
            multi.add_handle(handle)

        try:
            while True:
                with self._lock:
                    queued = list(self._queue)
                    self._queue.clear()
                    closing = self._closing
                for call, request in queued:
                    begin(call, request)
                if closing and not calls and not queued:
                    break
                wait = IDLE_WAIT
                if deadline[0] is not None:
                    wait = max(0.0, min(wait, deadline[0] - time.monotonic()))
                for key, mask in selector.select(wait):
                    if key.fd == self._wake_read:
                        try:
                            while os.read(self._wake_read, 512):
                                pass
                        except BlockingIOError:
                            pass
                        continue
                    flags = (pycurl.CSELECT_IN if mask & selectors.EVENT_READ else 0) | (
                        pycurl.CSELECT_OUT if mask & selectors.EVENT_WRITE else 0
                    )
                    act(key.fd, flags)
                if deadline[0] is not None and time.monotonic() >= deadline[0]:
                    deadline[0] = None
                    act(pycurl.SOCKET_TIMEOUT, 0)
                while True:
                    left, answered, failed = multi.info_read()
                    for handle in answered:
                        multi.remove_handle(handle)
                        idle.append(handle)
                        call = calls.pop(handle)
                        self._advance(call, self._answer(handle, call), begin)
                    for handle, code, message in failed:
                        multi.remove_handle(handle)
                        idle.append(handle)
                        call = calls.pop(handle)
                        self._advance(call, self._failure(handle, code, message), begin)
                    if not left:
                        break
        finally:  # normally nothing is left; after a bug of ours, no caller waits forever
            with self._lock:
                self._closing = True
                queued = list(self._queue)
                self._queue.clear()
            for call in calls.values():
                self._end(call, SendError(TRANSPORT, "no response", maybe_sent=True))
            for call, _ in queued:
                self._end(call, SendError(TRANSPORT, "never started", maybe_sent=False))
            for handle in list(calls) + idle:
                handle.close()
            multi.close()
            selector.close()
            with self._lock:
                self._close_pipe()

    def _handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.CAINFO, self._ca)
        handle.setopt(pycurl.SEEKFUNCTION, _never_rewind)
        return handle

    def _configure(self, handle: pycurl.Curl, call: _Call, request: Request) -> None:
        origin = _origin(request.url)
        proxy = self._proxies.get(origin)
        if proxy is None:
            proxy = self._proxies[origin] = proxy_for(origin)
        handle.setopt(pycurl.URL, request.url)
        handle.setopt(pycurl.PROXY, proxy)
        handle.setopt(pycurl.HTTPHEADER, [*request.headers, "Expect:"])
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, int(min(request.timeout, 10.0) * 1000))
        handle.setopt(pycurl.TIMEOUT_MS, int(request.timeout * 1000))
        handle.setopt(pycurl.CUSTOMREQUEST, request.method)  # the verb; the body decides the rest
        if request.body is None:
            handle.setopt(pycurl.HTTPGET, 1)
        else:
            handle.setopt(pycurl.POST, 1)
            handle.setopt(pycurl.POSTFIELDSIZE, len(request.body))
            handle.setopt(pycurl.READFUNCTION, io.BytesIO(request.body).read)
        call.sink = io.BytesIO()
        handle.setopt(pycurl.WRITEFUNCTION, call.sink.write)

    @staticmethod
    def _answer(handle: pycurl.Curl, call: _Call) -> Answer:
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        return Answer(status, reason, call.sink.getvalue())

    @staticmethod
    def _failure(handle: pycurl.Curl, code: int, message: str) -> SendError:
        """Nothing reached Meta only when the request never left: a connection reused for it
        reports no connect time, so what was written is what tells."""
        if code in NEVER_SENT and handle.getinfo(pycurl.REQUEST_SIZE) == 0:
            return SendError(TRANSPORT, "connection failed", maybe_sent=False, details=message)
        return SendError(TRANSPORT, "no response", maybe_sent=True, details=message)

    @staticmethod
    def _advance(
        call: _Call, outcome: Answer | SendError, begin: Callable[[_Call, Request], None]
    ) -> None:
        """Hand the answer to the conversation: its next request starts, or it ends."""
        try:
            if isinstance(outcome, SendError):
                request = call.steps.throw(outcome)
            else:
                request = call.steps.send(outcome)
        except StopIteration as end:
            ending: str | SendError = end.value
        except SendError as error:
            ending = error
        except Exception as error:
            log.exception("unexpected error after a call")
            ending = unexpected(error)
        else:
            begin(call, request)
            return
        Multiplexer._end(call, ending)

    @staticmethod
    def _end(call: _Call, ending: str | SendError) -> None:
        try:
            call.done(ending)
        except Exception:  # the thread serves every other call too
            log.exception("a call's end could not be handed back")


def _origin(url: str) -> str:
    """scheme://host:port of a URL, without parsing all of it (once per call)."""
    end = url.find("/", url.find("//") + 2)
    return url if end < 0 else url[:end]


def _one(request: Request) -> Steps:
    """Steps of a single exchange, ending with the answer itself."""
    answer = yield request
    return answer  # type: ignore[return-value]


_process_multiplexer: tuple[int, Multiplexer] | None = None
_process_lock = threading.Lock()


def process_multiplexer() -> Multiplexer:
    """The multiplexer this process shares for occasional calls (template and account syncs,
    replies, uploads); a forked process makes its own. Dispatch brings its own."""
    global _process_multiplexer
    with _process_lock:
        if _process_multiplexer is None or _process_multiplexer[0] != os.getpid():
            _process_multiplexer = (os.getpid(), Multiplexer(16, name="shopnudge-graph"))
        return _process_multiplexer[1]
