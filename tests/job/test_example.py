"""The main job (examples/train_lenet.py, python -m cnn.train, cnn-train) end to end on a few images,
and its answers to bad flags."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn.validation import best_epoch
from mnist_files import MNIST_DIR
from extras import optional
from paths import ROOT

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "examples" / "train_lenet.py"


def run_example(*flags, env=None):
    return subprocess.run([sys.executable, str(EXAMPLE), *flags], capture_output=True, text=True,
                          env=env, timeout=300)


def test_short_run_writes_every_output(tmp_path):
    result = run_example("--train-size", "300", "--epochs", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("test accuracy: ")
    accuracy = float(lines[-1].split(": ")[1])
    assert 0.5 < accuracy <= 1.0
    assert sum(line.startswith("| epoch ") for line in lines) == 2
    history = json.loads((tmp_path / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2]
    assert history[-1]["test_acc"] == pytest.approx(accuracy, abs=1e-4)
    with np.load(tmp_path / "weights.npz") as weights:
        assert weights["layers.0.W"].shape == (6, 1, 5, 5)
    assert (tmp_path / "checkpoint.npz").exists()
    for figure in ("curves.png", "filters.png", "confusion.png", "misclassified.png"):
        assert (tmp_path / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure


def test_a_second_run_reports_the_finished_one_and_refuses_other_settings(tmp_path):
    first = run_example("--train-size", "64", "--epochs", "1", "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr
    weights = (tmp_path / "weights.npz").read_bytes()
    for flags in ([], ["--resume"]):
        again = run_example("--train-size", "64", "--epochs", "1", "--out", str(tmp_path), *flags)
        assert again.returncode == 0, again.stderr
        assert "holds a finished run of these settings" in again.stdout
        assert again.stdout.strip().splitlines()[-1] == first.stdout.strip().splitlines()[-1]
        assert "| epoch" not in again.stdout
    assert (tmp_path / "weights.npz").read_bytes() == weights  # nothing rewritten
    other = run_example("--train-size", "64", "--epochs", "1", "--seed", "4", "--out", str(tmp_path))
    assert other.returncode == 2
    assert "--seed 0 there, 4 here" in other.stderr


def test_validation_keep_best_and_early_stopping_flags(tmp_path):
    flags = ["--train-size", "300", "--epochs", "6", "--validation", "0.2", "--keep-best",
             "--early-stopping", "1", "--lr", "0.02", "--out", str(tmp_path)]
    result = run_example(*flags)
    assert result.returncode == 0, result.stderr
    assert "val: 60 training images held out (validation 0.2), not trained on" in result.stdout
    history = json.loads((tmp_path / "history.json").read_text())
    best = best_epoch(history)
    assert all(" | val loss " in line for line in result.stdout.splitlines() if line.startswith("| epoch"))
    if len(history) < 6:
        assert f"stopped early after epoch {len(history)}" in result.stdout
        assert len(history) - best >= 1
    assert f"kept the weights of epoch {best} " in result.stdout
    settings = json.loads((tmp_path / "run.json").read_text())
    assert (settings["validation"], settings["keep_best"], settings["early_stopping"]) == (0.2, True, 1)
    again = run_example(*flags)
    assert "holds a finished run of these settings" in again.stdout
    assert again.stdout.strip().splitlines()[-1] == result.stdout.strip().splitlines()[-1]


def test_without_matplotlib_the_figures_are_skipped(tmp_path):
    blocker = tmp_path / "blocker" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "blocker"))
    result = run_example("--train-size", "64", "--epochs", "1", "--out", str(tmp_path / "run"), env=env)
    assert result.returncode == 0, result.stderr
    assert 'figures skipped: matplotlib is needed for figures: pip install "cnn-ext[plot]"' in result.stdout
    assert not (tmp_path / "run" / "curves.png").exists()


def last_line(result):
    return result.stdout.strip().splitlines()[-1]


def test_the_module_and_the_console_command_run_the_same_job(tmp_path):
    flags = ["--data-dir", str(MNIST_DIR), "--train-size", "64", "--epochs", "1"]
    by_module = subprocess.run([sys.executable, "-m", "cnn.train", *flags, "--out", str(tmp_path / "m")],
                               capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert by_module.returncode == 0, by_module.stderr
    command = Path(sys.executable).parent / ("cnn-train.exe" if os.name == "nt" else "cnn-train")
    by_command = subprocess.run([str(command), *flags, "--out", str(tmp_path / "c")],
                                capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert by_command.returncode == 0, by_command.stderr
    by_script = run_example(*flags, "--out", str(tmp_path / "s"))
    assert last_line(by_module) == last_line(by_command) == last_line(by_script)
    assert last_line(by_module).startswith("test accuracy: ")


def test_data_comes_from_the_environment_outside_a_clone_and_data_dir_never_downloads(tmp_path):
    environment = dict(os.environ, CNN_EXT_DATA=str(MNIST_DIR))
    outside = subprocess.run([sys.executable, "-m", "cnn.train", "--train-size", "64", "--epochs", "1",
                              "--out", str(tmp_path / "run")], capture_output=True, text=True,
                             cwd=tmp_path, env=environment, timeout=300)
    assert outside.returncode == 0, outside.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    offline = subprocess.run([sys.executable, "-m", "cnn.train", "--data-dir", str(empty),
                              "--out", str(tmp_path / "other")], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300)
    assert offline.returncode == 2
    assert "--data-dir" in offline.stderr and "lacks" in offline.stderr and "mirror" not in offline.stderr
    assert list(empty.iterdir()) == []  # nothing fetched into it


def test_the_trained_lenet_exports_to_onnx_with_the_same_accuracy(tmp_path):
    optional("onnxruntime", 'pip install "cnn-ext[onnx]"')
    trained = run_example("--train-size", "300", "--epochs", "1", "--out", str(tmp_path))
    assert trained.returncode == 0, trained.stderr
    export = subprocess.run([sys.executable, str(EXAMPLE.with_name("export_onnx.py")),
                             "--weights", str(tmp_path / "weights.npz")],
                            capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stderr
    lines = export.stdout.strip().splitlines()
    ours, theirs = (float(line.split(":")[1]) for line in lines[-3:-1])
    assert ours == theirs == float(last_line(trained).split(": ")[1])
    assert (tmp_path / "lenet.onnx").exists()
