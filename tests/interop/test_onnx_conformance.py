"""from_onnx against the ONNX project's own test data for image models: the 2-D cases of the
``pytorch-converted`` and ``pytorch-operator`` folders shipped in the onnx wheel (4-D inputs), and
the node cases ``onnx.backend.test.case.node.collect_testcases()`` makes for the image operators
(4-D or 2-D inputs; weights given as graph inputs become initializers). Each case's stored input
through the imported model must give its stored output, or the case must be refused by a
``ValueError`` starting with ``from_onnx:`` for one of the reasons listed in REFUSED, which the
guide "Exporting" repeats. A case that starts to pass, or to be refused, must be moved here.

Needs onnx; skipped without it, except with CNN_EXT_REQUIRE_EXTRAS=1 (set by .ci/run)."""

import glob
import os

import numpy as np
import pytest

from extras import optional

onnx = optional("onnx", 'pip install ".[onnx]"')
from onnx import numpy_helper  # noqa: E402
from cnn.interop import from_onnx  # noqa: E402

#: The operators of the node cases taken: those of the layers of cnn.layers.
NODE_OPERATORS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                  "LeakyRelu", "PRelu", "Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Gemm",
                  "Flatten", "BatchNormalization", "Dropout"}
DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")

#: Every case refused, and a word of the reason its refusal must give.
REFUSED = {
    # Flatten at another axis than 1 joins samples (axis 0) or keeps axes apart (2, 3).
    "node/test_flatten_axis0": "axis=0", "node/test_flatten_axis2": "axis=2",
    "node/test_flatten_axis3": "axis=3", "node/test_flatten_negative_axis1": "axis=-1",
    "node/test_flatten_negative_axis2": "axis=-2", "node/test_flatten_negative_axis4": "axis=-4",
    # Gemm whose data is transposed (the samples along axis 1), or whose bias differs per sample.
    "node/test_gemm_all_attributes": "transA=1", "node/test_gemm_transposeA": "transA=1",
    "node/test_gemm_default_matrix_bias": "one value per output feature",
    # MaxPool's second output, the indices: a layer gives one array.
    "node/test_maxpool_with_argmax_2d_precomputed_pads": "one data input and one output",
    "node/test_maxpool_with_argmax_2d_precomputed_strides": "one data input and one output",
    # A Pad alone, or padding by reflection or replication: cnn pads with zeros, in a convolution.
    "pytorch-converted/test_ConstantPad2d": "only when a Conv follows",
    "pytorch-converted/test_ZeroPad2d": "only when a Conv follows",
    "pytorch-converted/test_ReflectionPad2d": "only when a Conv follows",
    "pytorch-converted/test_ReplicationPad2d": "only when a Conv follows",
    "pytorch-operator/test_operator_pad": "only when a Conv follows",
    # Softmax over the image's width: cnn's runs over the classes or channels.
    "pytorch-converted/test_log_softmax_dim3": "axis=3",
    "pytorch-converted/test_softmax_functional_dim3": "axis=3",
    # A transposed convolution sized by output_shape or auto_pad: cnn's takes pads and
    # output_padding, as PyTorch's does.
    "node/test_convtranspose_output_shape": "output_shape=[10, 8]",
    "node/test_convtranspose_kernel_shape": "output_shape=[10, 8]",
    "node/test_convtranspose_autopad_same": "auto_pad='SAME_UPPER'",
    # Operators without a layer: pixel shuffle, reductions, and others.
    "pytorch-converted/test_PixelShuffle": "Reshape",
    "pytorch-operator/test_operator_reduced_mean": "ReduceMean",
    "pytorch-operator/test_operator_reduced_mean_keepdim": "ReduceMean",
    "pytorch-operator/test_operator_reduced_sum": "ReduceSum",
    "pytorch-operator/test_operator_reduced_sum_keepdim": "ReduceSum",
    "pytorch-operator/test_operator_repeat": "Tile",
    "pytorch-operator/test_operator_selu": "Selu",
    "pytorch-operator/test_operator_symbolic_override": "InstanceNormalization",
}


def folder_cases():
    for folder in ("pytorch-converted", "pytorch-operator"):
        for path in sorted(glob.glob(os.path.join(DATA, folder, "test_*"))):
            data = os.path.join(path, "test_data_set_0")
            inputs = [numpy_helper.to_array(onnx.load_tensor(name))
                      for name in sorted(glob.glob(os.path.join(data, "input_*.pb")))]
            if len(inputs) == 1 and inputs[0].ndim == 4:
                output = numpy_helper.to_array(onnx.load_tensor(os.path.join(data, "output_0.pb")))
                yield f"{folder}/{os.path.basename(path)}", onnx.load(os.path.join(path, "model.onnx")), \
                    inputs, output


def inference_only(model) -> bool:
    """No batch norm in training mode, no Dropout with a ratio input or a mask output."""
    for node in model.graph.node:
        if node.op_type == "BatchNormalization" and any(
                attribute.name == "training_mode" and attribute.i for attribute in node.attribute):
            return False
        if node.op_type == "Dropout" and (len(node.input) > 1 or len(node.output) > 1):
            return False
    return True


def node_cases():
    from onnx.backend.test.case.node import collect_testcases
    for case in collect_testcases():
        operators = {node.op_type for node in case.model.graph.node}
        if not operators or not operators <= NODE_OPERATORS or not case.data_sets:
            continue
        inputs, outputs = case.data_sets[0]
        if np.asarray(inputs[0]).ndim in (2, 4) and inference_only(case.model):
            yield f"node/{case.name}", case.model, list(inputs), np.asarray(outputs[0])


def with_initializers(model, inputs):
    """The model with its graph inputs after the first turned into initializers of their values."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    constants = {tensor.name for tensor in model.graph.initializer}
    data = [value for value in model.graph.input if value.name not in constants]
    for value, array in list(zip(data, inputs))[1:]:
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(array), value.name))
    return model


CASES = {}


def cases():
    if not CASES:
        for name, model, inputs, output in list(folder_cases()) + list(node_cases()):
            CASES[name] = (model, inputs, output)
    return CASES


def answer(name, tmp_path):
    """"passed", or the refusal's message; a mismatch or any other error fails."""
    model, inputs, expected = cases()[name]
    path = tmp_path / "model.onnx"
    onnx.save(with_initializers(model, inputs), str(path))
    try:
        imported = from_onnx(path)
    except ValueError as error:
        assert str(error).startswith("from_onnx:"), f"{name}: {error}"
        return str(error)
    got = imported.predict(np.ascontiguousarray(inputs[0], np.float32))
    # Global pooling gives (N, C) where ONNX gives (N, C, 1, 1): the same values.
    assert got.size == expected.size, f"{name}: output {got.shape}, expected {expected.shape}"
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-3, atol=1e-4,
                               err_msg=name)
    return "passed"


@pytest.mark.parametrize("name", sorted(cases()))
def test_the_case_passes_or_is_refused_for_its_listed_reason(name, tmp_path):
    message = answer(name, tmp_path)
    if name in REFUSED:
        assert REFUSED[name] in message, f"{name}: listed as refused, got {message}"
    else:
        assert message == "passed", f"{name}: refused, and not listed: {message}"


def test_the_refused_list_names_cases_that_exist():
    assert len(cases()) >= 100  # the onnx wheel's data was found
    assert sorted(set(REFUSED) - set(cases())) == []


def test_a_linear_without_bias_transposes_its_weight_once(tmp_path):
    """PyTorch's Linear without bias: a Transpose of the weight, then a MatMul (a 2-D case)."""
    path = os.path.join(DATA, "pytorch-converted", "test_Linear_no_bias")
    model = onnx.load(os.path.join(path, "model.onnx"))
    assert [node.op_type for node in model.graph.node] == ["Transpose", "MatMul"]
    x, expected = (numpy_helper.to_array(onnx.load_tensor(os.path.join(path, "test_data_set_0", name)))
                   for name in ("input_0.pb", "output_0.pb"))
    onnx.save(model, str(tmp_path / "model.onnx"))
    imported = from_onnx(tmp_path / "model.onnx")
    assert [type(layer).__name__ for layer in imported.layers] == ["Affine"]
    np.testing.assert_allclose(imported.predict(x.astype(np.float32)), expected, rtol=1e-4, atol=1e-5)
