"""Nothing is lost: atomic writes survive a killed writer, a killed run resumes to the weights of
an uninterrupted one, Ctrl-C saves and says how to resume, and prediction memory stays bounded."""

import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from cnn.models import LeNet
from cnn.storage import atomic_write_npz, read_npz
from mnist_files import first_training_images
from paths import ROOT
from cnn_ext.runtime.memory import cached_memory_peak

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "examples" / "train_lenet.py"
RUN_FLAGS = ["--train-size", "256", "--epochs", "3", "--batch-size", "32", "--seed", "4"]
PREDICTION_MEMORY_BOUND = 64 * 2**20

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from cnn.storage import atomic_write_npz
    big = {"a": np.arange(30_000_000, dtype=np.float64)}
    print("ready", flush=True)
    while True:
        atomic_write_npz(sys.argv[1], big)
""")


def test_a_writer_killed_mid_write_leaves_the_old_file_or_the_new_one(tmp_path):
    path = tmp_path / "weights.npz"
    atomic_write_npz(path, {"a": np.arange(10.0)})
    killed_mid_write = 0
    for delay in (0.3, 0.7, 1.1):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE,
                                  text=True, cwd=tmp_path)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(delay)
        killed_mid_write += any(tmp_path.glob(".tmp-*"))
        writer.kill()
        writer.wait()
        saved = read_npz(path)["a"]
        assert saved.shape in ((10,), (30_000_000,))
        assert saved[-1] == saved.shape[0] - 1
    assert killed_mid_write, "the writer was never caught in the middle of a write"


def run_example(out, *flags):
    return subprocess.run([sys.executable, str(EXAMPLE), *RUN_FLAGS, "--out", str(out), *flags],
                          capture_output=True, text=True, timeout=600)


def start_and_signal_after_first_epoch(out, signal_number):
    process = subprocess.Popen([sys.executable, str(EXAMPLE), *RUN_FLAGS, "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("| epoch 1 "):
            break
    process.send_signal(signal_number)
    stdout, stderr = process.communicate(timeout=600)
    return process.returncode, stderr


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    result = run_example(out)
    assert result.returncode == 0, result.stderr
    return read_npz(out / "weights.npz")


def assert_same_weights(out, expected):
    weights = read_npz(out / "weights.npz")
    for key, value in expected.items():
        np.testing.assert_array_equal(weights[key], value, err_msg=key)


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path, uninterrupted):
    returncode, _ = start_and_signal_after_first_epoch(tmp_path, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    resumed = run_example(tmp_path, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    assert_same_weights(tmp_path, uninterrupted)


def test_ctrl_c_saves_says_how_to_resume_and_resume_finishes(tmp_path, uninterrupted):
    returncode, stderr = start_and_signal_after_first_epoch(tmp_path, signal.SIGINT)
    assert returncode == 130
    assert "Traceback" not in stderr
    assert "checkpoint saved to" in stderr and "--resume" in stderr
    resumed = run_example(tmp_path, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_weights(tmp_path, uninterrupted)


def test_predicting_60000_images_stays_under_the_memory_bound():
    images = np.repeat(first_training_images(1000)[0], 60, axis=0)  # 60,000 images
    model = LeNet(seed=0)
    cached_memory_peak(reset=True)
    tracemalloc.start()
    try:
        scores = model.predict_batches(images)
        _, traced = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    cached = cached_memory_peak()  # freed blocks the engine's cache held: no live array counts them
    assert scores.shape == (60000, 10)
    # A single im2col over all 60,000 images would need 60000*784*25*4 bytes = 4.7 GB.
    assert traced + cached < PREDICTION_MEMORY_BOUND, \
        f"live arrays {traced / 2**20:.1f} MiB and the cache {cached / 2**20:.1f} MiB"
