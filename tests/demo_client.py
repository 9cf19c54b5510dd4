"""Helpers of the draw-a-digit page's tests: a server in a thread and raw HTTP requests."""

import http.client
import json
import socket
import threading
from contextlib import contextmanager

from cnn.demo import DemoServer, load_demo_model


@contextmanager
def running_server():
    """A :class:`DemoServer` of the shipped LeNet on a free loopback port, serving in a thread."""
    model, origin = load_demo_model()
    server = DemoServer(model, origin, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def request(server, method, path, body=None, headers=None):
    """``(status, headers, body)`` of one request sent as given: the path is not normalised."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        connection.putrequest(method, path, skip_accept_encoding=True)
        headers = dict(headers or {})
        if body is not None and "Content-Length" not in headers:
            headers["Content-Length"] = str(len(body.encode() if isinstance(body, str) else body))
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body.encode() if isinstance(body, str) else body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def request_json(server, method, path, body=None, headers=None):
    """Like :func:`request`, the body read as JSON."""
    status, headers, raw = request(server, method, path, body, headers)
    return status, json.loads(raw)


def raw_exchange(server, data: bytes):
    """Send ``data`` on a new connection, read until the server closes it: ``(head, body)``."""
    with socket.create_connection(server.server_address[:2], timeout=30) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    return head, body
