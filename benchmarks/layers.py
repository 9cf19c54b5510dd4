"""Whole layers, cnn_ext's engine against PyTorch: every convolution of LeNet (batch 128), of the
book's DeepConvNet and of cnn.models.ResNet (batch 100; its stride-2 3x3 and 1x1 layers and its
3x3 layers on 14x14 and 7x7 maps), two depthwise 3x3 convolutions of a MobileNet-style block
(groups = channels, multipliers 1 and 2), forward and forward+backward, and max pooling.

    python benchmarks/layers.py                       # the table: each framework in its own process
    python benchmarks/layers.py --all-paths           # the table for every SIMD path this CPU has
    python benchmarks/layers.py --framework cnn-ext   # one framework's timings, as JSON

cnn_ext's calls are timed inside one ``cnn_ext.engine_scope()``, as a model's ``fit`` or
``predict_batches`` runs them. A first layer needs no input gradient, so its backward is
the weight gradient only (in PyTorch: an input without ``requires_grad``). GFLOP/s are effective:
the multiply-adds of direct convolution (2 per tap and output pixel; the backward passes as many
again for dW and for dx) over the time, so a Winograd layer, which does fewer, can pass the peak;
the peak is FMA units x lanes x 2 x the clock measured on this machine (timing.machine_peak).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from timing import machine_peak, median_seconds

HERE = Path(__file__).resolve().parent
# name, input shape, out channels, filter size, pad, whether the input needs a gradient, groups,
# stride
CONV_LAYERS = [
    ("LeNet conv1 5x5 1->6", (128, 1, 28, 28), 6, 5, 2, False, 1, 1),
    ("LeNet conv2 5x5 6->16", (128, 6, 14, 14), 16, 5, 2, True, 1, 1),
    ("deep conv1 3x3 1->16", (100, 1, 28, 28), 16, 3, 1, False, 1, 1),
    ("deep conv2 3x3 16->16", (100, 16, 28, 28), 16, 3, 1, True, 1, 1),
    ("deep conv3 3x3 16->32", (100, 16, 14, 14), 32, 3, 1, True, 1, 1),
    ("deep conv4 3x3 32->32 p2", (100, 32, 14, 14), 32, 3, 2, True, 1, 1),
    ("deep conv5 3x3 32->64", (100, 32, 8, 8), 64, 3, 1, True, 1, 1),
    ("deep conv6 3x3 64->64", (100, 64, 8, 8), 64, 3, 1, True, 1, 1),
    ("ResNet 3x3 16->32 s2", (100, 16, 28, 28), 32, 3, 1, True, 1, 2),
    ("ResNet 1x1 16->32 s2", (100, 16, 28, 28), 32, 1, 0, True, 1, 2),
    ("ResNet 3x3 32->32 14x14", (100, 32, 14, 14), 32, 3, 1, True, 1, 1),
    ("ResNet 3x3 32->64 s2", (100, 32, 14, 14), 64, 3, 1, True, 1, 2),
    ("ResNet 1x1 32->64 s2", (100, 32, 14, 14), 64, 1, 0, True, 1, 2),
    ("ResNet 3x3 64->64 7x7", (100, 64, 7, 7), 64, 3, 1, True, 1, 1),
    ("depthwise 3x3 32", (100, 32, 28, 28), 32, 3, 1, True, 32, 1),
    ("depthwise 3x3 32 x2", (100, 32, 14, 14), 64, 3, 1, True, 32, 1),
]
POOL_LAYERS = [
    ("LeNet pool1 2x2", (128, 6, 28, 28)),
    ("LeNet pool2 2x2", (128, 16, 14, 14)),
]


def conv_flops(shape, out_channels, size, pad, groups, stride) -> float:
    """Multiply-adds x 2 of one forward pass by direct convolution."""
    n, channels, height, width = shape
    return 2.0 * n * out_channels * (channels // groups) * size * size * \
        ((height + 2 * pad - size) // stride + 1) * ((width + 2 * pad - size) // stride + 1)


def cnn_ext_timings(repeats: int) -> dict:
    import cnn_ext
    rng = np.random.default_rng(0)
    timings = {}
    with cnn_ext.engine_scope():
        for name, shape, out_channels, size, pad, input_grad, groups, stride in CONV_LAYERS:
            x = rng.standard_normal(shape).astype(np.float32)
            W = (rng.standard_normal((out_channels, shape[1] // groups, size, size)) * 0.1
                 ).astype(np.float32)
            b = np.zeros(out_channels, np.float32)
            dout = rng.standard_normal(
                cnn_ext.conv2d_forward(x, W, b, stride, pad, groups=groups).shape).astype(np.float32)
            timings[name, "forward"] = median_seconds(
                lambda: cnn_ext.conv2d_forward(x, W, b, stride, pad, groups=groups), repeats)

            def both():
                cnn_ext.conv2d_forward(x, W, b, stride, pad, groups=groups)
                cnn_ext.conv2d_backward(x, W, dout, stride, pad, groups=groups,
                                        input_grad=input_grad)

            timings[name, "forward+backward"] = median_seconds(both, repeats)
        for name, shape in POOL_LAYERS:
            x = np.maximum(rng.standard_normal(shape).astype(np.float32), 0)
            out, _ = cnn_ext.maxpool_forward(x, 2, 2)
            dout = rng.standard_normal(out.shape).astype(np.float32)

            def pool():
                _, argmax = cnn_ext.maxpool_forward(x, 2, 2)
                cnn_ext.maxpool_backward(dout, argmax, shape, 2, 2)

            timings[name, "forward+backward"] = median_seconds(pool, repeats)
    return {"simd": cnn_ext.simd_path(), "timings": timings}


def torch_timings(repeats: int) -> dict:
    import torch
    import torch.nn.functional as F
    rng = np.random.default_rng(0)
    timings = {}
    for name, shape, out_channels, size, pad, input_grad, groups, stride in CONV_LAYERS:
        x = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).requires_grad_(input_grad)
        W = torch.randn(out_channels, shape[1] // groups, size, size, requires_grad=True)
        b = torch.zeros(out_channels, requires_grad=True)
        dout = torch.randn(F.conv2d(x, W, b, stride, pad, groups=groups).shape)

        def forward():
            with torch.no_grad():
                F.conv2d(x, W, b, stride, pad, groups=groups)

        timings[name, "forward"] = median_seconds(forward, repeats)
        timings[name, "forward+backward"] = median_seconds(
            lambda: F.conv2d(x, W, b, stride, pad, groups=groups).backward(dout), repeats)
    for name, shape in POOL_LAYERS:
        x = torch.from_numpy(np.maximum(rng.standard_normal(shape), 0).astype(np.float32))
        x.requires_grad_(True)
        dout = torch.randn(F.max_pool2d(x, 2).shape)
        timings[name, "forward+backward"] = median_seconds(
            lambda: F.max_pool2d(x, 2).backward(dout), repeats)
    return {"torch": torch.__version__, "timings": timings}


def measure(framework: str, repeats: int, threads: int) -> dict:
    if framework == "cnn-ext":
        import cnn_ext
        cnn_ext.set_num_threads(threads)
        result = cnn_ext_timings(repeats)
    else:
        import torch
        torch.set_num_threads(threads)
        result = torch_timings(repeats)
    result["timings"] = [[name, passes, seconds] for (name, passes), seconds in result["timings"].items()]
    return result


def in_own_process(framework: str, repeats: int, threads: int, simd: str | None = None) -> dict:
    """``measure`` in a fresh interpreter, so that each framework has the cores to itself."""
    environment = dict(os.environ)
    if simd is not None:
        environment["CNN_EXT_SIMD"] = simd
    command = [sys.executable, str(HERE / "layers.py"), "--framework", framework,
               "--repeats", str(repeats), "--threads", str(threads)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    return json.loads(output.stdout.strip().splitlines()[-1])


def rows(ours: dict, theirs: dict | None, threads: int) -> list[dict]:
    """One row per layer and pass: milliseconds, the ratio to PyTorch, GFLOP/s, fraction of peak."""
    peak = machine_peak(ours["simd"], threads)
    theirs_by_key = {(name, passes): seconds for name, passes, seconds in theirs["timings"]} if theirs else {}
    shapes = {layer[0]: layer[1:] for layer in CONV_LAYERS}
    table = []
    for name, passes, seconds in ours["timings"]:
        row = {"layer": name, "pass": passes, "simd": ours["simd"], "cnn_ext": seconds}
        if (name, passes) in theirs_by_key:
            row["torch"] = theirs_by_key[name, passes]
        if name in shapes:
            shape, out_channels, size, pad, input_grad, groups, stride = shapes[name]
            flops = conv_flops(shape, out_channels, size, pad, groups, stride)
            flops *= 1 if passes == "forward" else (3 if input_grad else 2)
            row["gflops"] = flops / seconds / 1e9
            row["peak_fraction"] = flops / seconds / peak["flops"]
        table.append(row)
    return table


def table(rows: list[dict]) -> str:
    header = (f"{'layer (float32)':<26} {'pass':<17} {'simd':<8} {'cnn_ext ms':>10} {'torch ms':>9} "
              f"{'ratio':>6} {'GFLOP/s':>8} {'of peak':>7}")
    lines = [header, "-" * len(header)]
    for row in rows:
        torch_ms = f"{row['torch'] * 1e3:.2f}" if "torch" in row else "-"
        ratio = f"{row['cnn_ext'] / row['torch']:.2f}" if "torch" in row else "-"
        gflops = f"{row['gflops']:.0f}" if "gflops" in row else "-"
        fraction = f"{row['peak_fraction']:.0%}" if "peak_fraction" in row else "-"
        lines.append(f"{row['layer']:<26} {row['pass']:<17} {row['simd']:<8} "
                     f"{row['cnn_ext'] * 1e3:>10.2f} {torch_ms:>9} {ratio:>6} {gflops:>8} {fraction:>7}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=["cnn-ext", "torch"],
                        help="time one framework in this process and print JSON")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--all-paths", action="store_true",
                        help="one table per SIMD path this CPU supports (CNN_EXT_SIMD)")
    args = parser.parse_args()
    if args.framework:
        print(json.dumps(measure(args.framework, args.repeats, args.threads)))
        return
    try:
        theirs = in_own_process("torch", args.repeats, args.threads)
    except subprocess.CalledProcessError:
        theirs = None
        print("PyTorch is not installed: its columns are left out")
    from cnn_ext.engines.direct.dispatch import supported_paths
    paths = supported_paths() if args.all_paths else [None]
    peak = machine_peak(None, args.threads)
    print(f"peak: {peak['description']}")
    for path in reversed(paths):
        ours = in_own_process("cnn-ext", args.repeats, args.threads, path)
        print(table(rows(ours, theirs, args.threads)))


if __name__ == "__main__":
    main()
