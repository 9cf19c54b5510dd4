"""cnn.load_model rebuilds a saved model from its file alone, bit for bit, from registered classes
only, and refuses every other file with a ValueError that says what reads it."""

import json
import zipfile

import numpy as np
import pytest

import cnn
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, ConvTranspose,
                        Dropout, Flatten,
                        GlobalAveragePooling, GlobalMaxPooling, Layer, LeakyRelu, LogSoftmax, Pooling,
                        PRelu, Relu, Residual, Sigmoid, Softmax, Tanh, register)
from cnn.layers.registry import lookup, registered
from cnn.models import DeepConvNet, LeNet, ResNet, Sequential, SimpleConvNet
from cnn.models._architecture import ARCHITECTURE_KEY
from cnn.optim import Adam
from cnn.storage import atomic_write_npz
from cnn.trainer import Trainer
from cnn_ext.tests.messages import check_message


def every_layer_kind(dtype):
    """Two Sequentials that hold, between them, one layer of every kind the library has, trained
    a little so that their batch-norm statistics, slopes and dropout generators have moved."""
    rng = np.random.default_rng(3)
    first = Sequential([
        Convolution.create(2, 4, 3, stride=1, pad=1, rng=rng, dtype=dtype),
        BatchNormalization(rng.random(4).astype(dtype) + 0.5, rng.random(4).astype(dtype),
                           momentum=0.8, eps=1e-4),
        Relu(inplace=True),
        Pooling(3, 2, stride=(2, 1), pad=1),
        AvgPooling(2, 2, stride=1, pad=1),
        Sigmoid(), Tanh(), Flatten(),
        Dropout(0.25, seed=int(rng.integers(1000))),
        Affine.create(4 * 6 * 11, 7, init="glorot", rng=rng, dtype=dtype),
        BatchNormalization(np.ones(7, dtype), np.zeros(7, dtype)),
        LogSoftmax(),
    ], input_shape=(2, 9, 9))
    second = Sequential([
        Convolution.create(2, 6, 3, stride=(2, 1), pad=((0, 1), (2, 0)), dilation=(1, 2),
                           rng=rng, dtype=dtype),
        PRelu.create(6, dtype=dtype),
        ConvTranspose.create(6, 6, 3, stride=2, pad=1, output_padding=1, groups=3, rng=rng,
                             dtype=dtype),
        Convolution.create(6, 12, 3, pad="same", groups=6, rng=rng, dtype=dtype),
        LeakyRelu(0.05), GlobalMaxPooling(), Affine.create(12, 7, rng=rng, dtype=dtype),
        PRelu.create(1, init=0.1, dtype=dtype), Softmax(),
    ], input_shape=(2, 9, 9))
    third = Sequential([GlobalAveragePooling(), Affine.create(2, 7, rng=rng, dtype=dtype)],
                       input_shape=(2, 9, 9))
    def norm(features):
        return BatchNormalization(np.ones(features, dtype), np.zeros(features, dtype))

    fourth = Sequential([
        Convolution.create(2, 4, 3, pad=1, rng=rng, dtype=dtype),
        Residual([Convolution.create(4, 4, 3, pad=1, rng=rng, dtype=dtype), norm(4), Relu(),
                  Dropout(0.2, seed=5), Convolution.create(4, 4, 3, pad=1, rng=rng, dtype=dtype)]),
        Relu(),
        Residual([Convolution.create(4, 8, 3, stride=2, pad=1, rng=rng, dtype=dtype), Relu(),
                  Convolution.create(8, 8, 3, pad=1, rng=rng, dtype=dtype)],
                 shortcut=[Convolution.create(4, 8, 1, stride=2, rng=rng, dtype=dtype), norm(8)]),
        GlobalAveragePooling(), Affine.create(8, 7, rng=rng, dtype=dtype),
    ], input_shape=(2, 9, 9))
    x = rng.random((5, 2, 9, 9)).astype(dtype)
    for model in (first, second, third, fourth):
        Trainer(model, Adam(lr=0.01), batch_size=2, log=None).fit(x, np.arange(5) % 7, epochs=1)
    return first, second, third, fourth


def ready_models():
    return [LeNet(seed=1), SimpleConvNet(seed=2, filters=5, hidden=12),
            DeepConvNet(seed=3), ResNet(seed=5), LeNet(num_classes=3, input_shape=(3, 20, 17), seed=4,
                                      dtype=np.float64)]


def assert_same_model(original, restored):
    assert type(restored) is type(original)
    assert repr(restored) == repr(original)
    assert restored.input_shape == original.input_shape
    saved, loaded = original.state_dict(), restored.state_dict()
    assert list(saved) == list(loaded)
    for key in saved:
        assert loaded[key].dtype == saved[key].dtype and loaded[key].shape == saved[key].shape
        assert loaded[key].tobytes() == saved[key].tobytes(), key
    x = np.random.default_rng(9).random((3,) + original.input_shape).astype(original.dtype)
    assert original.predict(x).tobytes() == restored.predict(x).tobytes()
    # Training mode too: the dropout generators go on with the same masks.
    assert original._forward_layers(x.copy(), True).tobytes() == \
        restored._forward_layers(x.copy(), True).tobytes()


@pytest.mark.parametrize("index", range(5), ids=["lenet", "simpleconvnet", "deepconvnet", "resnet",
                                                 "lenet-3x20x17-f64"])
def test_every_ready_model_round_trips_bit_for_bit(tmp_path, index):
    model = ready_models()[index]
    model.save(tmp_path / "model.npz")
    assert_same_model(model, cnn.load_model(tmp_path / "model.npz"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_sequential_of_every_layer_kind_round_trips_bit_for_bit(tmp_path, dtype):
    models = every_layer_kind(dtype)
    kinds = {type(layer) for model in models for layer in model.layers}
    library = {getattr(cnn.layers, name) for name in cnn.layers.__all__}
    library = {cls for cls in library if isinstance(cls, type) and issubclass(cls, Layer)
               and cls in registered().values()}
    assert library <= kinds  # a new layer kind must join these models
    for model in models:
        model.save(tmp_path / "model.npz")
        assert_same_model(model, cnn.load_model(tmp_path / "model.npz"))


def test_the_file_still_loads_into_a_model_built_in_code(tmp_path):
    LeNet(seed=5).save(tmp_path / "w.npz")
    model = LeNet(seed=0)
    model.load(tmp_path / "w.npz")
    assert np.array_equal(model.params[0], LeNet(seed=5).params[0])


def test_weights_saved_without_an_architecture_keep_loading_with_load(tmp_path):
    atomic_write_npz(tmp_path / "old.npz", LeNet(seed=6).state_dict())
    model = LeNet(seed=0)
    model.load(tmp_path / "old.npz")
    assert np.array_equal(model.params[-2], LeNet(seed=6).params[-2])
    with pytest.raises(ValueError) as error:
        cnn.load_model(tmp_path / "old.npz")
    check_message(error, ["old.npz", "without an architecture", "model.load("])


class Scale(Layer):
    """A user layer: multiplies by a learned scalar."""

    param_names = ("s",)

    def __init__(self, start=1.0):
        super().__init__()
        self.start = start
        self.params = [np.full(1, start, np.float32)]
        self.grads = [np.zeros(1, np.float32)]

    def forward(self, x, train=True):
        self.x = x
        return x * self.params[0][0]

    def backward(self, dout):
        self.grads[0][...] = (dout * self.x).sum()
        return dout * self.params[0][0]

    def config(self):
        return {"start": self.start}


def scaled_model():
    return Sequential([Flatten(), Scale(2.0), Affine.create(4, 3, rng=0)], input_shape=(1, 2, 2))


def test_an_unregistered_user_layer_is_refused_naming_it_and_the_fix(tmp_path):
    scaled_model().save(tmp_path / "user.npz")
    with pytest.raises(ValueError) as error:
        cnn.load_model(tmp_path / "user.npz")
    check_message(error, ["layers[1]", "'Scale'", "not a registered layer", "@cnn.layers.register",
                          "cnn.layers.register(Scale)"])


def test_a_registered_user_layer_round_trips(tmp_path):
    class Shift(Scale):
        pass
    register(Shift, name="TestShift")
    try:
        model = Sequential([Flatten(), Shift(3.0), Affine.create(4, 3, rng=0)], input_shape=(1, 2, 2))
        model.params[0][0] = 4.5
        model.save(tmp_path / "user.npz")
        restored = cnn.load_model(tmp_path / "user.npz")
        assert type(restored.layers[1]) is Shift and restored.layers[1].start == 3.0
        assert restored.params[0][0] == 4.5
        x = np.ones((2, 1, 2, 2), np.float32)
        assert np.array_equal(model.predict(x), restored.predict(x))
    finally:
        registered_classes = cnn.layers.registry._REGISTERED
        registered_classes.pop("TestShift")


def test_register_refuses_what_it_cannot_rebuild():
    with pytest.raises(TypeError) as error:
        register(int)
    check_message(error, ["register", "Layer", "Loss", "int"])
    with pytest.raises(ValueError) as error:
        register(type("Relu", (Layer,), {}))
    check_message(error, ["'Relu'", "registered already", "cnn.layers.activations.Relu", "name="])
    assert lookup("Relu") is Relu


def test_a_config_that_is_not_json_is_refused_when_saving(tmp_path):
    model = scaled_model()
    model.layers[1].start = np.float32(2.0)
    with pytest.raises(TypeError) as error:
        model.save(tmp_path / "m.npz")
    check_message(error, ["layers[1]", "Scale", "config()", "JSON"])
    assert not (tmp_path / "m.npz").exists()


def test_a_checkpoint_is_pointed_to_load_checkpoint(tmp_path):
    model = LeNet(seed=0)
    x = np.random.default_rng(0).random((8, 1, 28, 28)).astype(np.float32)
    Trainer(model, Adam(), batch_size=4, checkpoint=tmp_path / "checkpoint.npz", log=None).fit(
        x, np.arange(8), epochs=1)
    for call, words in [(lambda: cnn.load_model(tmp_path / "checkpoint.npz"),
                         ["checkpoint.npz", "Trainer checkpoint", "model.load_checkpoint("]),
                        (lambda: LeNet().load(tmp_path / "checkpoint.npz"),
                         ["checkpoint.npz", "Trainer checkpoint", "model.load_checkpoint("])]:
        with pytest.raises(ValueError) as error:
            call()
        check_message(error, words)
    restored = LeNet(seed=1)
    restored.load_checkpoint(tmp_path / "checkpoint.npz")
    for key, value in model.state_dict().items():
        assert restored.state_dict()[key].tobytes() == value.tobytes()
    model.save(tmp_path / "model.npz")
    with pytest.raises(ValueError) as error:
        restored.load_checkpoint(tmp_path / "model.npz")
    check_message(error, ["model.npz", "not a Trainer checkpoint", "model.load"])


@pytest.mark.parametrize("name", ["lenet.onnx", "exported.bin"])
def test_an_onnx_file_is_pointed_to_from_onnx(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x08\x08\x12\x07cnn-ext:\x00")  # the opening of an ONNX ModelProto
    for call in (cnn.load_model, LeNet().load, LeNet().load_checkpoint):
        with pytest.raises(ValueError) as error:
            call(path)
        check_message(error, [name, "ONNX model", "cnn.interop.from_onnx("])


def saved_architecture(model, tmp_path):
    """The architecture ``model.save`` writes, as a dict."""
    model.save(tmp_path / "clean.npz")
    with np.load(tmp_path / "clean.npz") as saved:
        return json.loads(str(saved[ARCHITECTURE_KEY]))


def saved_with(tmp_path, change):
    """A saved LeNet whose architecture went through ``change`` (a dict -> a dict or a text)."""
    model = LeNet(seed=0)
    changed = change(saved_architecture(model, tmp_path))
    text = changed if isinstance(changed, str) else json.dumps(changed)
    atomic_write_npz(tmp_path / "hostile.npz", {**model.state_dict(), ARCHITECTURE_KEY: np.array(text)})
    return tmp_path / "hostile.npz"


def replace_layer(index, entry):
    def change(architecture):
        architecture["layers"][index] = entry
        return architecture
    return change


HOSTILE = [
    (lambda a: "{not json", ["architecture", "not JSON"]),
    (lambda a: "[" * 100000 + "]" * 100000, ["architecture", "not JSON"]),
    (lambda a: {**a, "format": "keras"}, ["not a cnn-ext architecture"]),
    (lambda a: {**a, "version": 99}, ["architecture version 99", "version 1"]),
    (lambda a: {**a, "layers": []}, ["1 to 10000 layers"]),
    (lambda a: {**a, "layers": a["layers"] * 1000}, ["1 to 10000 layers"]),
    (lambda a: {**a, "input_shape": [1, -28, 28]}, ["input_shape [1, -28, 28]", "positive integers"]),
    (lambda a: {**a, "model": None}, ["names no model class"]),
    (lambda a: {**a, "loss": "SoftmaxWithLoss"}, ["the loss", "'SoftmaxWithLoss'", '"class"']),
    (replace_layer(0, {"class": "os.system", "config": {}}), ["layers[0]", "'os.system'", "not a registered layer"]),
    (replace_layer(0, {"class": "SoftmaxWithLoss", "config": {}}), ["layers[0]", "'SoftmaxWithLoss'", "not a layer"]),
    (replace_layer(1, {"class": "Relu", "config": {"inplace": "yes"}}), ["layers[1]", "Relu", "inplace", "'yes'"]),
    (replace_layer(1, {"class": "Relu", "config": {"__class__": 1}}), ["layers[1]", "not an argument name"]),
    (replace_layer(1, {"class": "Relu", "config": {"size": 3}}), ["layers[1]", "cannot be rebuilt as Relu", "size"]),
    (replace_layer(0, {"class": "Convolution", "config": {"stride": 1, "pad": 10 ** 30}}), ["layers[0]", "Convolution", "pad"]),
    (replace_layer(2, {"class": "Pooling", "config": {"pool_h": 2, "pool_w": 2, "stride": [2, 2, 2], "pad": 0}}), ["layers[2]", "stride", "pair"]),
    (replace_layer(7, {"class": "Flatten", "config": {}}), ["does not make a model", "layers[9]", "does not fit"]),
    (replace_layer(7, {"class": "Affine", "config": {"W": 1}}), ["layers[7]", "Affine", "'W'"]),
    (replace_layer(8, {"class": "Dropout", "config": {"ratio": 0.5, "rng_state": {"bit_generator": "Evil"}}}), ["layers[8]", "rng_state", "bit generator"]),
    (replace_layer(8, {"class": "Dropout", "config": {"ratio": 0.5, "rng_state": {"bit_generator": "PCG64", "state": 3}}}), ["layers[8]", "rng_state", "damaged PCG64"]),
    (replace_layer(0, {"class": "Affine", "config": {}}), ["layers[0]", "Affine", "W", "2-D"]),
    (replace_layer(10, {"class": "Affine", "config": {}}), ["layers[10]", "Affine", "W", "None"]),
    (replace_layer(0, {"class": "Convolution", "config": {"stride": 1, "pad": 10 ** 6}}), ["layers[0]", "pad=1000000", "one sample would hold", "values"]),
    (replace_layer(2, {"class": "AvgPooling", "config": {"pool_h": 1, "pool_w": 1, "stride": 1, "pad": 5000}}), ["layers[2]", "one sample would hold"]),
    (lambda a: {**a, "input_shape": [1, 100000, 100000]}, ["its input_shape", "one sample would hold 10000000000 values"]),
]


@pytest.mark.parametrize("change, words", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_a_hostile_architecture_is_refused(tmp_path, change, words):
    path = saved_with(tmp_path, change)
    with pytest.raises(ValueError) as error:
        cnn.load_model(path)
    check_message(error, ["hostile.npz", *words])


def test_entries_of_the_wrong_kind_are_refused_before_any_data_is_read(tmp_path):
    arrays = LeNet(seed=0).state_dict()
    for name, architecture in [("bytes", np.array(b"{}")), ("vector", np.array(["{}", "{}"])),
                               ("number", np.array(3.0))]:
        atomic_write_npz(tmp_path / f"{name}.npz", {**arrays, ARCHITECTURE_KEY: architecture})
        with pytest.raises(ValueError) as error:
            cnn.load_model(tmp_path / f"{name}.npz")
        check_message(error, [f"{name}.npz", "'architecture' entry", "JSON text"])
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as archive:  # an object array: pickle
        for key, value in arrays.items():
            with archive.open(key + ".npy", "w") as member:
                np.lib.format.write_array(member, value)
        with archive.open(ARCHITECTURE_KEY + ".npy", "w") as member:
            np.lib.format.write_array(member, np.array([{"format": 1}], dtype=object))
    with pytest.raises(ValueError) as error:
        cnn.load_model(tmp_path / "pickled.npz")
    check_message(error, ["pickled.npz", "'architecture'", "object", "never saves"])


def test_weights_that_do_not_match_the_architecture_are_refused(tmp_path):
    model = LeNet(seed=0)
    arrays = {**model.state_dict(),
              ARCHITECTURE_KEY: np.array(json.dumps(saved_architecture(model, tmp_path)))}
    arrays["layers.9.W"] = np.zeros((120, 85), np.float32)
    atomic_write_npz(tmp_path / "mixed.npz", arrays)
    with pytest.raises(ValueError) as error:
        cnn.load_model(tmp_path / "mixed.npz")
    check_message(error, ["mixed.npz", "layers[9]", "84"])
    del arrays["layers.9.W"]
    arrays["layers.5.extra"] = np.zeros(3, np.float32)
    atomic_write_npz(tmp_path / "extra.npz", arrays)
    with pytest.raises(ValueError) as error:
        cnn.load_model(tmp_path / "extra.npz")
    check_message(error, ["extra.npz"])


def test_a_file_that_is_no_model_is_refused(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError) as error:
        cnn.load_model(tmp_path / "other.npz")
    check_message(error, ["other.npz", "not a model saved by cnn-ext"])
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError) as error:
        cnn.load_model(tmp_path / "text.npz")
    check_message(error, ["text.npz", "truncated or corrupted"])
    with pytest.raises(FileNotFoundError):
        cnn.load_model(tmp_path / "absent.npz")
