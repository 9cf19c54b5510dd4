"""The Trainer's validation set: held out from the training data or given, the best epoch's
weights kept, early stopping, all of it resumed bit for bit from a checkpoint."""

import signal

import numpy as np
import pytest

from cnn.layers import Affine, Layer, Relu
from cnn.models import Sequential
from cnn.optim import SGD, Adam
from cnn.trainer import Trainer, TrainingInterrupted, format_epoch
from cnn.validation import best_epoch, split_indices, stops_early
from cnn_ext.tests.messages import check_message

N_SAMPLES, FEATURES, CLASSES = 60, 6, 3


class SampleRecorder(Layer):
    """Passes x through; records the sample ids (column 0) seen in training; calls ``on_step``."""

    def __init__(self, on_step=None):
        super().__init__()
        self.seen = set()
        self.steps = 0
        self.on_step = on_step

    def forward(self, x, train=True):
        if train:
            self.seen.update(x[:, 0].astype(int).tolist())
            self.steps += 1
            if self.on_step:
                self.on_step(self.steps)
        return x

    def backward(self, dout):
        return dout


def data(seed=0):
    """Noisy labels, so that the validation accuracy goes up and down from epoch to epoch."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N_SAMPLES, FEATURES))
    x[:, 0] = np.arange(N_SAMPLES)
    t = ((x[:, 1] > 0).astype(int) + (x[:, 2] > 0) + (rng.random(N_SAMPLES) < 0.3)) % CLASSES
    return x, t


def model(recorder=None):
    rng = np.random.default_rng(0)
    layers = [Affine(rng.standard_normal((FEATURES, 16)) * 0.5, np.zeros(16)), Relu(),
              Affine(rng.standard_normal((16, CLASSES)) * 0.5, np.zeros(CLASSES))]
    return Sequential([recorder or SampleRecorder()] + layers)


def timeless(history):
    """A history without its timings, which differ from run to run."""
    return [{key: value for key, value in record.items() if key != "seconds"} for record in history]


def weights(net):
    return {key: value.copy() for key, value in net.named_arrays().items()}


def test_a_fraction_is_held_out_from_seed_and_never_trained_on():
    train, held_out = split_indices(N_SAMPLES, 0.25, seed=4)
    assert len(held_out) == 15 and len(train) == 45
    assert sorted(np.concatenate([train, held_out]).tolist()) == list(range(N_SAMPLES))
    assert np.array_equal(held_out, split_indices(N_SAMPLES, 0.25, seed=4)[1])
    assert not np.array_equal(held_out, split_indices(N_SAMPLES, 0.25, seed=5)[1])
    x, t = data()
    recorder = SampleRecorder()
    net = model(recorder)
    history = Trainer(net, SGD(lr=0.05), batch_size=8, seed=4, validation=0.25, log=None).fit(
        x, t, epochs=2)
    assert recorder.seen == set(train.tolist())
    loss, acc = net.evaluate(x[held_out], t[held_out])
    assert (history[-1]["val_loss"], history[-1]["val_acc"]) == (loss, acc)


def test_a_given_pair_is_evaluated_after_each_epoch_and_reported():
    x, t = data()
    lines = []
    net = model()
    history = Trainer(net, SGD(lr=0.05), batch_size=8, validation=(x[:20], t[:20]),
                      log=lines.append).fit(x, t, epochs=2, x_test=x[20:], t_test=t[20:])
    assert (history[-1]["val_loss"], history[-1]["val_acc"]) == net.evaluate(x[:20], t[:20])
    assert history[-1]["test_acc"] == net.evaluate(x[20:], t[20:])[1]
    assert lines == [format_epoch(record) for record in history]
    assert " | val loss " in lines[0] and lines[0].index("val loss") < lines[0].index("test loss")
    assert all(record["val_acc"] is None for record in
               Trainer(model(), SGD(lr=0.05), log=None).fit(x, t, epochs=1))


def per_epoch_weights(epochs, **settings):
    """The weights after each epoch of a run without keep_best, and its history."""
    x, t = data()
    net = model()
    snapshots = []
    history = Trainer(net, SGD(lr=0.3), batch_size=4, log=lambda line: snapshots.append(weights(net)),
                      **settings).fit(x, t, epochs)
    return snapshots, history


def test_keep_best_ends_with_the_best_epochs_weights():
    snapshots, history = per_epoch_weights(8, validation=0.3)
    best = best_epoch(history)
    assert best != len(history)  # the noisy labels make the last epoch not the best
    assert history[best - 1]["val_acc"] == max(record["val_acc"] for record in history)
    x, t = data()
    net = model()
    lines = []
    kept = Trainer(net, SGD(lr=0.3), batch_size=4, validation=0.3, keep_best=True,
                   log=lines.append).fit(x, t, 8)
    assert timeless(kept) == timeless(history)
    assert all(np.array_equal(value, snapshots[best - 1][key]) for key, value in weights(net).items())
    assert lines[-1] == f"kept the weights of epoch {best} (validation accuracy {history[best - 1]['val_acc']:.4f})"


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    _, full = per_epoch_weights(12, validation=0.3)
    patience = 2
    stop = next(record["epoch"] for record in full if stops_early(full[:record["epoch"]], patience))
    x, t = data()
    lines = []
    history = Trainer(model(), SGD(lr=0.3), batch_size=4, validation=0.3,
                      early_stopping=patience, log=lines.append).fit(x, t, 12)
    assert len(history) == stop < 12
    assert timeless(history) == timeless(full[:stop])
    assert history[-1]["epoch"] - best_epoch(history) == patience
    assert f"stopped early after epoch {stop}" in lines[-1]


def run(tmp_path, epochs=8, on_step=None, resume=False):
    x, t = data()
    net = model(SampleRecorder(on_step))
    history = Trainer(net, Adam(lr=0.05), batch_size=4, seed=2, validation=0.3, keep_best=True,
                      early_stopping=3, checkpoint=tmp_path / "checkpoint.npz", log=None).fit(
        x, t, epochs, resume=resume)
    return net, history


def test_resume_keeps_the_best_weights_and_the_stopping_bit_for_bit(tmp_path):
    whole, whole_history = run(tmp_path / "whole")
    checkpoint_dir = tmp_path / "interrupted"

    def press_ctrl_c(step):
        if step == 40:  # in the fourth epoch (11 steps an epoch)
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(TrainingInterrupted):
        run(checkpoint_dir, on_step=press_ctrl_c)
    resumed, history = run(checkpoint_dir, resume=True)
    assert timeless(history) == timeless(whole_history)
    for key, value in weights(whole).items():
        assert weights(resumed)[key].tobytes() == value.tobytes(), key
    again, history = run(checkpoint_dir, resume=True)  # a finished run: nothing more to train
    assert timeless(history) == timeless(whole_history)
    assert all(np.array_equal(value, weights(again)[key]) for key, value in weights(whole).items())


def test_resume_refuses_another_validation(tmp_path):
    run(tmp_path, epochs=1)
    x, t = data()
    trainer = Trainer(model(), Adam(lr=0.05), batch_size=4, seed=2, validation=0.2, keep_best=True,
                      early_stopping=3, checkpoint=tmp_path / "checkpoint.npz", log=None)
    with pytest.raises(ValueError) as error:
        trainer.fit(x, t, 2, resume=True)
    check_message(error, ["checkpoint.npz", "n_samples=42", "n_samples=48"])


@pytest.mark.parametrize("settings, exception, words", [
    (dict(keep_best=True), ValueError, ["keep_best=True", "validation=0.1", "validation=(x_val, t_val)"]),
    (dict(early_stopping=3), ValueError, ["early_stopping=3", "validation"]),
    (dict(validation=1.5), ValueError, ["validation", "(0.0, 1.0)", "1.5"]),
    (dict(validation=0.0), ValueError, ["validation", "0.0"]),
    (dict(validation=[1, 2, 3]), TypeError, ["validation", "fraction", "(x, t) pair", "list"]),
    (dict(validation=True), TypeError, ["validation", "True"]),
    (dict(validation=0.5, early_stopping=0), ValueError, ["early_stopping", "0"]),
    (dict(validation=0.5, keep_best="yes"), TypeError, ["keep_best", "'yes'"]),
])
def test_bad_validation_settings(settings, exception, words):
    with pytest.raises(exception) as error:
        Trainer(model(), SGD(lr=0.1), **settings)
    check_message(error, words)


@pytest.mark.parametrize("validation, words", [
    (0.001, ["validation=0.001", "60 training samples", "holds out 0"]),
    ((np.zeros((4, 5)), np.zeros(4, int)), ["validation x", "shape (6,)", "(4, 5)"]),
    ((np.zeros((4, FEATURES)), np.zeros(3, int)), ["validation t", "(3,)"]),
])
def test_bad_validation_data(validation, words):
    x, t = data()
    with pytest.raises(ValueError) as error:
        Trainer(model(), SGD(lr=0.1), validation=validation, log=None).fit(x, t, 1)
    check_message(error, words)
