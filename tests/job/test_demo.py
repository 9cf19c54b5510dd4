"""The draw-a-digit page's server (cnn-demo): its API on a free port, every refused request, the
static files and nothing else, and the command itself."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from cnn.datasets import load_mnist, prepare_ink
from cnn.demo import load_demo_model
from cnn.demo.model_view import receptive_fields, title
from cnn.demo import server as demo_server
from cnn.demo.server import MAX_BODY_BYTES
from cnn.layers import Convolution, Pooling, Relu
from cnn.models import LeNet, Sequential

from demo_client import raw_exchange, request, request_json, running_server
from paths import ROOT

MNIST = ROOT / "data" / "mnist"


@pytest.fixture(scope="module")
def server():
    with running_server() as running:
        yield running


@pytest.fixture(scope="module")
def test_digits():
    _, (x_test, t_test) = load_mnist(normalize=True, flatten=False, root=MNIST, download=False)
    return x_test[:60, 0], t_test[:60]


def softmax(scores):
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


def test_mnist_test_digits_are_predicted_as_labelled(server, test_digits):
    images, labels = test_digits
    model, _ = load_demo_model()
    predictions = []
    for image, label in zip(images, labels):
        status, answer = request_json(server, "POST", "/api/predict",
                                      {"pixels": image.astype(float).tolist()})
        assert status == 200, answer
        predictions.append(answer["prediction"])
        sample = prepare_ink(image)
        np.testing.assert_allclose(answer["input"], sample[0, 0], atol=6e-4)  # 4 digits sent
        expected = softmax(model.predict(sample)[0].astype(np.float64))
        np.testing.assert_allclose(answer["probabilities"], expected, rtol=1e-3, atol=1e-6)
        assert answer["prediction"] == int(np.argmax(expected))
    assert np.mean(np.array(predictions) == labels) >= 0.95, (predictions, labels.tolist())


def test_the_answer_holds_every_layers_output(server, test_digits):
    model, _ = load_demo_model()
    image = test_digits[0][0]
    status, answer = request_json(server, "POST", "/api/predict", {"pixels": image.tolist()})
    assert status == 200
    outputs = model.layer_outputs(prepare_ink(image))
    assert [layer["name"] for layer in answer["layers"]] == [title(layer) for layer in model.layers]
    assert "Relu" in [layer["name"] for layer in answer["layers"]]  # not Relu(inplace=True)
    for layer, output in zip(answer["layers"], outputs):
        assert layer["shape"] == list(output.shape[1:])
        values = np.array(layer["values"])
        np.testing.assert_allclose(values, output[0], atol=1e-3 * max(1, np.abs(output).max()))
    assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-6


def test_a_flat_list_of_a_squares_values_is_the_square(server, test_digits):
    image = test_digits[0][0]
    _, as_rows = request_json(server, "POST", "/api/predict", {"pixels": image.tolist()})
    status, flat = request_json(server, "POST", "/api/predict", {"pixels": image.ravel().tolist()})
    assert status == 200 and len(image.ravel()) == 784
    assert flat == as_rows


def test_any_size_from_8x8_to_1024x1024_is_accepted(server):
    for height, width in [(8, 8), (8, 1024), (1024, 1024), (37, 123)]:
        pixels = np.zeros((height, width))
        pixels[height // 4: 3 * height // 4, width // 2 - max(1, width // 20): width // 2 + 1] = 1
        status, answer = request_json(server, "POST", "/api/predict", {"pixels": pixels.tolist()})
        assert status == 200, (height, width, answer)
        assert np.array(answer["input"]).shape == (28, 28)


def test_the_model_is_described(server):
    status, description = request_json(server, "GET", "/api/model")
    assert status == 200
    model, origin = load_demo_model()
    assert description["model"] == "LeNet" and description["parameters"] == 107786
    assert [layer["name"] for layer in description["layers"]] == [title(l) for l in model.layers]
    assert description["layers"][0]["name"] == "Convolution(1->6, 5x5, stride=1, pad=2)"
    assert "inplace" not in json.dumps(description["layers"])
    assert "--out" not in description["weights"]["command"]
    assert [layer["parameters"] for layer in description["layers"]] == \
        [layer.num_params() for layer in model.layers]
    assert description["layers"][-1]["shape"] == [10]
    assert all(layer["caption"] for layer in description["layers"])
    np.testing.assert_allclose(description["filters"]["values"], model.params[0][:, 0], atol=1e-3)
    assert description["weights"]["command"].startswith("python examples/train_lenet.py")
    assert 0.98 < description["weights"]["test_accuracy"] <= 1


def test_the_shipped_weights_score_what_their_record_says():
    model, origin = load_demo_model()
    _, (x_test, t_test) = load_mnist(normalize=True, flatten=False, root=MNIST, download=False)
    assert model.accuracy(x_test, t_test) == pytest.approx(origin["test_accuracy"], abs=0.002)
    shipped = resources.files("cnn.demo").joinpath("weights", "lenet.npz")
    assert len(shipped.read_bytes()) < 500_000  # float32, about 430 KB


def brute_force_field(layers, i, j, size=28):
    """The input pixels that change output pixel (i, j) of the last layer, found by poking each."""
    model = Sequential(layers, input_shape=(1, size, size))
    base = model.layer_outputs(np.zeros((1, 1, size, size), np.float64))[-1][0, 0, i, j]
    seen = np.zeros((size, size), bool)
    for r in range(size):
        for c in range(size):
            poked = np.zeros((1, 1, size, size))
            poked[0, 0, r, c] = 1
            seen[r, c] = model.layer_outputs(poked)[-1][0, 0, i, j] != base
    return seen


@pytest.mark.parametrize("layers, tight", [
    (lambda: [Convolution(np.ones((1, 1, 5, 5)), np.zeros(1), pad=2)], True),
    (lambda: [Convolution(np.ones((1, 1, 3, 3)), np.zeros(1), stride=2, pad=1),
              Relu(), Pooling(2, 2, stride=2),
              Convolution(np.ones((1, 1, 3, 3)), np.zeros(1), pad=(1, 0))], True),
    # dilation leaves holes in the window: the box only bounds what the pixel sees
    (lambda: [Convolution(np.ones((1, 1, 3, 3)), np.zeros(1), stride=2, pad=1),
              Relu(), Pooling(2, 2, stride=2),
              Convolution(np.ones((1, 1, 3, 3)), np.zeros(1), dilation=2, pad=(1, 0))], False),
])
def test_receptive_fields_are_the_pixels_that_reach_an_output(layers, tight):
    layers = layers()
    field = receptive_fields(layers, (28, 28))[-1]
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        expected = brute_force_field(layers, i, j)
        rows = range(field["start"][0] + i * field["step"][0],
                     field["start"][0] + i * field["step"][0] + field["size"][0])
        columns = range(field["start"][1] + j * field["step"][1],
                        field["start"][1] + j * field["step"][1] + field["size"][1])
        box = np.zeros((28, 28), bool)
        box[max(0, rows.start):rows.stop, max(0, columns.start):columns.stop] = True
        assert expected.any() and not (expected & ~box).any()  # nothing outside reaches it
        if not tight:
            continue
        rows_seen, columns_seen = np.nonzero(expected)
        assert rows_seen.min() == max(0, rows.start) and rows_seen.max() == min(27, rows.stop - 1)
        assert columns_seen.min() == max(0, columns.start)
        assert columns_seen.max() == min(27, columns.stop - 1)


def good_pixels():
    pixels = np.zeros((28, 28))
    pixels[4:24, 13:15] = 1
    return pixels.tolist()


BAD_BODIES = [
    ("{not json", 400, "body", "JSON"),
    ('{"pixels": [[0.5, 0.5]', 400, "body", "JSON"),
    (b"\xff\xfe{}", 400, "body", "UTF-8"),
    ("[1, 2, 3]", 400, "body", "object"),
    ("{}", 400, "pixels", "missing"),
    ('{"pixels": [[0]], "extra": 1}', 400, "extra", "unknown field"),
    ('{"pixels": "white"}', 400, "pixels", "list of rows"),
    ('{"pixels": [1, 2, 3, 4, 5, 6, 7, 8]}', 400, "pixels", "a flat list of 8 values, not a square"),
    ('{"pixels": [[0, 1], 1]}', 400, "pixels", "list of rows"),
    (json.dumps({"pixels": np.zeros((7, 28)).tolist()}), 400, "pixels", "8 to 1024 rows, got 7"),
    (json.dumps({"pixels": np.zeros((28, 7)).tolist()}), 400, "pixels", "columns, got 7"),
    (json.dumps({"pixels": np.zeros((1025, 8)).tolist()}), 400, "pixels", "rows, got 1025"),
    (json.dumps({"pixels": np.zeros((8, 1025)).tolist()}), 400, "pixels", "columns, got 1025"),
    (json.dumps({"pixels": [[0] * 10] * 9 + [[0] * 11]}), 400, "pixels", "one length"),
    (json.dumps({"pixels": [[[0, 0]] * 10] * 10}), 400, "pixels", "numbers only"),
    (json.dumps({"pixels": [["0.5"] * 10] * 10}), 400, "pixels", "numbers only"),
    (json.dumps({"pixels": [[True] * 10] * 10}), 400, "pixels", "numbers only"),
    (json.dumps({"pixels": [[None] * 10] * 10}), 400, "pixels", "numbers only"),
    (json.dumps({"pixels": [[1.5] * 10] * 10}), 400, "pixels", "[0, 1], got values from 1.5"),
    (json.dumps({"pixels": [[-0.1] * 10] * 10}), 400, "pixels", "[0, 1], got values from -0.1"),
    ('{"pixels": [' + ",".join(["[NaN" + ", 0" * 9 + "]"] * 10) + "]}", 400, "pixels", "NaN"),
    ('{"pixels": [' + ",".join(["[Infinity" + ", 0" * 9 + "]"] * 10) + "]}", 400, "pixels",
     "Infinity"),
    ('{"pixels": [' + ",".join(["[1e400" + ", 0" * 9 + "]"] * 10) + "]}", 400, "pixels", "finite"),
    (json.dumps({"pixels": np.zeros((10, 10)).tolist()}), 400, "pixels", "no ink"),
]


@pytest.mark.parametrize("body, status, field, words", BAD_BODIES)
def test_bad_bodies_are_refused_naming_the_field(server, body, status, field, words):
    answered, answer = request_json(server, "POST", "/api/predict", body,
                                    {"Content-Type": "application/json"})
    assert (answered, answer["field"]) == (status, field), answer
    assert words in answer["error"] and answer["error"].startswith(f"{field}: ")


def test_bodies_past_the_cap_get_413_unread(server):
    head, body = raw_exchange(server, f"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                      f"application/json\r\nContent-Length: {MAX_BODY_BYTES + 1}"
                                      f"\r\n\r\n".encode())
    assert head.startswith("HTTP/1.1 413 ")
    assert f"at most {MAX_BODY_BYTES} bytes" in json.loads(body)["error"]


@pytest.mark.parametrize("path", ["/api/predict", "/api/elsewhere"])
def test_a_client_that_sends_its_whole_body_first_reads_the_refusal(server, path):
    """urllib writes the whole body before it reads: the server must drain, not reset."""
    body = b"[" + b"0," * (MAX_BODY_BYTES // 2) + b"0]"
    call = urllib.request.Request(server.url.rstrip("/") + path, data=body, method="POST",
                                  headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(call, timeout=30)
    expected = 413 if path == "/api/predict" else 404
    assert refused.value.code == expected
    assert json.loads(refused.value.read())["status"] == expected


def test_a_silent_client_is_dropped_after_the_drain_deadline(server, monkeypatch):
    monkeypatch.setattr(demo_server, "DRAIN_SECONDS", 0.5)
    with socket.create_connection(server.server_address[:2], timeout=30) as silent:
        silent.sendall(f"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: "
                       f"{MAX_BODY_BYTES + 1}\r\n\r\n{{".encode())
        answer = b""
        while chunk := silent.recv(65536):  # the answer, then the end of the server's writing
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 413 ")
        silent.sendall(b"0," * 1000)  # still drained: the deadline has not passed
        time.sleep(1.5)  # silent past the deadline: the server closes its end
        with pytest.raises(OSError):  # broken pipe or reset: nobody reads any more
            for _ in range(50):
                silent.sendall(b"0," * 1000)
                time.sleep(0.05)
    status, _ = request_json(server, "GET", "/api/model")
    assert status == 200


@pytest.mark.parametrize("headers, status, field", [
    ({"Transfer-Encoding": "chunked"}, 411, "Transfer-Encoding"),
    ({}, 411, "Content-Length"),
    ({"Content-Length": "-5"}, 400, "Content-Length"),
    ({"Content-Length": "12abc"}, 400, "Content-Length"),
])
def test_bodies_without_a_usable_length_are_refused(server, headers, status, field):
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head, body = raw_exchange(server, f"POST /api/predict HTTP/1.1\r\nHost: x\r\n{lines}\r\n"
                                      .encode())
    assert head.startswith(f"HTTP/1.1 {status} ")
    assert json.loads(body)["field"] == field


@pytest.mark.parametrize("path", [
    "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "//etc/passwd",
    "/demo.js/../server.py", "/static/demo.js", "/server.py", "/weights/lenet.npz",
    "/cnn/demo/server.py", "/index.html%00.js", "/%2fetc%2fpasswd", "/C:/Windows/win.ini",
    "http://127.0.0.1/etc/passwd", "/demo.js%2f..%2f..%2fserver.py", "/.%2e/setup.py", "/api",
])
def test_nothing_but_the_packaged_static_files_is_served(server, path):
    status, answer = request_json(server, "GET", path)
    assert status == 404 and answer["field"] == "path"


def test_the_static_files_are_served_with_their_types(server):
    for path, kind in [("/", "text/html"), ("/index.html", "text/html"),
                       ("/demo.js", "text/javascript"), ("/demo.css", "text/css")]:
        status, headers, body = request(server, "GET", path)
        assert status == 200 and headers["Content-Type"].startswith(kind) and body
        assert "default-src 'none'" in headers["Content-Security-Policy"]
    status, headers, body = request(server, "HEAD", "/")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    status, _, page = request(server, "GET", "/?cache=1")
    assert status == 200 and b'id="digit-canvas"' in page and b"http" not in \
        page.replace(b'http-equiv', b"")  # nothing fetched from elsewhere


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/predict", 405), ("POST", "/index.html", 405), ("POST", "/api/model", 405),
    ("POST", "/api/other", 404), ("PUT", "/api/predict", 501), ("DELETE", "/", 501),
])
def test_wrong_methods_are_refused(server, method, path, status):
    answered, headers, body = request(server, method, path, body="{}" if method != "GET" else None)
    assert answered == status and json.loads(body)["status"] == status
    assert headers["Content-Type"] == "application/json"


def test_requests_http_cannot_parse_are_answered_in_json(server):
    # A request line http.server cannot read gets an HTTP/0.9 answer: the body alone.
    head, body = raw_exchange(server, b'GET / HTTP/1.1"}{"x\r\n\r\n')
    answer = json.loads(body if head.startswith("HTTP/") else head)
    assert answer["status"] == 400 and "Bad request version" in answer["error"]


def test_the_server_survives_every_bad_request(server, test_digits):
    for body, *_ in BAD_BODIES:
        request(server, "POST", "/api/predict", body)
    with socket.create_connection(server.server_address[:2], timeout=30) as connection:
        connection.sendall(b"\x00\x01garbage that is no HTTP at all\r\n\r\n")
        connection.recv(65536)
    with socket.create_connection(server.server_address[:2], timeout=30) as connection:
        connection.sendall(b"POST /api/predict HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pix")
    image, label = test_digits[0][0], test_digits[1][0]
    status, answer = request_json(server, "POST", "/api/predict", {"pixels": image.tolist()})
    assert status == 200 and answer["prediction"] == label


def run_demo(*flags, stop=True):
    """Start ``python -m cnn.demo`` outside the repository; ``(first line, process)``."""
    process = subprocess.Popen([sys.executable, "-m", "cnn.demo", *flags], cwd=tempfile.gettempdir(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process.stdout.readline().strip(), process


def test_the_command_serves_the_page_and_stops_cleanly_on_ctrl_c():
    first, process = run_demo("--port", "0")
    try:
        assert first.startswith("serving on http://127.0.0.1:") and first.endswith("/"), first
        second = process.stdout.readline()
        assert "LeNet (107,786 parameters) from cnn/demo/weights/lenet.npz (shipped with cnn-ext)" in second
        url = first.split()[-1]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert b'id="digit-canvas"' in response.read()
        with urllib.request.urlopen(url + "api/model", timeout=30) as response:
            assert json.load(response)["model"] == "LeNet"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "stopped" in out and "Traceback" not in err, err


def test_another_host_warns_that_the_page_is_reachable_from_the_network():
    first, process = run_demo("--port", "0", "--host", "0.0.0.0")
    warning = process.stderr.readline()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert first.startswith("serving on http://0.0.0.0:")
    assert "warning: --host 0.0.0.0" in warning and "reachable from the network" in warning
    assert process.returncode == 0


def test_the_command_refuses_bad_flags_saying_why(tmp_path):
    def failed(*flags):
        result = subprocess.run([sys.executable, "-m", "cnn.demo", *flags], capture_output=True,
                                text=True, cwd=tempfile.gettempdir(), timeout=60)
        assert result.returncode == 2 and result.stdout == "", result
        return result.stderr

    assert "no such file" in failed("--weights", str(tmp_path / "missing.npz"))
    assert "--weights runs/deepconvnet/weights.npz" in failed("--model", "deepconvnet")
    assert "--port must be 0 to 65535" in failed("--port", "70000")
    small = Sequential([Convolution.create(1, 2, 3, rng=0), Relu()], input_shape=(1, 8, 8))
    small.save(tmp_path / "small.npz")
    assert "must take input (1, 28, 28)" in failed("--weights", str(tmp_path / "small.npz"))
    LeNet(num_classes=3, seed=0).save(tmp_path / "three.npz")
    assert "must give 10 scores" in failed("--weights", str(tmp_path / "three.npz"))
    LeNet(seed=0).save(tmp_path / "lenet.npz")
    assert "not the --model resnet" in failed("--weights", str(tmp_path / "lenet.npz"), "--model",
                                              "resnet")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    assert "--weights" in failed("--weights", str(tmp_path / "junk.npz"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert "cannot listen" in failed("--port", str(taken.getsockname()[1]))


def test_open_opens_the_page_in_the_browser(tmp_path):
    opened = tmp_path / "opened.txt"
    recorder = tmp_path / "browser.py"
    recorder.write_text("import os, pathlib, sys\n"  # written whole, then renamed into place
                        f"pathlib.Path({str(opened)!r} + '.part').write_text(sys.argv[1])\n"
                        f"os.replace({str(opened)!r} + '.part', {str(opened)!r})\n")
    process = subprocess.Popen([sys.executable, "-m", "cnn.demo", "--port", "0", "--open"],
                               cwd=tempfile.gettempdir(), stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "BROWSER": f"{sys.executable} {recorder} %s"})
    try:
        url = process.stdout.readline().split()[-1]
        deadline = time.monotonic() + 30
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert opened.read_text() == url


def test_weights_of_your_own_replace_the_shipped_ones(tmp_path):
    LeNet(seed=3).save(tmp_path / "mine.npz")
    first, process = run_demo("--port", "0", "--weights", str(tmp_path / "mine.npz"))
    try:
        with urllib.request.urlopen(first.split()[-1] + "api/model", timeout=30) as response:
            description = json.load(response)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert description["weights"] == {"file": os.path.abspath(tmp_path / "mine.npz")}
    np.testing.assert_allclose(description["filters"]["values"], LeNet(seed=3).params[0][:, 0],
                               atol=1e-4)
