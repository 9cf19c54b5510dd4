"""Data-parallel training on MPI: every test launches ``mpiexec`` on 2 or 3 ranks and compares
with one process. Skipped without mpi4py (pip install "cnn-ext[mpi]"), except the tests of
what a user without it sees; .ci/run installs the extra and requires them."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from cnn.distributed import shard_bounds
from mnist_files import MNIST_DIR
from extras import optional

HERE = Path(__file__).parent
#: Seconds after which mpiexec kills a job that hangs, and the test fails.
HANG_SECONDS = 120
#: Where the processes start: not the repository's root, whose source folder cnn_ext/ (without
#: compiled modules) ``python -m`` would import instead of the installed package.
NEUTRAL_DIRECTORY = tempfile.gettempdir()
EPOCH_FLAGS = ["--train-size", "4096", "--batch-size", "64", "--epochs", "1",
               "--data-dir", str(MNIST_DIR)]


def mpiexec():
    optional("mpi4py", 'pip install "cnn-ext[mpi]"')
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.fail("mpi4py is installed but no mpiexec was found beside Python or on PATH")
    return found


def launch(ranks, *command, **options):
    """``mpiexec -n RANKS python COMMAND`` (or an MPMD ``ranks`` list of argument lists)."""
    env = {**os.environ, "MPIEXEC_TIMEOUT": str(HANG_SECONDS), "OMP_NUM_THREADS": "1"}
    if isinstance(ranks, int):
        argv = [mpiexec(), "-n", str(ranks), sys.executable, *command]
    else:
        argv = [mpiexec()]
        for index, program in enumerate(ranks):
            argv += ([":"] if index else []) + ["-n", "1", sys.executable, *program]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=HANG_SECONDS + 30,
                          cwd=NEUTRAL_DIRECTORY, **options)


def train(out, *flags, ranks=None):
    command = ["-m", "cnn.train", *EPOCH_FLAGS, "--out", str(out), *flags]
    if ranks is None:
        return subprocess.run([sys.executable, *command], capture_output=True, text=True,
                              timeout=HANG_SECONDS, cwd=NEUTRAL_DIRECTORY)
    return launch(ranks, *command, "--distributed")


def largest_difference(first, second):
    with np.load(first) as a, np.load(second) as b:
        assert sorted(a.files) == sorted(b.files)
        return max(float(np.max(np.abs(a[key] - b[key]))) for key in a.files
                   if a[key].dtype.kind == "f")


@pytest.fixture(scope="module")
def single_epoch(tmp_path_factory):
    """The main job's LeNet after one epoch of 4096 images at batch 64, in one process."""
    out = tmp_path_factory.mktemp("single")
    finished = train(out)
    assert finished.returncode == 0, finished.stderr
    return out / "weights.npz", finished.stdout


def test_shards_cover_a_batch_in_order_and_differ_by_at_most_one():
    for count in range(0, 20):
        for ranks in range(1, 6):
            bounds = [shard_bounds(count, ranks, rank) for rank in range(ranks)]
            assert bounds[0][0] == 0 and bounds[-1][1] == count
            assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
            sizes = [stop - start for start, stop in bounds]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("ranks", [2, 3])
def test_one_step_in_float64_matches_one_process(ranks):
    finished = launch(ranks, str(HERE / "mpi" / "one_step.py"))
    print(finished.stdout)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert finished.stdout.count("case ") == 4


@pytest.mark.parametrize("ranks", [2, 3])
def test_an_epoch_of_lenet_in_float32_matches_one_process(ranks, single_epoch, tmp_path):
    weights, single_output = single_epoch
    finished = train(tmp_path, ranks=ranks)
    assert finished.returncode == 0, finished.stderr
    difference = largest_difference(tmp_path / "weights.npz", weights)
    print(f"{ranks} ranks: largest weight difference from one process {difference:.3g}")
    assert difference <= 1e-4
    # Rank 0 alone prints and writes.
    assert finished.stdout.count("| epoch 1 |") == 1
    assert finished.stdout.count("test accuracy:") == 1
    assert f"on {ranks} ranks" in finished.stdout and "ms per step" in finished.stdout
    assert finished.stdout.splitlines()[-1] == single_output.splitlines()[-1]
    assert sorted(path.name for path in tmp_path.iterdir() if path.suffix in (".json", ".npz")) \
        == ["checkpoint.npz", "history.json", "run.json", "weights.npz"]


@pytest.mark.slow  # about 20 s: a run interrupted, then resumed, under mpiexec
def test_sigterm_ends_every_rank_and_the_run_resumes_on_other_ranks(tmp_path):
    """SIGTERM to mpiexec on 3 ranks, mid-run; --resume on 2 ranks; the weights of one
    uninterrupted process (float64: rounding alone apart)."""
    flags = ["--train-size", "1024", "--batch-size", "50", "--epochs", "4", "--dtype", "float64"]
    single = train(tmp_path / "single", *flags)
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "MPIEXEC_TIMEOUT": str(HANG_SECONDS), "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen([mpiexec(), "-n", "3", sys.executable, "-m", "cnn.train", *EPOCH_FLAGS,
                            "--out", str(tmp_path / "split"), *flags, "--distributed"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                           cwd=NEUTRAL_DIRECTORY)
    for line in job.stdout:
        if line.startswith("| epoch 1 |"):
            job.send_signal(signal.SIGTERM)
            break
    output, errors = job.communicate(timeout=HANG_SECONDS)
    assert job.returncode == 130, errors
    assert "checkpoint saved" in errors and "| epoch 4 |" not in output
    resumed = train(tmp_path / "split", *flags, "--resume", ranks=2)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    difference = largest_difference(tmp_path / "split" / "weights.npz",
                                    tmp_path / "single" / "weights.npz")
    print(f"interrupted on 3 ranks, resumed on 2: largest difference {difference:.3g}")
    assert difference <= 1e-9


def test_ranks_that_built_different_models_all_fail_with_the_reason(tmp_path):
    command = ["-m", "cnn.train", *EPOCH_FLAGS, "--out", str(tmp_path), "--distributed"]
    started = time.perf_counter()
    finished = launch([command + ["--dtype", "float32"], command + ["--dtype", "float64"]])
    assert finished.returncode == 2
    # Every rank refuses at once and ends normally; rank 0 prints the message, once. (An
    # MPI_Abort could end the job before the message reached the terminal.)
    assert finished.stderr.count("the ranks built different models") == 1, finished.stderr
    assert "float32" in finished.stderr and "float64" in finished.stderr
    assert "MPI_Abort" not in finished.stdout + finished.stderr
    assert time.perf_counter() - started < HANG_SECONDS


@pytest.mark.parametrize("ranks", [2, 3])
def test_the_distributed_optimizer_updates_as_one_process_does(ranks):
    finished = launch(ranks, str(HERE / "mpi" / "optimizer_update.py"))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "update largest relative difference" in finished.stdout


def test_ranks_whose_optimizers_differ_in_a_setting_fail_naming_it(tmp_path):
    def program(beta2):
        return ["-c", "import numpy as np; from cnn.distributed import World; "
                      "from cnn.layers import Affine; from cnn.models import Sequential; "
                      "from cnn.optim import Adam; from cnn.trainer import Trainer; "
                      "model = Sequential([Affine.create(3, 2, rng=0)]); "
                      f"Trainer(model, Adam(lr=0.01, beta2={beta2}), batch_size=4, log=None, "
                      "world=World()).fit(np.ones((8, 3), np.float32), np.zeros(8, int), epochs=1)"]
    finished = launch([program(0.999), program(0.9)])
    assert finished.returncode != 0
    assert "the ranks built different training setups" in finished.stderr
    assert "optimizer=" in finished.stderr and "'beta2': 0.999" in finished.stderr
    assert "'beta2': 0.9," in finished.stderr


def test_a_rank_short_of_memory_stops_every_rank_before_training(tmp_path):
    def program(limit):
        return ["-c", "import os; " + (f"os.environ['CNN_EXT_MEMORY_LIMIT'] = '{limit}'; " if limit else "")
                + "import numpy as np; from cnn.distributed import World; "
                  "from cnn.models import LeNet; from cnn.optim import SGD; from cnn.trainer import Trainer; "
                  "Trainer(LeNet(seed=0), SGD(lr=0.1), batch_size=8, log=None, world=World())"
                  ".fit(np.zeros((16, 1, 28, 28), np.float32), np.zeros(16, int), epochs=1)"]
    started = time.perf_counter()
    finished = launch([program("1M"), program(None)])
    assert finished.returncode != 0
    assert "NotEnoughMemory: batch_size=4 needs about" in finished.stderr  # rank 0's share of 8
    assert "another process of the job has too little memory" in finished.stderr
    assert time.perf_counter() - started < HANG_SECONDS


def test_the_job_short_of_memory_on_one_rank_says_so_once_and_no_batch_fits(tmp_path):
    def program(limit):
        return ["-c", "import os, sys; " + (f"os.environ['CNN_EXT_MEMORY_LIMIT'] = '{limit}'; " if limit else "")
                + f"from cnn.train import main; sys.exit(main({[*EPOCH_FLAGS, '--out', str(tmp_path), '--distributed']!r}))"]
    finished = launch([program(None), program("1M")])  # rank 1 cannot hold a single sample
    assert finished.returncode == 2
    assert finished.stderr.count("rank 1: error: --batch-size 64 needs about") == 1, finished.stderr
    assert "on each rank" in finished.stderr and "not even --batch-size 2 fits" in finished.stderr
    assert finished.stderr.count("rank 0: error: another process of the job has too little") == 1
    assert "MPI_Abort" not in finished.stdout + finished.stderr
    assert not (tmp_path / "checkpoint.npz").exists()


def test_a_rank_that_dies_ends_the_others(tmp_path):
    dying = ["-c", "import os, time; from mpi4py import MPI; time.sleep(2); os._exit(3)"]
    training = ["-m", "cnn.train", *EPOCH_FLAGS, "--epochs", "50", "--out", str(tmp_path),
                "--distributed"]
    started = time.perf_counter()
    finished = launch([training, dying])
    assert finished.returncode != 0
    assert "test accuracy" not in finished.stdout
    assert time.perf_counter() - started < HANG_SECONDS


def test_distributed_without_mpiexec_says_how_to_launch(tmp_path):
    optional("mpi4py", 'pip install "cnn-ext[mpi]"')
    finished = train(tmp_path, "--distributed")
    assert finished.returncode == 2
    assert "not part of an MPI job" in finished.stderr and "mpiexec -n 2" in finished.stderr


def test_distributed_without_mpi4py_names_the_extra(tmp_path):
    program = ("import sys; sys.modules['mpi4py'] = None; from cnn.train import main; "
               f"sys.exit(main({[*EPOCH_FLAGS, '--out', str(tmp_path), '--distributed']!r}))")
    finished = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                              timeout=HANG_SECONDS, cwd=NEUTRAL_DIRECTORY)
    assert finished.returncode == 2
    assert "needs mpi4py" in finished.stderr and 'cnn-ext[mpi]' in finished.stderr
