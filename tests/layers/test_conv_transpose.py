"""ConvTranspose against an independent reference (every input pixel scattering its weighted
filter, written as loops here), against PyTorch's ConvTranspose2d in float64, by finite
differences, and through saving, ONNX, PyTorch, summaries and the demo."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import cnn
import cnn.interop
from cnn.gradcheck import check_gradients
from cnn.layers import Affine, Convolution, ConvTranspose, Flatten, Relu
from cnn.models import Sequential
from extras import optional

RTOL = {np.float32: 1e-5, np.float64: 1e-12}

#: (in, out, filter, stride, pad, output_padding, dilation, groups, H, W): odd sizes, strides and
#: pads per axis and per side, output paddings, dilation and groups.
CASES = [
    (2, 3, 3, 2, 1, 1, 1, 1, 5, 5),
    (4, 6, (3, 2), (2, 3), ((1, 0), (2, 1)), (1, 0), 1, 2, 4, 7),
    (3, 3, 3, 1, 0, 0, 2, 3, 6, 5),
    (2, 4, 1, 3, 0, 2, 1, 1, 3, 3),
    (1, 2, (2, 4), 1, (0, 1), 0, (2, 1), 1, 1, 6),
]
IDS = ["book", "uneven", "dilated-depthwise", "1x1-stride3", "wide"]


def scattered(x, W, b, stride, pads, output_padding, dilation, groups):
    """The transposed convolution by its definition: each input pixel adds its value times the
    filter into the output window it maps to, then the padding is cut from the borders."""
    n_images, in_channels, height, width = x.shape
    _, out_per_group, filter_h, filter_w = W.shape
    (sh, sw), ((top, bottom), (left, right)), (oh, ow), (dh, dw) = stride, pads, output_padding, dilation
    full = np.zeros((n_images, out_per_group * groups, (height - 1) * sh + dh * (filter_h - 1) + 1 + oh,
                     (width - 1) * sw + dw * (filter_w - 1) + 1 + ow))
    per_group = in_channels // groups
    for n in range(n_images):
        for c in range(in_channels):
            group = c // per_group
            for i in range(height):
                for j in range(width):
                    for k in range(out_per_group):
                        for u in range(filter_h):
                            for v in range(filter_w):
                                full[n, group * out_per_group + k, i * sh + u * dh, j * sw + v * dw] += \
                                    x[n, c, i, j] * W[c, k, u, v]
    out = full[:, :, top:full.shape[2] - bottom, left:full.shape[3] - right]
    return out + b.reshape(1, -1, 1, 1)


def layer_and_input(case, dtype, seed=0):
    in_channels, out_channels, size, stride, pad, extra, dilation, groups, height, width = case
    rng = np.random.default_rng(seed)
    layer = ConvTranspose.create(in_channels, out_channels, size, stride=stride, pad=pad,
                                 output_padding=extra, dilation=dilation, groups=groups, rng=1,
                                 dtype=dtype)
    layer.params[1][...] = rng.standard_normal(out_channels)
    return layer, rng.standard_normal((2, in_channels, height, width)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_the_scattering_loops(case, dtype):
    layer, x = layer_and_input(case, dtype)
    out = layer.forward(x)
    expected = scattered(x.astype(np.float64), layer.params[0].astype(np.float64),
                         layer.params[1].astype(np.float64), layer.strides, layer.pads,
                         layer.output_paddings, layer.dilations, layer.groups)
    assert out.dtype == dtype and out.shape == expected.shape
    assert out.shape[1:] == layer.output_shape(x.shape[1:])
    assert_allclose(out, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * 10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_gradients_pass_the_finite_difference_check(case):
    layer, x = layer_and_input(case, np.float64)
    errors = check_gradients(layer, x)
    assert set(errors) == {"W", "b", "x"}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("case", [case for case in CASES if not isinstance(case[4], tuple)
                                  or not isinstance(case[4][0], tuple)],
                         ids=[name for case, name in zip(CASES, IDS) if not isinstance(case[4], tuple)
                              or not isinstance(case[4][0], tuple)])
def test_forward_and_every_gradient_agree_with_pytorch_in_float64(case):
    torch = optional("torch", "pip install torch==2.13.0")
    layer, x = layer_and_input(case, np.float64)
    W, b = (torch.tensor(array, requires_grad=True) for array in layer.params)
    x_torch = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.conv_transpose2d(
        x_torch, W, b, stride=layer.strides, padding=tuple(side[0] for side in layer.pads),
        output_padding=layer.output_paddings, groups=layer.groups, dilation=layer.dilations)
    out = layer.forward(x)
    assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    dout = np.random.default_rng(3).standard_normal(out.shape)
    expected.backward(torch.tensor(dout))
    dx = layer.backward(dout)
    for name, got, reference in (("dx", dx, x_torch.grad), ("dW", layer.grads[0], W.grad),
                                 ("db", layer.grads[1], b.grad)):
        assert_allclose(got, reference.numpy(), rtol=1e-12, atol=1e-11, err_msg=name)


def test_backward_params_fills_the_gradients_backward_does():
    layer, x = layer_and_input(CASES[1], np.float64)
    dout = np.ones((2,) + layer.output_shape(x.shape[1:]))
    layer.forward(x)
    layer.backward(dout)
    expected = [grad.copy() for grad in layer.grads]
    layer.forward(x)
    assert layer.backward_params(dout) is None
    for got, wanted in zip(layer.grads, expected):
        assert_allclose(got, wanted, rtol=1e-14)


@pytest.mark.parametrize("make, error, words", [
    (lambda: ConvTranspose.create(2, 3, 3, stride=2, output_padding=2), ValueError,
     ["output_padding must be below the stride or the dilation", "output_padding=2", "stride 2"]),
    (lambda: ConvTranspose(np.ones((2, 3, 3, 3)), np.zeros(4)), ValueError,
     ["b must have shape (3,)", "got shape (4,)"]),
    (lambda: ConvTranspose(np.ones((3, 2, 3, 3)), np.zeros(4), groups=2), ValueError,
     ["groups=2", "W.shape[0] = 3"]),
    (lambda: ConvTranspose.create(2, 3, 3, pad=3).forward(np.ones((1, 2, 1, 1), np.float32)),
     ValueError, ["pad=3", "cuts the whole output height away"]),
    (lambda: ConvTranspose.create(2, 3, 3).forward(np.ones((1, 3, 4, 4), np.float32)), ValueError,
     ["ConvTranspose needs (C=2, H, W)", "(3, 4, 4)"]),
    (lambda: ConvTranspose.create(2, 3, 3).forward(np.ones((1, 2, 4, 4))), TypeError,
     ["ConvTranspose", "float64", "float32"]),
], ids=["output-padding", "bias", "groups", "pad", "channels", "dtype"])
def test_bad_arguments_are_refused_by_name(make, error, words):
    with pytest.raises(error) as raised:
        make()
    for word in words:
        assert word in str(raised.value), str(raised.value)


def upsampling_model():
    """A model for 28x28 digits that halves the image and brings it back up."""
    return Sequential([Convolution.create(1, 4, 3, stride=2, pad=1, rng=0), Relu(),
                       ConvTranspose.create(4, 2, 3, stride=2, pad=1, output_padding=1, rng=1),
                       Relu(), Flatten(), Affine.create(2 * 28 * 28, 10, rng=2)],
                      input_shape=(1, 28, 28))


def test_a_model_with_it_is_saved_loaded_and_summarised(tmp_path):
    model = upsampling_model()
    model.save(tmp_path / "model.npz")
    restored = cnn.load_model(tmp_path / "model.npz")
    x = np.random.default_rng(0).random((3, 1, 28, 28), np.float32)
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))
    assert repr(restored.layers[2]) == "ConvTranspose(4->2, 3x3, stride=2, pad=1, output_padding=1)"
    lines = []
    model.summary(print_fn=lines.append)
    assert "ConvTranspose(4->2, 3x3, stride=2, pad=1, output_padding=1)  (None, 2, 28, 28)" in lines[0]


def test_it_goes_to_onnx_and_back_and_onnxruntime_agrees(tmp_path):
    optional("onnx", 'pip install "cnn-ext[onnx]"')
    runtime = optional("onnxruntime", 'pip install "cnn-ext[onnx]"')
    model = upsampling_model()
    cnn.interop.to_onnx(model, tmp_path / "model.onnx")
    x = np.random.default_rng(1).random((2, 1, 28, 28), np.float32)
    session = runtime.InferenceSession(str(tmp_path / "model.onnx"))
    assert_allclose(session.run(None, {"x": x})[0], model.predict(x), rtol=1e-5, atol=1e-5)
    imported = cnn.interop.from_onnx(tmp_path / "model.onnx")
    assert isinstance(imported.layers[2], ConvTranspose)
    np.testing.assert_array_equal(imported.predict(x), model.predict(x))


def test_it_goes_to_pytorch_and_back():
    torch = optional("torch", "pip install torch==2.13.0")
    model = upsampling_model()
    module = cnn.interop.to_torch(model).eval()
    assert isinstance(module[2], torch.nn.ConvTranspose2d)
    x = np.random.default_rng(2).random((2, 1, 28, 28), np.float32)
    assert_allclose(module(torch.tensor(x)).detach().numpy(), model.predict(x), rtol=1e-5, atol=1e-5)
    back = cnn.interop.from_torch(module, input_shape=(1, 28, 28))
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def test_pytorch_refuses_padding_that_differs_between_sides():
    optional("torch", "pip install torch==2.13.0")
    model = Sequential([ConvTranspose.create(1, 1, 3, pad=((1, 0), (0, 0)), rng=0)])
    with pytest.raises(ValueError, match=r"to_torch: layers\[0\] .*pads both sides of an axis alike"):
        cnn.interop.to_torch(model)


def test_the_demo_describes_and_explains_a_model_with_it():
    from cnn.demo.model_view import describe_model, explain
    model = upsampling_model()
    described = describe_model(model, {"source": "test"})
    layer = described["layers"][2]
    assert layer["kind"] == "ConvTranspose" and layer["shape"] == [2, 28, 28]
    assert layer["parameters"] == model.layers[2].num_params() and layer["caption"]
    ink = np.zeros((60, 60))
    ink[10:50, 28:34] = 1.0
    answer = explain(model, ink)
    assert [item["shape"] for item in answer["layers"]][2] == [2, 28, 28]
    assert 0 <= answer["prediction"] <= 9
