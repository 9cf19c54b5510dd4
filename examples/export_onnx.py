"""Export the LeNet that examples/train_lenet.py trained to ONNX and run it with onnxruntime.

    python examples/train_lenet.py          # writes runs/lenet/weights.npz
    python examples/export_onnx.py          # writes runs/lenet/lenet.onnx, prints both accuracies

Needs the onnx extra: pip install ".[onnx]". The two accuracies on the 10,000 test images are
cnn-ext's and onnxruntime's for the same weights; they are equal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cnn.datasets import load_mnist
from cnn.interop import to_onnx
from cnn.interop.requirements import require
from cnn.models import LeNet

REPOSITORY_DATA = Path(__file__).resolve().parents[1] / "data" / "mnist"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=Path("runs/lenet/weights.npz"),
                        help="weights written by train_lenet.py (default runs/lenet/weights.npz)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the ONNX file to write (default: lenet.onnx beside the weights)")
    args = parser.parse_args(argv)
    out = args.out or args.weights.with_name("lenet.onnx")
    try:
        onnxruntime = require("onnxruntime")
        model = LeNet()
        model.load(args.weights)
        to_onnx(model, out)
    except (ImportError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"written: {out}")
    root = REPOSITORY_DATA if REPOSITORY_DATA.is_dir() else None
    _, (x_test, t_test) = load_mnist(flatten=False, root=root)
    ours = model.predict_batches(x_test).argmax(axis=1)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    theirs = np.concatenate([session.run(None, {"x": x_test[start:start + 1000]})[0]
                             for start in range(0, len(x_test), 1000)]).argmax(axis=1)
    print(f"cnn-ext accuracy:     {np.mean(ours == t_test):.4f}")
    print(f"onnxruntime accuracy: {np.mean(theirs == t_test):.4f}")
    print(f"predictions that differ: {int(np.sum(ours != theirs))} of {len(t_test)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
