"""The draw-a-digit page's speed: a prediction with every layer's output, round trip, and the page.

    python benchmarks/demo.py               # the API, 100 requests per drawing size
    python benchmarks/demo.py --browser     # also the time from a stroke's end to the page's answer

Starts ``cnn-demo --port 0`` in a process of its own and sends it MNIST test digits, as the page
sends a drawing (70x70 ink values) and at 28x28 and 1024x1024; prints the median and the 90th
percentile of the round trip (request written to answer parsed) over ``--requests`` requests, the
answer's size, and the size of the page's files. With ``--browser`` (selenium, Debian's chromium
and chromium-driver) headless Chromium draws a stroke ``--strokes`` times and the page reports the
milliseconds from the stroke's end to its answer shown.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
SIZES = (70, 28, 1024)


def drawings(side: int, count: int) -> list[bytes]:
    """``count`` MNIST test digits scaled to ``side`` x ``side``, as request bodies."""
    from cnn.datasets import load_mnist

    _, (x_test, _) = load_mnist(flatten=False, root=REPOSITORY / "data" / "mnist", download=False)
    bodies = []
    for image in x_test[:count, 0]:
        index = np.arange(side) * 28 // side
        scaled = image[np.ix_(index, index)].astype(np.float64)  # float64: short decimals
        bodies.append(json.dumps({"pixels": np.round(scaled, 3).tolist()})
                      .encode())
    return bodies


def round_trips(port: int, bodies: list[bytes]) -> tuple[list[float], int]:
    """Milliseconds of each POST /api/predict on one kept-alive connection, and the answer's size."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    milliseconds, size = [], 0
    for body in bodies:
        started = time.perf_counter()
        connection.request("POST", "/api/predict", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
        json.loads(raw)
        milliseconds.append(1000 * (time.perf_counter() - started))
        if response.status != 200:
            raise RuntimeError(f"the server answered {response.status}: {raw[:200]!r}")
        size = len(raw)
    connection.close()
    return milliseconds, size


def browser_latency(url: str, strokes: int) -> list[float]:
    """Milliseconds from a stroke's end to the page's answer shown, as the page measures it."""
    sys.path.insert(0, str(REPOSITORY / "tests"))
    from demo_client import chromium, draw, wait_until

    driver = chromium()
    stroke = [(0, -90 + 15 * step) for step in range(13)]  # a 1
    measured = []
    try:
        driver.get(url)
        wait_until(driver, lambda: driver.find_elements("css selector", "#layers .layer"), 30)
        for _ in range(strokes):
            driver.find_element("id", "clear-button").click()
            driver.execute_script("delete document.body.dataset.strokeToAnswerMs")
            draw(driver, [stroke])
            answered = "return document.body.dataset.strokeToAnswerMs"
            wait_until(driver, lambda: driver.execute_script(answered), 30)
            measured.append(float(driver.execute_script(answered)))
    finally:
        driver.quit()
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--browser", action="store_true")
    parser.add_argument("--strokes", type=int, default=30)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "cnn.demo", "--port", "0"],
                              stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())
    try:
        url = server.stdout.readline().split()[-1]
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        static = resources.files("cnn.demo").joinpath("static")
        files = {path.name: len(path.read_bytes()) for path in static.iterdir()}
        print(f"page: {sum(files.values()):,} bytes in {len(files)} files "
              f"({', '.join(f'{name} {size:,}' for name, size in sorted(files.items()))})")
        weights = resources.files("cnn.demo").joinpath("weights", "lenet.npz")
        print(f"shipped LeNet weights: {len(weights.read_bytes()):,} bytes")
        for side in SIZES:
            bodies = drawings(side, args.requests)
            round_trips(port, bodies[:5])  # warm up
            milliseconds, size = round_trips(port, bodies)
            print(f"POST /api/predict, {side}x{side} drawing ({len(bodies[0]):,}-byte body, "
                  f"{size:,}-byte answer with every layer): median "
                  f"{statistics.median(milliseconds):.1f} ms, 90th percentile "
                  f"{np.percentile(milliseconds, 90):.1f} ms over {len(milliseconds)} requests")
        if args.browser:
            measured = browser_latency(url, args.strokes)
            print(f"browser: stroke's end to the answer shown: median "
                  f"{statistics.median(measured):.1f} ms, largest {max(measured):.1f} ms over "
                  f"{len(measured)} strokes")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
