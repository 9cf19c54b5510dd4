"""from_onnx on damaged and hostile files: self-contained models only, every size bounded, every
refusal a ValueError that starts with "from_onnx:" and names the node or tensor."""

import re
from pathlib import Path

import numpy as np
import pytest

from extras import optional

onnx = optional("onnx", 'pip install ".[onnx]"')
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cnn.interop import from_onnx  # noqa: E402
from paths import ROOT

PYPROJECT = ROOT / "pyproject.toml"


def save(tmp_path, nodes, initializers=(), input_shape=(None, 1, 6, 6), name="m.onnx"):
    graph = helper.make_graph(
        nodes, "hostile", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=list(initializers))
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def refused(path, *words):
    with pytest.raises(ValueError) as error:
        from_onnx(path)
    message = str(error.value)
    assert message.startswith("from_onnx: "), message
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"


def test_constants_given_as_lists_of_integers_or_floats_are_read(tmp_path):
    weight = numpy_helper.from_array(np.ones((36, 2), np.float32), "W")
    nodes = [helper.make_node("Constant", [], ["shape"], value_ints=[-1, 36]),
             helper.make_node("Reshape", ["x", "shape"], ["flat"]),
             helper.make_node("Constant", [], ["bias"], value_floats=[0.5, -0.5]),
             helper.make_node("MatMul", ["flat", "W"], ["product"]),
             helper.make_node("Add", ["product", "bias"], ["y"])]
    model = from_onnx(save(tmp_path, nodes, [weight]))
    x = np.random.default_rng(0).standard_normal((3, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), x.reshape(3, 36).sum(1, keepdims=True) + [0.5, -0.5],
                               rtol=1e-5)


def test_external_tensor_data_is_refused_and_never_opened(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.ones(18, np.float32).tobytes())
    weight = numpy_helper.from_array(np.zeros((2, 1, 3, 3), np.float32), "W")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "72")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    folder = tmp_path / "model"
    folder.mkdir()
    path = save(folder, [helper.make_node("Conv", ["x", "W"], ["y"])], [weight])
    refused(path, "initializer 'W'", "external file")


@pytest.mark.parametrize("attributes, words", [
    (dict(pads=[100000] * 4), ["node 0 (Conv)", "pads", "from 0 to 255"]),
    (dict(strides=[10 ** 9, 10 ** 9]), ["node 0 (Conv)", "strides", "from 1 to 255"]),
    (dict(pads=[9, 9, 9, 9]), ["node 0 (Conv)", "pads", "wider than the 3x3 window"]),
    (dict(kernel_shape=[5, 5]), ["kernel_shape", "3x3"]),
    (dict(strides=[1.5, 1.5]), ["strides"]),
], ids=["huge-pads", "huge-strides", "wide-pads", "kernel-shape", "float-strides"])
def test_conv_sizes_are_bounded(tmp_path, attributes, words):
    weight = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "W")
    refused(save(tmp_path, [helper.make_node("Conv", ["x", "W"], ["y"], **attributes)], [weight]),
            *words)


def test_pooling_needs_a_bounded_kernel(tmp_path):
    refused(save(tmp_path, [helper.make_node("MaxPool", ["x"], ["y"])]),
            "node 0 (MaxPool)", "kernel_shape is required")
    refused(save(tmp_path, [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2])]),
            "kernel_shape=[2]", "2 integers")
    refused(save(tmp_path, [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[10 ** 6] * 2)]),
            "kernel_shape")


def test_a_tensor_that_claims_more_than_it_holds_is_refused(tmp_path):
    huge = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20, 1, 1])
    refused(save(tmp_path, [helper.make_node("Conv", ["x", "W"], ["y"])], [huge]),
            "initializer 'W'", "larger than")
    short = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2, 1, 3, 3], float_data=[1.0, 2.0])
    refused(save(tmp_path, [helper.make_node("Conv", ["x", "W"], ["y"])], [short]),
            "initializer 'W'", "does not fit its shape")
    text = helper.make_tensor("W", TensorProto.STRING, [1], vals=[b"a"])
    refused(save(tmp_path, [helper.make_node("Conv", ["x", "W"], ["y"])], [text]),
            "initializer 'W'", "STRING is not a number")


def test_an_input_of_huge_samples_is_refused(tmp_path):
    refused(save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], input_shape=(None, 3, 10 ** 5, 10 ** 5)),
            "graph input 'x'", "more than")


def test_a_damaged_file_is_refused(tmp_path):
    path = tmp_path / "damaged.onnx"
    path.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0f not protobuf")
    refused(path, "not a readable ONNX model")


def test_the_onnx_extra_requires_a_release_with_the_external_data_fixes():
    extra = re.search(r'^onnx = \[(.*)\]', PYPROJECT.read_text(), re.M).group(1)
    assert '"onnx>=1.21"' in extra


def test_a_chain_that_grows_small_inputs_huge_is_refused(tmp_path):
    weight = numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "W")
    padded = [helper.make_node("Conv", ["x" if index == 0 else f"h{index}", "W"],
                               ["y" if index == 99 else f"h{index + 1}"], pads=[3, 3, 3, 3])
              for index in range(100)]  # 100 layers, each adding 4 pixels: 400 > 256
    refused(save(tmp_path, padded, [weight], input_shape=(None, 1, 6, 6)),
            "layers[64]", "adds 260 pixels to each image, more than 256")
    wide = numpy_helper.from_array(np.ones((70000, 1, 1, 1), np.float32), "W")
    refused(save(tmp_path, [helper.make_node("Conv", ["x", "W"], ["y"])], [wide]),
            "layers[0]", "70000 channels")
    many = numpy_helper.from_array(np.ones((4096, 1, 1, 1), np.float32), "W")
    refused(save(tmp_path, [helper.make_node("Conv", ["x", "W"], ["y"])], [many],
                 input_shape=(None, 1, 64, 64)), "layers[0]", "more than 8388608 elements")


def test_layers_that_do_not_fit_the_input_are_refused_at_import(tmp_path):
    weight = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "W")
    refused(save(tmp_path, [helper.make_node("Conv", ["x", "W"], ["y"])], [weight]),
            "layers[0]", "does not fit", "C=3")
