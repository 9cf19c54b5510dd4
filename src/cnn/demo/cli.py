"""``cnn-demo`` (also ``python -m cnn.demo``): serve the draw-a-digit page.

    cnn-demo                                  # the shipped LeNet on http://127.0.0.1:8000/
    cnn-demo --port 0 --open                  # a free port; open it in the browser
    cnn-demo --weights runs/lenet/weights.npz # your own training run
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import sys
import threading
import webbrowser
from importlib import resources
from pathlib import Path
from typing import Optional, Sequence

from cnn.demo.model_view import check_demo_model
from cnn.demo.server import DemoServer
from cnn.models import load_model
from cnn.models.ready import READY_MODELS

__all__ = ["main", "parse_args", "load_demo_model"]



def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The flags of ``cnn-demo`` from ``argv`` (default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        prog="cnn-demo", description="Serve a page where you draw a digit and watch every layer "
                                     "of a CNN answer.")
    parser.add_argument("--model", choices=sorted(READY_MODELS), default=None,
                        help="the network (default lenet, whose trained weights ship with cnn-ext; "
                             "the others need --weights)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="a file saved by model.save, such as the main job's weights.npz")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000,
                        help="the port (default 8000; 0 picks a free one)")
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0 to 65535, got {args.port}")
    if args.weights is None and READY_MODELS[args.model or "lenet"].weights is None:
        parser.error(f"--model {args.model}: no trained weights ship for it; train it "
                     f"(cnn-train --model {args.model}) and pass --weights "
                     f"runs/{args.model}/weights.npz")
    return args


def load_demo_model(model_name: Optional[str] = None, weights: Optional[os.PathLike] = None):
    """``(model, origin)``: the shipped weights of ``model_name`` (default lenet), or the model
    saved in ``weights``; ``origin`` says where they came from (for ``GET /api/model``)."""
    if weights is None:
        folder = resources.files("cnn.demo").joinpath("weights")
        shipped = READY_MODELS[model_name or "lenet"].weights
        with resources.as_file(folder.joinpath(shipped)) as path:
            model = load_model(path)
        origin = json.loads(folder.joinpath(shipped.replace(".npz", ".json"))
                            .read_text(encoding="utf-8"))
        origin["file"] = f"cnn/demo/weights/{shipped} (shipped with cnn-ext)"
    else:
        source = f"--weights {os.fspath(weights)!r}"
        try:
            model = load_model(weights)
        except FileNotFoundError:
            raise FileNotFoundError(f"{source}: no such file") from None
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None
        if model_name is not None and type(model) is not READY_MODELS[model_name].model_class:
            raise ValueError(f"{source} holds a {type(model).__name__}, not the --model "
                             f"{model_name} asked for")
        origin = {"file": os.path.abspath(weights)}
    return check_demo_model(model, "the model"), origin


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``cnn-demo``; returns the exit status (0 after Ctrl-C)."""
    args = parse_args(argv)
    try:
        model, origin = load_demo_model(args.model, args.weights)
    except (OSError, ValueError, TypeError) as error:
        print(f"cnn-demo: {error}", file=sys.stderr)
        return 2
    try:
        server = DemoServer(model, origin, args.host, args.port)
    except OSError as error:
        print(f"cnn-demo: cannot listen on {args.host}:{args.port}: {error.strerror or error}"
              + (" (another program uses the port; try --port 0)" if args.port else ""),
              file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"serving on {server.url}", flush=True)
        if not _is_loopback(args.host):
            print(f"warning: --host {args.host}: the page and its API are reachable from the "
                  f"network, by anyone who can reach this machine", file=sys.stderr, flush=True)
        print(f"{type(model).__name__} ({model.num_params():,} parameters) from "
              f"{origin['file']}; Ctrl-C stops", flush=True)
        if args.open:
            threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
