"""The residual block: forward and backward through both branches against PyTorch in float64
and by gradient check, its arrays named and trained through a model, its summary indented,
checkpoints resumed with a dropout inside it, and its refusals."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from cnn.gradcheck import check_gradients
from cnn.layers import (Affine, BatchNormalization, Convolution, Dropout, GlobalAveragePooling,
                        Relu, Residual, Tanh)
from cnn.models import Sequential
from cnn.optim import Adam
from cnn.trainer import Trainer
from cnn_ext.tests.messages import check_message
from extras import optional


def block(rng, dtype=np.float64, shortcut=True, normalized=True):
    """Two 3x3 convolutions with stride 2 in the body; a strided 1x1 convolution and a batch
    norm (or a tanh: a bias before a batch norm has no gradient, which a relative error cannot
    check) as the shortcut, or the identity with stride 1."""
    stride = 2 if shortcut else 1
    body = [Convolution.create(3, 4 if shortcut else 3, 3, stride=stride, pad=1, rng=rng, dtype=dtype),
            Tanh(), Convolution.create(4 if shortcut else 3, 4 if shortcut else 3, 3, pad=1, rng=rng,
                                       dtype=dtype)]
    if not shortcut:
        return Residual(body)
    norm = BatchNormalization((1 + 0.1 * rng.standard_normal(4)).astype(dtype), np.zeros(4, dtype)) \
        if normalized else Tanh()
    return Residual(body, shortcut=[Convolution.create(3, 4, 1, stride=2, rng=rng, dtype=dtype), norm])


@pytest.mark.parametrize("shortcut", [False, True], ids=["identity", "projection"])
def test_backward_matches_finite_differences(shortcut):
    rng = np.random.default_rng(1)
    layer = block(rng, shortcut=shortcut, normalized=False)
    x = rng.standard_normal((2, 3, 6, 5))
    errors = check_gradients(layer, x)
    assert len(errors) == len(layer.params) + 1
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("shortcut", [False, True], ids=["identity", "projection"])
def test_agrees_with_pytorch(shortcut):
    torch = optional("torch", "pip install torch==2.13.0")
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    layer = block(rng, shortcut=shortcut)
    x = rng.standard_normal((2, 3, 7, 6))
    out = layer.forward(x.copy())
    tensors = {name: torch.tensor(array, requires_grad=True) for name, array in layer.named_params().items()}
    tx = torch.tensor(x, requires_grad=True)
    body = F.conv2d(tx, tensors["body.0.W"], tensors["body.0.b"], layer.body[0].strides, layer.body[0].pad)
    body = F.conv2d(torch.tanh(body), tensors["body.2.W"], tensors["body.2.b"], 1, 1)
    if shortcut:
        short = F.conv2d(tx, tensors["shortcut.0.W"], tensors["shortcut.0.b"], 2)
        short = F.batch_norm(short, None, None, tensors["shortcut.1.gamma"], tensors["shortcut.1.beta"],
                             training=True, eps=layer.shortcut[1].eps)
    else:
        short = tx
    expected = body + short
    assert_allclose(out, expected.detach().numpy(), rtol=1e-11, atol=1e-11)
    dout = rng.standard_normal(out.shape)
    expected.backward(torch.tensor(dout))
    assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    for (name, grad) in layer.named_grads().items():
        assert_allclose(grad, tensors[name].grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


def resnet_like(rng, dtype=np.float32):
    return Sequential([
        Convolution.create(1, 4, 3, pad=1, rng=rng, dtype=dtype), Relu(inplace=True),
        Residual([Convolution.create(4, 4, 3, pad=1, rng=rng, dtype=dtype), Relu(inplace=True),
                  Dropout(0.3, seed=3), Convolution.create(4, 4, 3, pad=1, rng=rng, dtype=dtype)]),
        Relu(), GlobalAveragePooling(), Affine.create(4, 3, rng=rng, dtype=dtype),
    ], input_shape=(1, 8, 8))


def test_its_arrays_are_named_trained_and_summarised():
    model = resnet_like(np.random.default_rng(0))
    assert list(model.named_params())[2:6] == ["layers.2.body.0.W", "layers.2.body.0.b",
                                               "layers.2.body.3.W", "layers.2.body.3.b"]
    assert len(model.params) == len(model.grads) == 8
    lines = []
    model.summary(print_fn=lines.append)
    table = lines[0].splitlines()
    assert table[4].startswith("Residual(4 layers, shortcut=identity)")
    assert table[5].startswith("  body.0 Convolution(4->4, 3x3, stride=1, pad=1)") and "(None, 4, 8, 8)" in table[5]
    assert table[8].startswith("  body.3 Convolution")
    assert table[-1] == f"Total params: {model.num_params():,}"
    before = {name: param.copy() for name, param in model.named_params().items()}
    x = np.random.default_rng(1).random((6, 1, 8, 8)).astype(np.float32)
    Trainer(model, Adam(lr=0.01), batch_size=3, log=None).fit(x, np.arange(6) % 3, epochs=1)
    assert not np.array_equal(before["layers.2.body.3.W"], model.named_params()["layers.2.body.3.W"])


def test_resume_restores_the_dropout_inside_a_block(tmp_path):
    x = np.random.default_rng(1).random((12, 1, 8, 8)).astype(np.float32)

    def run(epochs, resume=False):
        model = resnet_like(np.random.default_rng(0))
        Trainer(model, Adam(lr=0.01), batch_size=4, checkpoint=tmp_path / "checkpoint.npz",
                log=None).fit(x, np.arange(12) % 3, epochs, resume=resume)
        return model

    whole = resnet_like(np.random.default_rng(0))
    Trainer(whole, Adam(lr=0.01), batch_size=4, log=None).fit(x, np.arange(12) % 3, 3)
    run(1)
    resumed = run(3, resume=True)
    for name, param in whole.named_params().items():
        assert np.array_equal(param, resumed.named_params()[name]), name


@pytest.mark.parametrize("make, exception, words", [
    (lambda: Residual([]), ValueError, ["body", "at least one layer"]),
    (lambda: Residual(Relu()), TypeError, ["body", "list of cnn.layers.Layer", "Relu()"]),
    (lambda: Residual([Relu(), "conv"]), TypeError, ["body[1]", "'conv'"]),
    (lambda: Residual([Relu(inplace=True), Tanh()]), ValueError, ["body[0]", "Relu(inplace=True)", "identity"]),
    (lambda: Residual([Tanh()], shortcut=[]), ValueError, ["shortcut", "non-empty"]),
    (lambda: Residual([Convolution.create(3, 4, 3, pad=1, rng=0)]).forward(np.zeros((1, 3, 5, 5), np.float32)),
     ValueError, ["Residual", "(1, 4, 5, 5)", "(1, 3, 5, 5)", "1x1 convolution"]),
])
def test_refusals(make, exception, words):
    with pytest.raises(exception) as error:
        make()
    check_message(error, words)
