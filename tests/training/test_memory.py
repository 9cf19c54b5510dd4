"""The memory a training step needs, what this process may take, and what is refused."""

import numpy as np
import pytest

from cnn import memory, train
from cnn.memory import (LinearMemory, MemoryBudget, NotEnoughMemory, check_training_memory,
                        measure_training_step, memory_budget, parse_size)
from cnn.models import DeepConvNet, LeNet
from cnn.models.ready import READY_MODELS
from cnn.optim import SGD, Adam
from cnn.trainer import Trainer
from mnist_files import MNIST_DIR

EIGHT_GIB = 8 << 30
SAMPLE = (1, 28, 28)


@pytest.mark.parametrize("text, expected", [("8G", EIGHT_GIB), ("512M", 512 << 20), ("1.5GiB", 3 << 29),
                                            ("1000", 1000), ("64kb", 64 << 10)])
def test_sizes_read_as_powers_of_1024(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "8X", "-1G", "0", "lots"])
def test_a_bad_size_names_the_variable(text):
    with pytest.raises(ValueError, match=f"CNN_EXT_MEMORY_LIMIT must be a positive size.*{text!r}"):
        parse_size(text)


def fake_proc(tmp_path, available_kib=None, cgroup=None):
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "statm").write_text("1000 25600 0 0 0 0 0\n")  # 100 MiB resident
    if available_kib is not None:
        (proc / "meminfo").write_text(f"MemTotal: 99999999 kB\nMemAvailable: {available_kib} kB\n")
    (proc / "self" / "cgroup").write_text("0::/job\n")
    root = tmp_path / "cgroup"
    (root / "job").mkdir(parents=True)
    if cgroup is not None:
        (root / "job" / "memory.max").write_text(f"{cgroup[0]}\n")
        (root / "job" / "memory.current").write_text(f"{cgroup[1]}\n")
    return proc, root


def test_the_budget_is_the_smallest_of_the_system_the_container_and_the_setting(tmp_path):
    proc, root = fake_proc(tmp_path, available_kib=16 << 20, cgroup=(6 << 30, 1 << 30))
    budget = memory_budget({}, proc, root)
    assert budget.free == 5 << 30 and "container" in budget.source
    capped = memory_budget({"CNN_EXT_MEMORY_LIMIT": "2G"}, proc, root)
    assert capped.free == (2 << 30) - 25600 * 4096 and "CNN_EXT_MEMORY_LIMIT=2G" in capped.source
    assert capped.usable == int(capped.free * (1 - memory.MARGIN))
    unlimited, _ = fake_proc(tmp_path / "other", available_kib=16 << 20, cgroup=("max", 1 << 30))
    assert memory_budget({}, unlimited, tmp_path / "other" / "cgroup").free == 16 << 30


def test_without_anything_to_read_there_is_no_budget(tmp_path):
    proc, root = fake_proc(tmp_path)
    (proc / "self" / "cgroup").unlink()
    assert memory_budget({}, proc, root) is None


def test_the_line_grows_with_the_batch_and_names_batches_that_fit():
    line = measure_training_step(DeepConvNet(seed=0), Adam(), SAMPLE, 4096)
    assert line.per_sample > 0
    for usable in (50 << 20, 300 << 20, 2 << 30):
        fitting = line.largest_batch(usable)
        assert line.at(fitting) <= usable < line.at(fitting + 1)


def test_the_trial_leaves_the_model_and_the_optimizer_untouched():
    model, optimizer = DeepConvNet(seed=0), Adam()
    state = {name: array.copy() for name, array in model.state_dict().items()}
    rngs = [layer.rng.bit_generator.state for layer in model.leaf_layers() if hasattr(layer, "rng")]
    measure_training_step(model, optimizer, SAMPLE, 512)
    assert all(np.array_equal(state[name], array) for name, array in model.state_dict().items())
    assert rngs == [layer.rng.bit_generator.state for layer in model.leaf_layers() if hasattr(layer, "rng")]
    assert optimizer.state_dict() == {} or all(not array.any() for array in optimizer.state_dict().values())


def test_a_step_too_large_is_refused_naming_a_batch_size_that_fits():
    model, optimizer = LeNet(seed=0), SGD(lr=0.1)
    budget = MemoryBudget(200 << 20, "a test's budget")
    with pytest.raises(NotEnoughMemory) as refused:
        check_training_memory(model, optimizer, SAMPLE, 8192, budget)
    message = str(refused.value)
    assert "batch_size=8192" in message and f"batch_size={refused.value.fitting} fits" in message
    assert "check_memory=False" in message and "a test's budget" in message
    assert 0 < refused.value.fitting < 8192
    assert check_training_memory(model, optimizer, SAMPLE, refused.value.fitting, budget) is not None


def test_a_step_that_fits_at_no_batch_size_says_so():
    budget = MemoryBudget(0, "a test's empty budget")
    with pytest.raises(NotEnoughMemory) as refused:
        check_training_memory(LeNet(seed=0), SGD(lr=0.1), SAMPLE, 16, budget)
    assert refused.value.fitting == 0
    assert "not even batch_size=1 fits" in str(refused.value)
    assert refused.value.what_fits("--batch-size ", ranks=3) == "not even --batch-size 3 fits"


@pytest.mark.parametrize("name", sorted(READY_MODELS))
def test_every_ready_models_default_batch_fits_a_laptop_of_8_gib(name):
    ready = READY_MODELS[name]
    budget = MemoryBudget(EIGHT_GIB - (1 << 30), "8 GiB less 1 GiB held")
    check_training_memory(ready.model_class(seed=0), Adam(), SAMPLE, ready.batch_size, budget)


def test_the_trainer_checks_before_its_first_step_unless_told_not_to(monkeypatch):
    monkeypatch.setenv("CNN_EXT_MEMORY_LIMIT", "1M")  # less than this process holds already
    x = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    t = np.arange(64) % 10
    model = LeNet(seed=0)
    before = model.params[0].copy()
    with pytest.raises(NotEnoughMemory, match="batch_size=32 needs about"):
        Trainer(model, SGD(lr=0.1), batch_size=32, log=None).fit(x, t, 1)
    assert np.array_equal(model.params[0], before)
    Trainer(model, SGD(lr=0.1), batch_size=32, log=None, check_memory=False).fit(x, t, 1)
    assert not np.array_equal(model.params[0], before)


def test_a_large_prediction_runs_in_parts_within_the_budget(monkeypatch):
    model = LeNet(seed=0)
    x = np.random.default_rng(1).random((3000, 1, 28, 28), dtype=np.float32)
    whole = model.predict(x)
    monkeypatch.setattr(memory, "SMALL_PREDICTION_BYTES", 0)  # walk and measure even this batch
    monkeypatch.setattr(memory, "memory_budget", lambda: MemoryBudget(40 << 20, "a test's budget"))
    chunk = memory.prediction_chunk(model, x)
    assert 1 <= chunk < 3000
    np.testing.assert_allclose(model.predict(x), whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_batches(x, batch_size=3000), whole, rtol=1e-5, atol=1e-6)


def test_the_job_stops_before_training_naming_a_batch_size_that_fits(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNN_EXT_MEMORY_LIMIT", "8G")
    status = train.main(["--model", "deepconvnet", "--batch-size", "60000", "--data-dir", str(MNIST_DIR),
                         "--out", str(tmp_path)])
    error = capsys.readouterr().err
    assert status == 2, error
    assert "--batch-size 60000 needs about" in error and "CNN_EXT_MEMORY_LIMIT=8G" in error
    assert "--no-memory-check" in error and "| epoch" not in error
    fitting = int(error.split("--batch-size ")[2].split(" fits")[0])
    assert 1000 <= fitting < 60000
    assert not (tmp_path / "checkpoint.npz").exists()
