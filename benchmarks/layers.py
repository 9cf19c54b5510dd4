"""Whole layers, cnn_ext's engine against PyTorch: convolutions forward and backward, max pooling.

cnn_ext's calls are timed inside one ``cnn_ext.engine_scope()``, as a model's ``fit`` or
``predict_batches`` runs them (PyTorch's outside it: the scope limits every BLAS in the process).
A first layer needs no input gradient, so conv1's backward is the weight gradient only
(in PyTorch: an input without ``requires_grad``).
"""

from __future__ import annotations

import numpy as np

import cnn_ext
from timing import median_seconds

# name, input shape, out channels, filter size, stride, pad, whether the input needs a gradient
CONV_LAYERS = [
    ("conv1 5x5 1->6", (128, 1, 28, 28), 6, 5, 1, 2, False),
    ("conv2 5x5 6->16", (128, 6, 14, 14), 16, 5, 1, 2, True),
    ("3x3 32->64 14x14", (128, 32, 14, 14), 64, 3, 1, 1, True),
]
POOL_LAYERS = [
    ("pool1 2x2", (128, 6, 28, 28)),
    ("pool2 2x2", (128, 16, 14, 14)),
]


def ours(rng, shape, out_channels, size, stride, pad, input_grad):
    x = rng.standard_normal(shape).astype(np.float32)
    W = (rng.standard_normal((out_channels, shape[1], size, size)) * 0.1).astype(np.float32)
    b = np.zeros(out_channels, np.float32)
    dout = rng.standard_normal(cnn_ext.conv2d_forward(x, W, b, stride, pad).shape).astype(np.float32)

    def forward():
        cnn_ext.conv2d_forward(x, W, b, stride, pad)

    def both():
        cnn_ext.conv2d_forward(x, W, b, stride, pad)
        cnn_ext.conv2d_backward(x, W, dout, stride, pad, input_grad=input_grad)

    return forward, both


def theirs(rng, shape, out_channels, size, stride, pad, input_grad):
    import torch
    import torch.nn.functional as F
    x = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).requires_grad_(input_grad)
    W = torch.randn(out_channels, shape[1], size, size, requires_grad=True)
    b = torch.zeros(out_channels, requires_grad=True)
    dout = torch.randn(F.conv2d(x, W, b, stride, pad).shape)

    def forward():
        with torch.no_grad():
            F.conv2d(x, W, b, stride, pad)

    def both():
        F.conv2d(x, W, b, stride, pad).backward(dout)

    return forward, both


def pool_pair(rng, shape, with_torch):
    x = np.maximum(rng.standard_normal(shape).astype(np.float32), 0)
    out, _ = cnn_ext.maxpool_forward(x, 2, 2)
    dout = rng.standard_normal(out.shape).astype(np.float32)

    def ours_both():
        _, argmax = cnn_ext.maxpool_forward(x, 2, 2)
        cnn_ext.maxpool_backward(dout, argmax, shape, 2, 2)

    if not with_torch:
        return ours_both, None
    import torch
    import torch.nn.functional as F
    tx = torch.from_numpy(x).requires_grad_(True)
    tdout = torch.from_numpy(dout)

    def theirs_both():
        F.max_pool2d(tx, 2).backward(tdout)

    return ours_both, theirs_both


def ours_seconds(function, repeats: int) -> float:
    with cnn_ext.engine_scope():
        return median_seconds(function, repeats)


def run(repeats: int, threads: int, with_torch: bool) -> list[dict]:
    """One row per layer and pass: milliseconds for cnn_ext and (when installed) PyTorch."""
    if with_torch:
        import torch
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    for name, *arguments in CONV_LAYERS:
        backward_name = "forward+backward" if arguments[-1] else "forward+dW"
        ours_forward, ours_both = ours(rng, *arguments)
        timings = {"forward": [ours_forward], backward_name: [ours_both]}
        if with_torch:
            theirs_forward, theirs_both = theirs(rng, *arguments)
            timings["forward"].append(theirs_forward)
            timings[backward_name].append(theirs_both)
        for passes, functions in timings.items():
            row = {"layer": name, "pass": passes, "cnn_ext": ours_seconds(functions[0], repeats)}
            if len(functions) == 2:
                row["torch"] = median_seconds(functions[1], repeats)
            rows.append(row)
    for name, shape in POOL_LAYERS:
        ours_both, theirs_both = pool_pair(rng, shape, with_torch)
        row = {"layer": name, "pass": "forward+backward", "cnn_ext": ours_seconds(ours_both, repeats)}
        if theirs_both is not None:
            row["torch"] = median_seconds(theirs_both, repeats)
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    header = f"{'layer (batch 128, float32)':<27} {'pass':<17} {'cnn_ext ms':>10} {'torch ms':>9} {'ratio':>6}"
    lines = [header, "-" * len(header)]
    for row in rows:
        torch_ms = f"{row['torch'] * 1e3:.2f}" if "torch" in row else "-"
        ratio = f"{row['cnn_ext'] / row['torch']:.2f}" if "torch" in row else "-"
        lines.append(f"{row['layer']:<27} {row['pass']:<17} {row['cnn_ext'] * 1e3:>10.2f} "
                     f"{torch_ms:>9} {ratio:>6}")
    return "\n".join(lines)
