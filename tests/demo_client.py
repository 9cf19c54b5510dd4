"""Helpers of the draw-a-digit page's tests (and of benchmarks/demo.py): a server in a thread,
raw HTTP requests, and headless Chromium drawing strokes with pen events."""

import http.client
import json
import shutil
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


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def chromium(window_size="1400,2080"):
    """A headless Chromium driven by selenium, its console log kept (needs CHROMIUM and
    CHROMEDRIVER)."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={window_size}", "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER),
                              options=options)
    driver.set_page_load_timeout(60)
    return driver


def draw(driver, strokes):
    """Each stroke (points (x, y) from the centre of digit-canvas) as a pen press, moves and
    release on the canvas, as a user draws it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.interaction import POINTER_PEN

    canvas = driver.find_element("id", "digit-canvas")
    for points in strokes:
        actions = ActionChains(driver, duration=5)
        actions.w3c_actions.devices = []
        pen = actions.w3c_actions.add_pointer_input(POINTER_PEN, "pen")
        pen.create_pointer_move(duration=0, origin=canvas, x=points[0][0], y=points[0][1])
        pen.create_pointer_down(button=0)
        for x, y in points[1:]:
            pen.create_pointer_move(duration=5, origin=canvas, x=x, y=y)
        pen.create_pointer_up(button=0)
        actions.perform()


def wait_until(driver, condition, seconds=20):
    """Poll ``condition()`` every 20 ms until it is true; TimeoutException after ``seconds``."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, seconds, poll_frequency=0.02).until(lambda _: condition())
