#!/usr/bin/env bash
# Run the kernel tests (cnn_ext.tests, collected from the installed package through the
# project's --pyargs) and the layer tests against a build compiled with AddressSanitizer (and with the
# CNN_EXT_DEBUG=1 bounds checks on), in a fresh virtual environment. Any out-of-bounds
# read or write in a kernel makes ASan abort the run with a report.
# Usage: tools/sanitize.sh [extra pytest arguments]
set -euo pipefail

project=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/cnn-ext-asan.XXXXXX")
trap 'rm -rf "$work"' EXIT

libasan=$(${CC:-gcc} -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
    echo "libasan.so not found: install gcc's AddressSanitizer runtime (libasan)"; exit 1
fi

"$python" -m venv "$work/venv"
CFLAGS="-fsanitize=address -fno-omit-frame-pointer -O1 -g" \
LDFLAGS="-fsanitize=address" \
CNN_EXT_DEBUG=1 \
    "$work/venv/bin/pip" install --quiet "$project[test]"

cd "$project"
# Python itself is not instrumented: preload the runtime, and leave leak checking to
# tools built for Python (CPython's allocator keeps memory on purpose at exit).
LD_PRELOAD="$libasan" \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1" \
CNN_EXT_EXPECT_DEBUG=1 \
    "$work/venv/bin/pytest" -p no:cacheprovider cnn_ext.tests \
    tests/test_bad_inputs.py::test_layers_models_optimizers tests/layers/test_layers_forward.py \
    tests/layers/test_layers_gradients.py tests/models/test_model_state.py "$@"
echo "AddressSanitizer: no error reported"
