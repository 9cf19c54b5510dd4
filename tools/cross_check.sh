#!/usr/bin/env bash
# The direct-convolution kernels (cnn_ext/engines/direct/direct_conv.h) against plain loops, as a C
# program (tools/direct_conv_check.c), for each x86-64 path this CPU runs and for arm64 under
# qemu, where no arm64 machine or Python is at hand:
#     apt-get install gcc-aarch64-linux-gnu qemu-user && tools/cross_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d "${TMPDIR:-/tmp}/cnn-ext-cross.XXXXXX")
trap 'rm -rf "$out"' EXIT
flags=(-O3 -Wall -Wno-unused-function -Wno-psabi -Icnn_ext/engines/direct tools/direct_conv_check.c -lm)

gcc "${flags[@]}" -o "$out/baseline" && "$out/baseline"
if grep -q avx2 /proc/cpuinfo && grep -q fma /proc/cpuinfo; then
    gcc -DCNN_SIMD_AVX2=1 -mavx2 -mfma "${flags[@]}" -o "$out/avx2" && "$out/avx2"
fi
if grep -q avx512f /proc/cpuinfo; then
    gcc -DCNN_SIMD_AVX512=1 -mavx512f -mavx2 -mfma "${flags[@]}" -o "$out/avx512" && "$out/avx512"
fi
if command -v aarch64-linux-gnu-gcc > /dev/null && command -v qemu-aarch64 > /dev/null; then
    echo "arm64 (aarch64-linux-gnu-gcc, run by qemu-aarch64):"
    aarch64-linux-gnu-gcc -static "${flags[@]}" -o "$out/arm64" && qemu-aarch64 "$out/arm64"
else
    echo "arm64 skipped: needs aarch64-linux-gnu-gcc and qemu-aarch64" >&2
    exit 1
fi
