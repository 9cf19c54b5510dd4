"""The draw-a-digit page's HTTP server: the packaged static files and a JSON API.

Only the files named in :data:`STATIC_FILES` are served, read once from the package, so no URL
reaches any other file. ``POST`` bodies are capped at :data:`MAX_BODY_BYTES`; every refused request
gets a JSON error ``{"error": ..., "field": ...}`` and the server goes on. A body left unread
is drained after the answer, bounded by :data:`DRAIN_BYTES` and :data:`DRAIN_SECONDS`, so that
every client can read the refusal while none can hold the server.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Optional
from urllib.parse import urlsplit

from cnn.demo.model_view import RequestError, check_pixels, describe_model, explain
from cnn.models import Sequential

__all__ = ["DemoServer", "MAX_BODY_BYTES", "STATIC_FILES", "DRAIN_BYTES", "DRAIN_SECONDS"]

#: The largest request body read (a 1024x1024 drawing as JSON fits).
MAX_BODY_BYTES = 8 << 20
#: URL path -> (packaged file in cnn/demo/static, content type).
STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
    "/demo.js": ("demo.js", "text/javascript; charset=utf-8"),
}
# A client that sends nothing for this long loses its connection, so it cannot hold a thread.
SOCKET_TIMEOUT_SECONDS = 15
#: A body the server refuses unread is read and dropped after the answer, up to this many bytes
#: and seconds, before the connection closes: a client that sends its whole body before it reads
#: (Python's urllib, for one) then reads the refusal instead of meeting a reset connection.
DRAIN_BYTES = 64 << 20
#: The longest a refused body is drained for, however slowly its client sends it.
DRAIN_SECONDS = 5.0
# No script, style, image or connection from anywhere but this server.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; connect-src 'self'")


class DemoServer(ThreadingHTTPServer):
    """Serves the page for ``model`` on ``(host, port)`` (port 0: a free one, see :attr:`url`).

    Example:
        >>> server = DemoServer(LeNet(seed=0), {"origin": "untrained"}, port=0)  # doctest: +SKIP
        >>> threading.Thread(target=server.serve_forever, daemon=True).start()  # doctest: +SKIP
    """

    daemon_threads = True

    def __init__(self, model: Sequential, origin: dict, host: str = "127.0.0.1",
                 port: int = 8000) -> None:
        self.model = model
        self.description = json.dumps(describe_model(model, origin)).encode()
        self.static = {path: (resources.files("cnn.demo").joinpath("static", name).read_bytes(),
                              kind) for path, (name, kind) in STATIC_FILES.items()}
        self.model_lock = threading.Lock()  # layers keep state between forward and backward
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), DemoRequestHandler)

    def handle_error(self, request, client_address) -> None:
        """A client that went away mid-answer (the page drops a request a stroke's end made
        stale) is no error; anything else is reported as socketserver does."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


class DemoRequestHandler(BaseHTTPRequestHandler):
    """One request to :class:`DemoServer`."""

    server: DemoServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_SECONDS
    #: Bytes of the body left unread by a refusal (None: unknown, a chunked body), drained after.
    unread: Optional[int] = 0

    def handle_one_request(self) -> None:
        self.unread = 0
        super().handle_one_request()

    def do_GET(self) -> None:
        self._get(send_body=True)

    def do_HEAD(self) -> None:
        self._get(send_body=False)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path != "/api/predict":
            self._refuse_unread_body()
            if path in self.server.static or path == "/api/model":
                self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, "method", "use GET here",
                                 allow="GET, HEAD")
            else:
                self._send_error(HTTPStatus.NOT_FOUND, "path", f"no such endpoint: {path!r}")
            return
        try:
            payload = self._read_json()
            pixels = check_pixels(payload)
            with self.server.model_lock:
                answer = explain(self.server.model, pixels)
        except RequestError as error:
            self._send_error(HTTPStatus(error.status), error.field, error.message)
            return
        except (TimeoutError, ConnectionError):  # the client stalled or left mid-body
            self.close_connection = True
            return
        except Exception as error:  # a defect of the server's own: answer it and go on serving
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, None, f"the server failed: {error!r}")
            return
        self._send(HTTPStatus.OK, json.dumps(answer).encode(), "application/json")

    def _get(self, send_body: bool) -> None:
        path = urlsplit(self.path).path
        if path == "/api/model":
            self._send(HTTPStatus.OK, self.server.description, "application/json", send_body)
        elif path == "/api/predict":
            self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, "method",
                             'POST a JSON body {"pixels": [[...], ...]} here', allow="POST")
        elif path in self.server.static:
            body, kind = self.server.static[path]
            self._send(HTTPStatus.OK, body, kind, send_body)
        else:
            self._send_error(HTTPStatus.NOT_FOUND, "path", f"no such file: {path!r}")

    def _read_json(self) -> Any:
        length = self._content_length()
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise RequestError("body", f"expected {length} bytes (Content-Length), got {len(body)}")
        try:
            return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
        except UnicodeDecodeError:
            raise RequestError("body", "expected UTF-8 JSON, got bytes that are not UTF-8") from None
        except json.JSONDecodeError as error:
            raise RequestError("body", f"expected JSON, got a malformed body ({error})") from None

    def _content_length(self) -> int:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection, self.unread = True, None
            raise RequestError("Transfer-Encoding", "not accepted; send a Content-Length instead",
                               HTTPStatus.LENGTH_REQUIRED)
        text = self.headers.get("Content-Length")
        if text is None:
            self.close_connection = True
            raise RequestError("Content-Length", "missing: send the body's length in bytes",
                               HTTPStatus.LENGTH_REQUIRED)
        if not text.strip().isdigit():
            self.close_connection, self.unread = True, None
            raise RequestError("Content-Length", f"expected the body's length in bytes, got "
                                                 f"{text!r}")
        length = int(text)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self.unread = length
            raise RequestError("Content-Length", f"the body may hold at most {MAX_BODY_BYTES} "
                                                 f"bytes, got {length}",
                               HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return length

    def _refuse_unread_body(self) -> None:
        """A body this server will not read leaves the connection unusable: drain it after the
        answer and close."""
        length = self.headers.get("Content-Length", "0").strip()
        if self.headers.get("Transfer-Encoding") or not length.isdigit():
            self.close_connection, self.unread = True, None
        elif int(length):
            self.close_connection, self.unread = True, int(length)

    def _drain(self) -> None:
        """Read and drop what is left of a refused body, at most :data:`DRAIN_BYTES` within
        :data:`DRAIN_SECONDS`, after the answer went out and this side of the connection was
        shut, then let the connection close."""
        left = DRAIN_BYTES if self.unread is None else min(self.unread, DRAIN_BYTES)
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + DRAIN_SECONDS
            while left > 0 and (remaining := deadline - time.monotonic()) > 0:
                self.connection.settimeout(remaining)
                chunk = self.rfile.read1(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:  # the client left, or was silent past the deadline: close all the same
            pass

    def send_error(self, code: int, message: Optional[str] = None,
                   explain: Optional[str] = None) -> None:
        """http.server's own refusals (a malformed request, an unknown method) as JSON too."""
        self.close_connection = True
        status = HTTPStatus(code)
        self._send_error(status, None, message or status.phrase)

    def _send_error(self, status: HTTPStatus, field: Optional[str], message: str,
                    allow: Optional[str] = None) -> None:
        body = json.dumps({"error": f"{field}: {message}" if field else message, "field": field,
                           "status": int(status)}).encode()
        self._send(status, body, "application/json", allow=allow)

    def _send(self, status: HTTPStatus, body: bytes, kind: str, send_body: bool = True,
              allow: Optional[str] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if allow:
            self.send_header("Allow", allow)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if send_body:
            self.wfile.write(body)
        if self.close_connection and self.unread != 0:
            self._drain()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows only what ``cnn-demo`` prints."""


def _refuse_constant(name: str) -> None:
    raise RequestError("pixels", f"expected finite numbers, got {name}")
