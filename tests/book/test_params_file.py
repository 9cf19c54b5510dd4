"""cnn.book.load_params: a book params.pkl read without running code from it, hostile and
broken pickles refused with BookParamsError; the models built from such weights."""

import os
import pickle
import pickletools

import numpy as np
import pytest

from cnn.book import BookParamsError, load_params
from cnn.book.common import layers
from cnn.models import DeepConvNet, SimpleConvNet, load_model

CALLED = []


def record_call(*args):
    """Stands for a dangerous function: a test fails if a pickle ever makes it run."""
    CALLED.append(args)


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class CallsBack:
    def __reduce__(self):
        return (record_call, ("called",))


def write(tmp_path, value, protocol=pickle.HIGHEST_PROTOCOL, name="params.pkl"):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(value, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_dict_of_arrays_is_read_back_exactly_in_every_protocol(tmp_path, rng, protocol):
    params = {"W1": rng.standard_normal((3, 1, 2, 2)), "b1": np.zeros(3),
              "W2": rng.standard_normal((4, 2)).astype(np.float32), "steps": np.arange(3)}
    loaded = load_params(write(tmp_path, params, protocol))
    assert list(loaded) == list(params)
    for key, value in params.items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key], value)


@pytest.mark.parametrize("value, words", [
    (Exploit(), ["not a book params file", "posix.system" if os.name == "posix" else "system",
                 "was not called"]),
    ({"W1": CallsBack()}, ["record_call", "was not called"]),
    ([np.zeros(2)], ["holds a list", "dict of arrays"]),
    ({1: np.zeros(2)}, ["parameter name", "1"]),
    ({"W1": [1.0, 2.0]}, ["'W1'", "numeric NumPy array", "a list"]),
    ({"W1": np.array(["a", "b"], dtype=object)}, ["'W1'", "dtype object"]),
    ({"W1": np.array(["ab"])}, ["'W1'", "dtype <U2"]),
])
def test_anything_but_a_dict_of_numeric_arrays_is_refused(tmp_path, value, words):
    path = write(tmp_path, value)
    with pytest.raises(BookParamsError) as refused:
        load_params(path)
    for word in words:
        assert word in str(refused.value)
    assert CALLED == []


def test_protocol_2_bytes_come_only_from_latin1_text(tmp_path):
    hostile = (b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00abcX\x04\x00\x00\x00zlib"
               b"\x86R.")
    (tmp_path / "codec.pkl").write_bytes(hostile)
    with pytest.raises(BookParamsError, match="encodes text with 'zlib'"):
        load_params(tmp_path / "codec.pkl")


def test_a_folder_and_a_missing_file_are_named(tmp_path):
    with pytest.raises(BookParamsError, match="is a folder"):
        load_params(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_params(tmp_path / "missing.pkl")


def test_fuzzed_pickles_are_refused_cleanly_and_never_call_anything(tmp_path, rng):
    """Every byte of a valid file, and many random mutations: each read gives the arrays or a
    BookParamsError, nothing else (no crash, no other exception, no call)."""
    valid = pickle.dumps({"W1": rng.standard_normal((2, 3)), "b1": np.zeros(3),
                          "x": CallsBack()}, protocol=4)
    hostile = pickletools.optimize(valid)
    path = tmp_path / "fuzz.pkl"
    outcomes = {"refused": 0, "read": 0}
    candidates = [hostile[:cut] for cut in range(len(hostile))]
    for _ in range(600):
        mutated = bytearray(hostile)
        for position in rng.integers(0, len(mutated), rng.integers(1, 4)):
            mutated[position] = rng.integers(0, 256)
        candidates.append(bytes(mutated))
    for data in candidates:
        path.write_bytes(data)
        try:
            loaded = load_params(path)
        except BookParamsError:
            outcomes["refused"] += 1
        else:
            assert all(isinstance(value, np.ndarray) for value in loaded.values())
            outcomes["read"] += 1
    assert CALLED == []
    assert outcomes["refused"] > 400


def book_forward(params, x, network):
    """Scores of the book's network at test time, on cnn.book's layers (float64)."""
    def conv(index, pad):
        return layers.Convolution(params[f"W{index}"], params[f"b{index}"], 1, pad)
    if network == "simple":
        stack = [conv(1, 0), layers.Relu(), layers.Pooling(2, 2),
                 layers.Affine(params["W2"], params["b2"]), layers.Relu(),
                 layers.Affine(params["W3"], params["b3"])]
    else:
        stack = []
        for index, pad in enumerate((1, 1, 1, 2, 1, 1), start=1):
            stack += [conv(index, pad), layers.Relu()] + ([layers.Pooling(2, 2)] if index % 2 == 0 else [])
        stack += [layers.Affine(params["W7"], params["b7"]), layers.Relu(), layers.Dropout(0.5),
                  layers.Affine(params["W8"], params["b8"]), layers.Dropout(0.5)]
    for layer in stack:
        x = layer.forward(x, False) if isinstance(layer, layers.Dropout) else layer.forward(x)
    return x


def random_book_params(model, rng):
    weighted = [layer for layer in model.layers if layer.params]
    return {f"{name}{index}": rng.standard_normal(array.shape) * 0.3
            for index, layer in enumerate(weighted, start=1)
            for name, array in zip(("W", "b"), layer.params)}


@pytest.mark.parametrize("model_class, network", [(DeepConvNet, "deep"), (SimpleConvNet, "simple")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_from_book_params_predicts_the_books_scores(tmp_path, rng, model_class, network, dtype):
    params = random_book_params(model_class(seed=0), rng)
    x = rng.random((6, 1, 28, 28)).astype(np.float32)
    expected = book_forward(params, x, network)
    model = model_class.from_book_params(write(tmp_path, params), dtype=dtype)
    assert model.dtype == dtype
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(model.predict(x.astype(dtype)), expected, rtol=tolerance,
                               atol=tolerance * np.abs(expected).max())
    np.testing.assert_array_equal(model_class.from_book_params(params).predict_classes(x),
                                  expected.argmax(axis=1))


def test_from_book_params_refuses_other_networks_weights(rng):
    params = random_book_params(SimpleConvNet(seed=0), rng)
    with pytest.raises(ValueError, match="DeepConvNet weights"):
        DeepConvNet.from_book_params(params)
    deep = random_book_params(DeepConvNet(seed=0), rng)
    with pytest.raises(ValueError, match="also hold W9"):
        DeepConvNet.from_book_params({**deep, "W9": np.zeros(2)})
    with pytest.raises(ValueError, match=r"params\['W3'\] must have shape \(32, 16, 3, 3\)"):
        DeepConvNet.from_book_params({**deep, "W3": np.zeros((32, 16, 5, 5))})
    with pytest.raises(TypeError, match="params must be the book's dict"):
        SimpleConvNet.from_book_params(42)


def test_loading_a_pickle_as_a_model_says_what_reads_it(tmp_path):
    path = write(tmp_path, {"W1": np.zeros(2)})
    with pytest.raises(ValueError) as refused:
        load_model(path)
    assert "cnn.book.load_params" in str(refused.value)
    assert "from_book_params" in str(refused.value)
