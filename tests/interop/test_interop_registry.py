"""The converter registry: every library layer has its four directions, importers apply from the
opset they are registered for, and a second converter for the same key is refused."""

import numpy as np
import pytest

import cnn.interop  # noqa: F401  (registers the converters)
from cnn.interop import registry
from cnn.interop.converters import activations, conv
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, ConvTranspose,
                        Dropout, Flatten,
                        GlobalAveragePooling, GlobalMaxPooling, LeakyRelu, LogSoftmax, Pooling,
                        PRelu, Relu, Residual, Sigmoid, Softmax, Tanh)

LIBRARY_LAYERS = [
    Convolution.create(1, 2, 3, rng=0), ConvTranspose.create(2, 1, 3, rng=0), Pooling(2, 2), AvgPooling(2, 2), GlobalAveragePooling(),
    GlobalMaxPooling(), Flatten(), Affine.create(2, 2, rng=0), Relu(), LeakyRelu(), PRelu.create(2),
    Sigmoid(), Tanh(), Softmax(), LogSoftmax(), Dropout(0.5), BatchNormalization(np.ones(2), np.zeros(2)),
    Residual([Relu()])]


@pytest.mark.parametrize("layer", LIBRARY_LAYERS, ids=lambda layer: type(layer).__name__)
def test_every_library_layer_has_an_exporter_each_way(layer):
    assert registry.onnx_exporter(layer) is not None
    assert registry.torch_exporter(layer) is not None


def test_an_importer_applies_from_the_opset_it_is_registered_for():
    assert registry.onnx_importer("PRelu", 6) is activations.prelu_from_onnx_before_7
    assert registry.onnx_importer("PRelu", 7) is activations.prelu_from_onnx
    assert registry.onnx_importer("Softmax", 12) is activations.over_channels_from_onnx_before_13
    assert registry.onnx_importer("Softmax", 21) is activations.over_channels_from_onnx
    assert registry.onnx_importer("Pad", 10) is conv.padded_from_onnx_before_11
    assert registry.onnx_importer("Pad", 18) is conv.padded_from_onnx
    assert registry.onnx_importer("Conv", 1) is conv.from_onnx
    assert registry.onnx_importer("Einsum", 17) is None


def test_a_second_converter_for_the_same_key_is_refused():
    with pytest.raises(ValueError, match="registered already"):
        registry.exports_to_onnx(Convolution)(lambda layer, writer: None)
    with pytest.raises(ValueError, match="an importer of Conv since opset 1 is registered already"):
        registry.imports_from_onnx("Conv", since=1)(lambda node, reader: (None, 1))
    with pytest.raises(ValueError, match="registered already"):
        registry.imports_from_torch("Conv2d")(lambda nn, name, child, padded: None)
