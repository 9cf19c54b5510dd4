"""``python -m cnn.book``: programs in the book's style (tests/book/programs/chapter, our own)
run unchanged, on cnn.book's packages and never on the decoys beside them."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn.book import load_params
from mnist_files import MNIST_DIR

CHAPTER = Path(__file__).parent / "programs" / "chapter"


def run_book(*arguments, cwd=CHAPTER):
    """``python -m cnn.book ARGUMENTS`` from ``cwd`` (a chapter's folder, as the book's
    programs are run), on the repository's MNIST copy, without a display."""
    env = {**os.environ, "CNN_EXT_DATA": str(MNIST_DIR), "MPLBACKEND": "Agg"}
    env.pop("DISPLAY", None)
    return subprocess.run([sys.executable, "-m", "cnn.book", *map(str, arguments)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def printed_values(stdout, prefix):
    return [float(line.split(":")[-1]) for line in stdout.splitlines() if line.startswith(prefix)]


def test_the_gradient_checks_of_a_book_style_program_print_tiny_differences():
    finished = run_book("--seed", "3", "check_gradients.py")
    assert finished.returncode == 0, finished.stderr
    two_layer = printed_values(finished.stdout, "two-layer ")
    conv = printed_values(finished.stdout, "conv ")
    assert len(two_layer) == 4 and len(conv) == 6
    assert max(two_layer) < 1e-6 and max(conv) < 1e-6, finished.stdout
    assert "decoy" not in finished.stderr
    assert "check_gradients.py took" in finished.stderr


def test_a_seeded_run_repeats_and_the_seed_changes_it(tmp_path):
    runs = [run_book("--seed", seed, "train_small.py", tmp_path / f"{index}.pkl")
            for index, seed in enumerate((5, 5, 6))]
    for finished in runs:
        assert finished.returncode == 0, finished.stderr
    losses = [printed_values(finished.stdout, "train loss:") for finished in runs]
    assert len(losses[0]) == 20  # 2 epochs of 500 / 50 steps
    assert losses[0] == losses[1] and losses[0] != losses[2]
    assert "=== epoch:2, train acc:" in runs[0].stdout and "test acc:" in runs[0].stdout
    assert "dtypes: ['float64']" in runs[0].stdout
    saved = load_params(tmp_path / "0.pkl")
    assert sorted(saved) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert not np.array_equal(saved["W1"], load_params(tmp_path / "2.pkl")["W1"])


def test_float32_computes_on_copies_and_keeps_float64_weights(tmp_path):
    finished = run_book("--seed", "5", "--float32", "train_small.py", tmp_path / "p.pkl")
    assert finished.returncode == 0, finished.stderr
    assert "dtypes: ['float64']" in finished.stdout  # the master copy the optimizer updates
    losses32 = printed_values(finished.stdout, "train loss:")
    losses64 = printed_values(run_book("--seed", "5", "train_small.py", tmp_path / "q.pkl").stdout,
                              "train loss:")
    np.testing.assert_allclose(losses32[:5], losses64[:5], rtol=1e-4)
    assert losses32 != losses64


def test_figures_are_saved_as_numbered_pngs(tmp_path):
    finished = run_book("--seed", "1", "--figures", tmp_path / "figures", "train_small.py",
                        tmp_path / "p.pkl")
    assert finished.returncode == 0, finished.stderr
    saved = sorted((tmp_path / "figures").glob("*.png"))
    assert [path.name for path in saved] == ["figure-01.png"]
    assert saved[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_a_display_the_figures_are_skipped_with_a_note(tmp_path):
    finished = run_book("--seed", "1", "train_small.py", tmp_path / "p.pkl")
    assert finished.returncode == 0, finished.stderr
    assert "no display here" in finished.stderr and "--figures DIR" in finished.stderr


def test_the_programs_exit_status_and_errors_come_through(tmp_path):
    failing = tmp_path / "fails.py"
    failing.write_text("import sys\nfrom common.layers import Relu\nprint('ran', Relu)\nsys.exit(3)\n")
    finished = run_book(failing, cwd=tmp_path)
    assert finished.returncode == 3
    assert "ran <class 'cnn.book.common.layers.Relu'>" in finished.stdout
    broken = tmp_path / "broken.py"
    broken.write_text("from common.layers import NoSuchLayer\n")
    finished = run_book(broken, cwd=tmp_path)
    assert finished.returncode == 1 and "ImportError" in finished.stderr
    assert "NoSuchLayer" in finished.stderr


def test_arguments_reach_the_program_and_options_anywhere_before_a_double_dash(tmp_path):
    echo = tmp_path / "echo.py"
    echo.write_text("import sys, numpy as np\nprint(sys.argv[1:], np.random.rand())\n")
    seeded = run_book(echo, "a", "--seed", "4", cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    np.random.seed(4)
    assert seeded.stdout.strip() == f"['a'] {np.random.rand()}"
    passed = run_book(echo, "a", "--", "--seed", "4", cwd=tmp_path)
    assert passed.stdout.startswith("['a', '--seed', '4'] ")


@pytest.mark.parametrize("arguments, words", [
    (["missing.py"], ["SCRIPT", "no such file", "missing.py"]),
    (["--seed", "-1", "echo.py"], ["--seed", "2**32 - 1", "-1"]),
    (["--seed", "x", "echo.py"], ["--seed", "invalid int value", "'x'"]),
    (["--figures", "echo.py", "echo.py"], ["--figures must name a folder", "the file echo.py"]),
    ([], ["required", "script"]),
])
def test_bad_command_lines_are_refused_naming_the_argument(tmp_path, arguments, words):
    (tmp_path / "echo.py").write_text("print('ran')\n")
    finished = run_book(*arguments, cwd=tmp_path)
    assert finished.returncode == 2 and "ran" not in finished.stdout
    for word in words:
        assert word in finished.stderr


def test_star_imports_give_what_the_books_modules_give(tmp_path):
    program = tmp_path / "stars.py"
    program.write_text("from common.optimizer import *\nprint(np.sqrt(4.0), SGD().lr)\n"
                       "from common.layers import *\nprint(softmax(np.zeros(2)), im2col.__name__)\n")
    finished = run_book(program, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["2.0", "0.01", "[0.5", "0.5]", "im2col"]
