"""Serve a WSGI app on 127.0.0.1 with a port the OS picks, in a background thread."""

from __future__ import annotations

import io
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug.serving import make_server

#: An idle keep-alive connection is closed after this long (its thread ends with it).
IDLE_SECONDS = 30.0


class LocalServer:
    """A real HTTP server for a fake vendor (a Flask app) or for our own app in browser tests.

    `keep_alive=True` serves HTTP/1.1 with persistent connections, as Meta's servers do, so a
    client's pooled session is exercised as in production and a benchmark measures sending
    rather than a TCP handshake and a new server thread per request (werkzeug's development
    server always closes the connection).
    """

    def __init__(self, wsgi_app: Any, host: str = "127.0.0.1", *, keep_alive: bool = False) -> None:
        self.wsgi_app = wsgi_app
        self.host = host
        self.keep_alive = keep_alive
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalServer:
        if self.keep_alive:
            self._server = KeepAliveServer((self.host, 0), self.wsgi_app)
        else:
            self._server = make_server(self.host, 0, self.wsgi_app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class KeepAliveServer(ThreadingHTTPServer):
    """One thread per connection; a connection serves requests until the client closes it."""

    daemon_threads = True
    block_on_close = False  # idle keep-alive threads must not hold up stop()
    #: Connections waiting to be accepted: workers open dozens at once (socketserver says 5,
    #: and a full queue stalls a connect for a second or ends it in a reset).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], wsgi_app: Any) -> None:
        super().__init__(address, WSGIKeepAliveHandler)
        self.wsgi_app = wsgi_app


class WSGIKeepAliveHandler(BaseHTTPRequestHandler):
    """Runs each request through the WSGI app; reads the body whole, so the stream stays in step."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS
    server: KeepAliveServer

    def do_GET(self) -> None:
        self.serve_wsgi()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def serve_wsgi(self) -> None:
        if self.headers.get("Transfer-Encoding"):  # a fake needs no chunked request bodies
            self.send_error(411)
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-body: no request, nobody to answer
            self.close_connection = True
            return
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [status, headers]
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        result = self.server.wsgi_app(self.environ(body), start_response)
        try:
            chunks.extend(result)
        finally:
            getattr(result, "close", lambda: None)()
        status, headers = started
        payload = b"".join(chunks)
        lines = [f"{self.protocol_version} {status}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if not any(name.lower() == "content-length" for name, _ in headers):
            lines.append(f"Content-Length: {len(payload)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:  # one write: headers and body leave in one segment
            self.wfile.write(head + (b"" if self.command == "HEAD" else payload))
        except ConnectionError:  # the client gave up (a read timeout in a test)
            self.close_connection = True

    def environ(self, body: bytes) -> dict[str, Any]:
        target = urlsplit(self.path)  # a proxy is sent the absolute URL
        path, query = target.path, target.query
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_LENGTH":
                continue
            if key != "CONTENT_TYPE":
                key = f"HTTP_{key}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        environ["CONTENT_LENGTH"] = str(len(body))
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a line per request would cost the benchmarks more than the request itself."""
