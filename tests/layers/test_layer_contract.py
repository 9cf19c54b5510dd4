"""One layer contract, held by the base class: every array named and saved, the model's lists
derived from the layers, inference keeping nothing for backward, geometry checked up front."""

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import cnn.losses
import cnn_ext.runtime.blas
from cnn.gradcheck import check_gradients
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Flatten, Layer,
                        Pooling, Relu, Sigmoid, Tanh)
from cnn.models import Sequential
from cnn.optim import Adam
from cnn.trainer import Trainer
from paths import ROOT

GUIDE = ROOT / "docs" / "guides" / "custom-layers.md"


def guide_namespace():
    """The guide's code blocks, run in order in a temporary folder (they write a file); returns
    their namespace (the guide's Scale)."""
    namespace = {"print": lambda *args: None}
    start = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            for block in re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S):
                exec(compile(block, str(GUIDE), "exec"), namespace)
        finally:
            os.chdir(start)
    return namespace


def test_the_guide_runs_and_its_scale_layer_checks_out():
    namespace = guide_namespace()
    assert sorted(namespace["model"].state_dict()) == ["format_version", "layers.0.params.0",
                                                       "layers.1.W", "layers.1.b"]
    restored = namespace["restored"]
    assert type(restored.layers[0]) is namespace["ScaleBySize"]
    assert restored.params[0].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert max(namespace["errors"].values()) < 1e-7
    assert set(namespace["errors"]) == {"layers.0.params.0", "layers.1.W", "layers.1.b", "x"}


Scale = guide_namespace()["Scale"]


def model_with_scale(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Scale(np.ones(6)), Affine(rng.standard_normal((6, 3)) * 0.3, np.zeros(3))])


def data(n=40):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 6))
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)


def test_a_book_style_layer_is_saved_and_loaded(tmp_path):
    model = model_with_scale()
    x, t = data()
    Trainer(model, Adam(lr=0.05), batch_size=8, log=None).fit(x, t, epochs=3)
    trained = model.layers[0].params[0].copy()
    assert not np.allclose(trained, 1)  # the optimizer updated it
    model.save(tmp_path / "model.npz")
    restored = model_with_scale(seed=5)
    restored.load(tmp_path / "model.npz")
    assert_array_equal(restored.layers[0].params[0], trained)  # was left at its initial ones


def test_a_book_style_layer_is_in_checkpoints_and_resumes_bit_exactly(tmp_path):
    x, t = data()
    straight = model_with_scale()
    Trainer(straight, Adam(lr=0.05), batch_size=8, log=None).fit(x, t, epochs=2)
    checkpoint = tmp_path / "checkpoint.npz"
    first = model_with_scale()
    Trainer(first, Adam(lr=0.05), batch_size=8, log=None, checkpoint=checkpoint).fit(x, t, epochs=1)
    with np.load(checkpoint) as saved:
        assert {"model.layers.0.params.0", "optimizer.first_moment.layers.0.params.0",
                "optimizer.second_moment.layers.1.W"} <= set(saved.files)
    resumed = model_with_scale(seed=9)
    Trainer(resumed, Adam(lr=0.05), batch_size=8, log=None, checkpoint=checkpoint).fit(
        x, t, epochs=2, resume=True)
    for mine, expected in zip(resumed.params, straight.params):
        assert_array_equal(mine, expected)


def test_a_rebound_parameter_is_what_the_model_trains_and_saves(tmp_path):
    model = model_with_scale()
    replacement = np.full(6, 2.0)
    model.layers[0].params[0] = replacement
    assert model.params[0] is replacement
    assert model.state_dict()["layers.0.params.0"] is replacement
    x, t = data()
    Trainer(model, Adam(lr=0.05), batch_size=8, log=None).fit(x, t, epochs=1)
    assert not np.allclose(replacement, 2.0)  # the optimizer updated the array the layer holds


class Forgetful(Layer):
    def __init__(self):  # no super().__init__()
        self.scale = 2.0

    def forward(self, x, train=True):
        return x * self.scale

    def backward(self, dout):
        return dout * self.scale


class Mismatched(Layer):
    param_names = ("gamma",)

    def __init__(self):
        super().__init__()
        self.params = [np.ones(3), np.ones(3)]
        self.grads = [np.zeros(3), np.zeros(3)]


class WrongGradient(Layer):
    def __init__(self):
        super().__init__()
        self.params = [np.ones(3)]
        self.grads = [np.zeros(4)]


@pytest.mark.parametrize("layer, words", [
    (Forgetful(), ["layers[0]", "Forgetful", "super().__init__()"]),
    (Mismatched(), ["layers[0]", "Mismatched", "param_names", "2 arrays"]),
    (WrongGradient(), ["layers[0]", "WrongGradient", "'params.0'", "(3,)"]),
], ids=["no-super-init", "names", "gradient-shape"])
def test_a_layer_breaking_the_contract_is_refused_by_name(layer, words):
    with pytest.raises(TypeError) as error:
        Sequential([layer])
    for word in words:
        assert word in str(error.value)


def image_layers(rng):
    conv = Convolution.create(2, 3, 3, pad=1, rng=rng, dtype=np.float64)
    norm = BatchNormalization(np.ones(2), np.zeros(2))
    return [conv, norm, Relu(), Sigmoid(), Tanh(), Dropout(0.5, seed=0), Pooling(2, 2),
            AvgPooling(2, 2), Flatten()]


LAYER_IDS = ["conv", "batchnorm", "relu", "sigmoid", "tanh", "dropout", "maxpool", "avgpool",
             "flatten", "affine"]


def every_layer():
    rng = np.random.default_rng(0)
    return image_layers(rng) + [Affine.create(2 * 4 * 4, 3, rng=rng, dtype=np.float64)]


@pytest.mark.parametrize("index", range(len(LAYER_IDS)), ids=LAYER_IDS)
def test_after_an_inference_forward_every_backward_is_refused_and_nothing_is_kept(index):
    layer = every_layer()[index]
    x = np.random.default_rng(1).standard_normal((2, 2 * 4 * 4) if index == 9 else (2, 2, 4, 4))
    out = layer.forward(x, train=True)
    layer.backward(np.ones_like(out))  # a training forward allows backward
    out = layer.forward(x, train=False)
    with pytest.raises(RuntimeError, match=rf"{layer.name}: backward needs a forward pass with "
                                           r"train=True first; the last forward ran with train=False"):
        layer.backward(np.ones_like(out))
    kept = [name for name, value in vars(layer).items() if isinstance(value, np.ndarray)
            and not any(value is array for array in layer.params + layer.grads + layer.buffers)]
    assert kept == [], f"{layer.name} keeps {kept} after an inference forward"


def test_batch_norm_backward_after_inference_is_refused_not_silently_wrong():
    layer = BatchNormalization(np.ones(3), np.zeros(3))
    x = np.random.default_rng(2).standard_normal((8, 3)) * 3 + 1
    layer.forward(x, train=True)
    layer.forward(x, train=False)  # running statistics: batch statistics' backward would be wrong
    with pytest.raises(RuntimeError, match="train=False"):
        layer.backward(np.ones((8, 3)))
    with pytest.raises(RuntimeError, match="train=True first$"):
        BatchNormalization(np.ones(3), np.zeros(3)).backward(np.ones((8, 3)))


def test_the_base_class_refuses_backward_for_user_layers_too():
    layer = Scale(np.ones(4))
    layer.forward(np.ones((2, 4)), train=False)
    with pytest.raises(RuntimeError, match="Scale: backward needs a forward pass with train=True"):
        layer.backward(np.ones((2, 4)))


def test_pooling_geometry_is_checked_at_construction_and_strides_resolved_once():
    with pytest.raises(ValueError, match=r"pad must be at most \(pool_h - 1\) \* dilation = 1 .*got pad=2"):
        Pooling(2, 2, pad=2)
    assert Pooling(2, 2).strides == AvgPooling(2, 2).strides == (2, 2)
    assert Pooling(3, 2).strides == (3, 2)
    assert Pooling(3, 3, stride=(1, 2)).strides == (1, 2)
    # The short form, as Convolution keeps it: an int where the axes agree.
    assert Pooling(2, 2).stride == AvgPooling(2, 2).stride == 2
    assert Pooling(3, 2).stride == (3, 2) and Pooling(3, 3, stride=(2, 2)).stride == 2
    assert repr(Pooling(2, 2)) == "Pooling(2x2, stride=2, pad=0)"
    assert repr(Pooling(3, 2)) == "Pooling(3x2, stride=(3, 2), pad=0)"
    with pytest.raises(ValueError, match="stride must be an integer or a pair"):
        Pooling(2, 2, stride=(1, 2, 3))


def test_labels_are_checked_once_per_fit_and_the_engine_scope_entered_once(monkeypatch):
    checks, scopes = [], []
    original_check = cnn.losses.class_indices
    monkeypatch.setattr(cnn.losses, "class_indices",
                        lambda *args, **kwargs: checks.append(1) or original_check(*args, **kwargs))
    setting = cnn_ext.runtime.blas._single_threaded
    original_on = setting._switch_on
    monkeypatch.setattr(setting, "_switch_on", lambda: scopes.append(1) or original_on())
    x, t = data()
    Trainer(model_with_scale(), Adam(lr=0.05), batch_size=8, log=None).fit(
        x, t, epochs=2, x_test=x, t_test=t)
    assert checks == []  # the Trainer checked them before the first step; the loss never again
    assert len(scopes) == 1  # 10 steps and 2 evaluations inside one scope


def test_optimizer_state_is_keyed_by_the_model_names():
    model = model_with_scale()
    optimizer = Adam(lr=0.01)
    x, t = data(8)
    model.train_step(x, t)
    optimizer.update(model.named_params(), model.named_grads())
    assert sorted(optimizer.state_dict()) == [
        "first_moment.layers.0.params.0", "first_moment.layers.1.W", "first_moment.layers.1.b",
        "second_moment.layers.0.params.0", "second_moment.layers.1.W", "second_moment.layers.1.b",
        "steps"]


def test_a_checkpoint_with_numbered_optimizer_state_still_resumes(tmp_path):
    x, t = data()
    checkpoint = tmp_path / "checkpoint.npz"
    Trainer(model_with_scale(), Adam(lr=0.05), batch_size=8, log=None, checkpoint=checkpoint).fit(
        x, t, epochs=1)
    with np.load(checkpoint) as saved:
        arrays = dict(saved)
    names = list(model_with_scale().named_params())
    for kind in ("first_moment", "second_moment"):  # as cnn-ext 0.1 wrote them, by position
        for index, name in enumerate(names):
            arrays[f"optimizer.{kind}_{index}"] = arrays.pop(f"optimizer.{kind}.{name}")
    np.savez(checkpoint, **arrays)
    expected = model_with_scale()
    Trainer(expected, Adam(lr=0.05), batch_size=8, log=None).fit(x, t, epochs=2)
    resumed = model_with_scale()
    Trainer(resumed, Adam(lr=0.05), batch_size=8, log=None, checkpoint=checkpoint).fit(
        x, t, epochs=2, resume=True)
    for mine, reference in zip(resumed.params, expected.params):
        assert_array_equal(mine, reference)
    assert json.loads(str(arrays["meta"]))["epoch"] == 1


def test_convolution_settings_are_kept_short_and_in_full():
    W, b = np.zeros((4, 2, 3, 3)), np.zeros(4)
    book = Convolution(W, b, stride=2, pad=1)
    assert (book.stride, book.pad, book.dilation, book.groups) == (2, 1, 1, 1)  # as the book reads
    assert (book.strides, book.pads, book.dilations) == ((2, 2), ((1, 1), (1, 1)), (1, 1))
    mixed = Convolution(W, b, stride=(2, 1), pad=(1, 0), dilation=(1, 2), groups=2)
    assert (mixed.stride, mixed.pad, mixed.dilation) == ((2, 1), (1, 0), (1, 2))
    assert mixed.pads == ((1, 1), (0, 0)) and mixed.in_channels == 4
    sides = Convolution(W, b, pad=[[0, 2], [1, 1]])
    assert sides.pad == sides.pads == ((0, 2), (1, 1))
    assert repr(mixed) == "Convolution(4->4, 3x3, stride=(2, 1), pad=(1, 0), dilation=(1, 2), groups=2)"
    assert repr(Convolution(W, b, pad="same", dilation=2)) == "Convolution(2->4, 3x3, stride=1, pad=2, dilation=2)"
