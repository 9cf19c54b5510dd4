"""Winograd's kernels against the direct kernels of one instruction-set path, one thread, batch 100:
the forward pass and the weight gradient of the 3x3 layers of DeepConvNet and ResNet.

    python benchmarks/winograd.py [avx512|avx2|baseline]

Prints each layer's median times (ms, of 11 calls after a first) and the ratio Winograd/direct,
with the forward pass's GFLOP/s (effective for Winograd: direct convolution's FLOPs over its
time). The kernels are called directly, on scratch allocated once, so the engine's threads and
routing play no part. Run it alone, with OPENBLAS_CORETYPE unset.
"""

from __future__ import annotations

import argparse

import numpy as np

from cnn_ext.engines.direct.dispatch import kernels_for, supported_paths
from timing import cpu_name, median_seconds

#: (input channels, map size, output channels, pad), batch 100.
LAYERS = [(1, 28, 16, 1), (16, 28, 16, 1), (16, 14, 32, 1), (32, 14, 32, 2), (32, 8, 64, 1),
          (64, 8, 64, 1), (16, 28, 32, 1), (32, 14, 64, 1), (64, 7, 64, 1)]
BATCH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", choices=supported_paths(), default=supported_paths()[-1])
    args = parser.parse_args()
    kernels = kernels_for(args.path)
    rng = np.random.default_rng(0)
    print(f"{args.path} path, one thread, batch {BATCH}, {cpu_name()}")
    for channels, size, out_channels, pad in LAYERS:
        out_size = size + 2 * pad - 2
        x = rng.standard_normal((BATCH, channels, size, size)).astype(np.float32)
        W = rng.standard_normal((out_channels, channels, 3, 3)).astype(np.float32)
        b = np.zeros(out_channels, np.float32)
        dout = rng.standard_normal((BATCH, out_channels, out_size, out_size)).astype(np.float32)
        out = np.empty_like(dout)
        dweights, dbias = np.zeros((out_channels, channels * 9), np.float32), b.copy()
        shape = (channels, size, size, out_channels)

        floats, offsets = kernels.winograd_scratch(*shape, pad, out_size, out_size, BATCH)
        buffers = np.empty(floats, np.float32), np.empty(offsets, np.intp)
        winograd = median_seconds(lambda: kernels.winograd(x, W, b, pad, False, out, *buffers),
                                  11, 1)
        floats, offsets = kernels.forward_scratch(False, *shape, 3, 3, pad, pad, 1, out_size,
                                                  out_size)
        buffers = np.empty(floats, np.float32), np.empty(offsets, np.intp)
        direct = median_seconds(
            lambda: kernels.forward(x, W, b, pad, pad, 1, False, out, *buffers), 11, 1)
        floats, offsets = kernels.winograd_gradient_scratch(*shape, pad, out_size, out_size, BATCH)
        buffers = np.empty(floats, np.float32), np.empty(offsets, np.intp)
        winograd_dw = median_seconds(
            lambda: kernels.winograd_gradient(x, dout, pad, dweights, dbias, *buffers), 11, 1)
        floats, offsets = kernels.backward_scratch(False, *shape, 3, 3, pad, pad, 1, out_size,
                                                   out_size, BATCH, False)
        buffers = np.empty(floats, np.float32), np.empty(offsets, np.intp)
        direct_dw = median_seconds(lambda: kernels.backward(
            x, dout, 3, 3, pad, pad, 1, dweights, dbias, None, None, *buffers), 11, 1)
        gflop = 2 * BATCH * out_channels * channels * 9 * out_size * out_size / 1e9
        print(f"{channels:>2}->{out_channels:<2} {size}x{size} pad {pad}: forward direct "
              f"{direct * 1e3:6.2f} ms ({gflop / direct:5.1f} GFLOP/s), Winograd "
              f"{winograd * 1e3:6.2f} ms ({gflop / winograd:5.1f}), ratio {winograd / direct:.2f};"
              f" dW direct {direct_dw * 1e3:6.2f}, Winograd {winograd_dw * 1e3:6.2f}, ratio "
              f"{winograd_dw / direct_dw:.2f}")


if __name__ == "__main__":
    main()
