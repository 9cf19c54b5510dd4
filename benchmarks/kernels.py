"""Kernel benchmarks: cnn_ext against the memory-bandwidth floor, the NumPy reference and PyTorch."""

from __future__ import annotations

import numpy as np

import cnn_ext
from cnn_ext import reference
from timing import median_seconds

# name, input shape, filter or pool size, stride, pad
CONV_SHAPES = [
    ("conv1", (128, 1, 28, 28), 5, 1, 2),
    ("conv2", (128, 6, 14, 14), 5, 1, 2),
    ("large", (64, 64, 32, 32), 3, 1, 1),
]
POOL_SHAPES = [
    ("pool1", (128, 6, 28, 28), 2, 2, 0),
    ("pool2", (128, 16, 14, 14), 2, 2, 0),
]


def copy_time(size: int, dtype, repeats: int) -> float:
    """Seconds to copy ``size`` elements with np.copyto: the memory-bandwidth floor."""
    source = np.ones(size, dtype)
    target = np.empty(size, dtype)
    return median_seconds(lambda: np.copyto(target, source), repeats)


def torch_functions(threads: int):
    """PyTorch's unfold, fold and max-pool forward/backward, or None without torch."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(threads)

    def pool_backward(grad, x, size, stride, pad, indices):
        return torch.ops.aten.max_pool2d_with_indices_backward(
            grad, x, [size, size], [stride, stride], [pad, pad], [1, 1], False, indices)

    return {
        "tensor": torch.from_numpy,
        "im2col": lambda x, k, s, p: F.unfold(x, k, padding=p, stride=s),
        "col2im": lambda col, hw, k, s, p: F.fold(col, hw, k, padding=p, stride=s),
        "pool_forward": lambda x, k, s, p: F.max_pool2d(x, k, s, p, return_indices=True),
        "pool_backward": pool_backward,
    }


def run(dtypes, repeats: int, threads: int) -> list[dict]:
    """One row per kernel, shape and dtype with seconds for cnn_ext and each baseline."""
    torch_ops = torch_functions(threads)
    rng = np.random.default_rng(0)
    rows = []
    for dtype in dtypes:
        for name, shape, size, stride, pad in CONV_SHAPES:
            x = rng.standard_normal(shape).astype(dtype)
            col = cnn_ext.im2col(x, size, size, stride, pad)
            row = dict(kernel="im2col", shape=name, dtype=np.dtype(dtype).name)
            row["cnn_ext"] = median_seconds(lambda: cnn_ext.im2col(x, size, size, stride, pad), repeats)
            row["memcpy"] = copy_time(col.size, dtype, repeats)
            row["numpy"] = median_seconds(lambda: reference.im2col(x, size, size, stride, pad), 3, 1)
            back = dict(kernel="col2im", shape=name, dtype=row["dtype"])
            back["cnn_ext"] = median_seconds(lambda: cnn_ext.col2im(col, shape, size, size, stride, pad), repeats)
            back["memcpy"] = row["memcpy"]
            back["numpy"] = median_seconds(lambda: reference.col2im(col, shape, size, size, stride, pad), 3, 1)
            if torch_ops:
                tx = torch_ops["tensor"](x)
                tcol = torch_ops["im2col"](tx, size, stride, pad)
                row["torch"] = median_seconds(lambda: torch_ops["im2col"](tx, size, stride, pad), repeats)
                back["torch"] = median_seconds(lambda: torch_ops["col2im"](tcol, shape[2:], size, stride, pad), repeats)
            rows += [row, back]
        for name, shape, size, stride, pad in POOL_SHAPES:
            x = rng.standard_normal(shape).astype(dtype)
            out, argmax = cnn_ext.maxpool_forward(x, size, size, stride, pad)
            dout = rng.standard_normal(out.shape).astype(dtype)
            forward = dict(kernel="maxpool_forward", shape=name, dtype=np.dtype(dtype).name)
            backward = dict(kernel="maxpool_backward", shape=name, dtype=forward["dtype"])
            both = dict(kernel="maxpool_fwd+bwd", shape=name, dtype=forward["dtype"])
            forward["cnn_ext"] = median_seconds(lambda: cnn_ext.maxpool_forward(x, size, size, stride, pad), repeats)
            backward["cnn_ext"] = median_seconds(
                lambda: cnn_ext.maxpool_backward(dout, argmax, shape, size, size, stride, pad), repeats)
            forward["memcpy"] = copy_time(x.size, dtype, repeats)
            backward["memcpy"] = forward["memcpy"]
            forward["numpy"] = median_seconds(lambda: reference.maxpool_forward(x, size, size, stride, pad), 3, 1)
            backward["numpy"] = median_seconds(
                lambda: reference.maxpool_backward(dout, argmax, shape, size, size, stride, pad), 3, 1)
            if torch_ops:
                tx, tdout = torch_ops["tensor"](x), torch_ops["tensor"](dout)
                _, indices = torch_ops["pool_forward"](tx, size, stride, pad)
                forward["torch"] = median_seconds(lambda: torch_ops["pool_forward"](tx, size, stride, pad), repeats)
                backward["torch"] = median_seconds(
                    lambda: torch_ops["pool_backward"](tdout, tx, size, stride, pad, indices), repeats)
            for key in ("cnn_ext", "memcpy", "numpy", "torch"):
                if key in forward:
                    both[key] = forward[key] + backward[key]
            rows += [forward, backward, both]
    return rows
