"""The Trainer: coverage of every sample, reproducibility, resume, Ctrl-C, NaN and checkpoints."""

import json
import os
import signal

import numpy as np
import pytest

from cnn.layers import Affine, Dropout, Layer, Relu
from cnn.models import Sequential
from cnn.optim import Adam, SGD
from cnn.schedules import cosine
from cnn.storage import atomic_write_npz
from cnn.trainer import Trainer, TrainingInterrupted, format_epoch

N_SAMPLES, FEATURES, CLASSES = 50, 6, 3


class SampleRecorder(Layer):
    """Passes x through; records the sample ids (column 0) seen in training."""

    def __init__(self, on_step=None):
        super().__init__()
        self.seen = []
        self.on_step = on_step

    def forward(self, x, train=True):
        if train:
            self.seen.append(x[:, 0].astype(int).tolist())
            if self.on_step:
                self.on_step(len(self.seen))
        return x

    def backward(self, dout):
        return dout


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_SAMPLES, FEATURES))
    x[:, 0] = np.arange(N_SAMPLES)
    t = (x[:, 1] > 0).astype(int) + (x[:, 2] > 0)
    return x, t


def small_model(recorder=None, seed=0):
    rng = np.random.default_rng(seed)
    layers = [Affine(rng.standard_normal((FEATURES, 8)) * 0.3, np.zeros(8)), Relu(),
              Affine(rng.standard_normal((8, CLASSES)) * 0.3, np.zeros(CLASSES))]
    return Sequential(([recorder] if recorder else []) + layers)


def test_every_sample_is_seen_once_per_epoch():
    recorder = SampleRecorder()
    x, t = data()
    Trainer(small_model(recorder), SGD(lr=0.01), batch_size=16, log=None).fit(x, t, epochs=2)
    assert [len(batch) for batch in recorder.seen] == [16, 16, 16, 2] * 2
    for epoch in range(2):
        ids = sum(recorder.seen[4 * epoch:4 * epoch + 4], [])
        assert sorted(ids) == list(range(N_SAMPLES))
    assert recorder.seen[0] != recorder.seen[4]  # reshuffled


def test_history_and_report_lines():
    x, t = data()
    lines = []
    history = Trainer(small_model(), Adam(lr=0.05), batch_size=10, log=lines.append).fit(
        x, t, epochs=3, x_test=x[:20], t_test=t[:20])
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert all(0 <= record["test_acc"] <= 1 for record in history)
    assert lines == [format_epoch(record) for record in history]
    assert lines[0].startswith("| epoch 1 | train loss ")
    assert " | test loss " in lines[0] and lines[0].endswith(" s")


def test_same_seed_same_result_other_seed_other_result():
    x, t = data()
    runs = []
    for seed in (3, 3, 4):
        model = small_model()
        Trainer(model, Adam(lr=0.01), batch_size=8, seed=seed, log=None).fit(x, t, epochs=2)
        runs.append(model.params)
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2]))


def train(epochs, checkpoint=None, resume=False, on_step=None):
    x, t = data()
    model = small_model(SampleRecorder(on_step))
    trainer = Trainer(model, Adam(lr=0.01), batch_size=8, seed=1, checkpoint=checkpoint,
                      lr_schedule=cosine(0.01, 4), log=None)
    history = trainer.fit(x, t, epochs, x_test=x, t_test=t, resume=resume)
    return model, history


def test_resume_after_an_epoch_equals_an_uninterrupted_run(tmp_path):
    uninterrupted, full_history = train(4)
    train(2, checkpoint=tmp_path / "checkpoint.npz")
    resumed, history = train(4, checkpoint=tmp_path / "checkpoint.npz", resume=True)
    assert all(np.array_equal(a, b) for a, b in zip(uninterrupted.params, resumed.params))
    assert [r["train_loss"] for r in history] == [r["train_loss"] for r in full_history]


def test_ctrl_c_saves_mid_epoch_and_resume_finishes_identically(tmp_path):
    uninterrupted, _ = train(4)
    checkpoint = tmp_path / "checkpoint.npz"

    def press_ctrl_c(step):
        if step == 11:  # inside the second epoch (7 steps per epoch)
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(TrainingInterrupted) as info:
        train(4, checkpoint=checkpoint, on_step=press_ctrl_c)
    assert info.value.checkpoint == checkpoint
    assert "epoch 2, step 4" in str(info.value)
    resumed, history = train(4, checkpoint=checkpoint, resume=True)
    assert len(history) == 4
    assert all(np.array_equal(a, b) for a, b in zip(uninterrupted.params, resumed.params))


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_a_nan_loss_stops_training_with_epoch_and_step():
    x, t = data()
    model = small_model()
    with pytest.raises(FloatingPointError) as info:
        Trainer(model, SGD(lr=1e200), batch_size=10, log=None).fit(x, t, epochs=3)
    message = str(info.value)
    assert "epoch 1, step 2" in message
    assert "smaller learning rate" in message


# NumPy 1.26's savez leaves its ZipFile to the garbage collector after a failed write.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_checkpoint_is_replaced_atomically(tmp_path):
    path = tmp_path / "state.npz"
    atomic_write_npz(path, {"a": np.arange(3)})
    before = path.read_bytes()
    class Unwritable:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_npz(path, {"a": np.arange(5), "b": Unwritable()})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["state.npz"]


def test_resume_refuses_other_settings(tmp_path):
    checkpoint = tmp_path / "checkpoint.npz"
    train(1, checkpoint=checkpoint)
    x, t = data()
    trainer = Trainer(small_model(SampleRecorder()), Adam(lr=0.01), batch_size=5, seed=1,
                      checkpoint=checkpoint, log=None)
    with pytest.raises(ValueError, match="batch_size=8"):
        trainer.fit(x, t, 2, resume=True)


def test_history_is_written_as_json(tmp_path):
    x, t = data()
    trainer = Trainer(small_model(), SGD(lr=0.01), batch_size=25, log=None)
    trainer.fit(x, t, 2)
    trainer.save_history(tmp_path / "history.json")
    assert json.loads((tmp_path / "history.json").read_text()) == trainer.history


@pytest.mark.parametrize("kwargs, words", [
    (dict(batch_size=0), ["batch_size", "0"]),
    (dict(model="lenet"), ["model", "Sequential"]),
    (dict(optimizer="adam"), ["optimizer", "Optimizer"]),
])
def test_bad_trainer_arguments(kwargs, words):
    arguments = dict(model=small_model(), optimizer=SGD(lr=0.1)) | kwargs
    with pytest.raises((TypeError, ValueError)) as info:
        Trainer(**arguments)
    assert all(word in str(info.value) for word in words)


def test_bad_fit_arguments():
    x, t = data()
    trainer = Trainer(small_model(), SGD(lr=0.1), log=None)
    with pytest.raises(ValueError, match="one label per sample"):
        trainer.fit(x, t[:-1], 1)
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit(x, t, 0)
    with pytest.raises(ValueError, match="checkpoint"):
        trainer.fit(x, t, 1, resume=True)


def test_checkpoint_directory_is_created(tmp_path):
    checkpoint = tmp_path / "runs" / "lenet" / "checkpoint.npz"
    train(1, checkpoint=checkpoint)
    assert checkpoint.is_file()


class InterruptInEvaluation(Layer):
    """Passes x through; presses Ctrl-C in the evaluation after ``after_steps`` training steps."""

    def __init__(self, after_steps):
        super().__init__()
        self.after_steps = after_steps
        self.steps = 0

    def forward(self, x, train=True):
        if train:
            self.steps += 1
        elif self.steps == self.after_steps:
            self.steps += 1  # once
            signal.raise_signal(signal.SIGINT)
        return x

    def backward(self, dout):
        return dout


def test_ctrl_c_during_the_last_evaluation_is_not_ignored(tmp_path):
    x, t = data()
    model = small_model(InterruptInEvaluation(after_steps=14))  # 7 steps per epoch, 2 epochs
    trainer = Trainer(model, SGD(lr=0.01), batch_size=8, checkpoint=tmp_path / "c.npz", log=None)
    with pytest.raises(TrainingInterrupted, match="the end of epoch 2; checkpoint saved"):
        trainer.fit(x, t, epochs=2, x_test=x, t_test=t)
    assert len(trainer.history) == 2


def test_labels_may_be_any_array_like():
    x, t = data()
    from_list, from_array = small_model(), small_model()
    Trainer(from_list, SGD(lr=0.05), batch_size=8, log=None).fit(
        x, t.tolist(), epochs=2, x_test=x[:10], t_test=tuple(t[:10]))
    Trainer(from_array, SGD(lr=0.05), batch_size=8, log=None).fit(
        x, t, epochs=2, x_test=x[:10], t_test=t[:10])
    assert all(np.array_equal(a, b) for a, b in zip(from_list.params, from_array.params))
    one_hot = small_model()
    Trainer(one_hot, SGD(lr=0.05), batch_size=8, log=None).fit(x, np.eye(CLASSES)[t], epochs=2)
    assert all(np.array_equal(a, b) for a, b in zip(one_hot.params, from_array.params))


def test_resume_restores_the_dropout_generators(tmp_path):
    def run(epochs, resume=False):
        x, t = data()
        rng = np.random.default_rng(0)
        model = Sequential([Affine(rng.standard_normal((FEATURES, 8)) * 0.3, np.zeros(8)),
                            Dropout(0.5, seed=9), Relu(),
                            Affine(rng.standard_normal((8, CLASSES)) * 0.3, np.zeros(CLASSES))])
        Trainer(model, SGD(lr=0.05), batch_size=8, checkpoint=tmp_path / "c.npz", log=None).fit(
            x, t, epochs, resume=resume)
        return model

    (tmp_path / "c.npz").unlink(missing_ok=True)
    whole = run(4)
    (tmp_path / "c.npz").unlink()
    run(2)
    resumed = run(4, resume=True)
    assert all(np.array_equal(a, b) for a, b in zip(whole.params, resumed.params))
