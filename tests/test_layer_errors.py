"""Bad arguments to layers, models and optimizers raise errors that name what is wrong."""

import numpy as np
import pytest

from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Pooling, Relu,
                        SoftmaxWithLoss)
from cnn.models import LeNet, Sequential
from cnn.optim import SGD, Adam, Momentum, make_optimizer

F32 = np.float32
CONV = Convolution(np.zeros((4, 3, 3, 3), F32), np.zeros(4, F32))
AFFINE = Affine(np.zeros((12, 5), F32), np.zeros(5, F32))
NORM = BatchNormalization(np.ones(3, F32), np.zeros(3, F32))

BAD_CALLS = [
    (lambda: Convolution(np.zeros((4, 3, 3), F32), np.zeros(4, F32)), ValueError, ["Convolution", "W", "4-D", "(4, 3, 3)"]),
    (lambda: Convolution([[1.0]], np.zeros(4, F32)), TypeError, ["Convolution", "W", "numpy array", "list"]),
    (lambda: Convolution(np.zeros((4, 3, 3, 3), np.int32), np.zeros(4, F32)), TypeError, ["W", "int32"]),
    (lambda: Convolution(np.zeros((4, 3, 3, 3), F32), np.zeros(5, F32)), ValueError, ["b", "(4,)", "(5,)"]),
    (lambda: Convolution(np.zeros((4, 3, 3, 3), F32), np.zeros(4)), ValueError, ["b", "float32", "float64"]),
    (lambda: Convolution(np.zeros((4, 3, 3, 3), F32), np.zeros(4, F32), stride=0), ValueError, ["stride", "0"]),
    (lambda: CONV.forward(np.zeros((2, 2, 8, 8), F32)), ValueError, ["Convolution", "(N, 3, H, W)", "(2, 2, 8, 8)"]),
    (lambda: CONV.forward(np.zeros((2, 3, 8), F32)), ValueError, ["Convolution", "(2, 3, 8)"]),
    (lambda: CONV.forward(np.zeros((2, 3, 8, 8))), TypeError, ["Convolution", "float64", "float32", "astype"]),
    (lambda: CONV.forward(np.zeros((2, 3, 8, 8), np.uint8)), TypeError, ["Convolution", "uint8"]),
    (lambda: CONV.forward(np.zeros((0, 3, 8, 8), F32)), ValueError, ["Convolution", "(0, 3, 8, 8)"]),
    (lambda: CONV.forward(np.zeros((2, 3, 1, 1), F32)), ValueError, ["filter_h=3", "height 1"]),
    (lambda: AFFINE.forward(np.zeros((2, 11), F32)), ValueError, ["Affine", "12 features", "(2, 11)"]),
    (lambda: AFFINE.forward(np.zeros(12, F32)), ValueError, ["Affine", "(12,)"]),
    (lambda: Affine(np.zeros((12, 5), F32), np.zeros(4, F32)), ValueError, ["Affine", "b", "(5,)", "(4,)"]),
    (lambda: Pooling(0, 2), ValueError, ["pool_h", "0"]),
    (lambda: Pooling(2, 2).forward(np.zeros((2, 6, 6), F32)), ValueError, ["Pooling", "(N, C, H, W)", "(2, 6, 6)"]),
    (lambda: AvgPooling(3, 2), ValueError, ["AvgPooling", "3x2", "stride"]),
    (lambda: Relu().forward([1.0, 2.0]), TypeError, ["Relu", "numpy array", "list"]),
    (lambda: Dropout(1.0), ValueError, ["ratio", "[0.0, 1.0)", "1.0"]),
    (lambda: Dropout(-0.1), ValueError, ["ratio", "-0.1"]),
    (lambda: NORM.forward(np.zeros((4, 5), F32)), ValueError, ["BatchNormalization", "(N, 3)", "(4, 5)"]),
    (lambda: BatchNormalization(np.ones(3, F32), np.zeros(3, F32), momentum=1.5), ValueError, ["momentum", "1.5"]),
    (lambda: SoftmaxWithLoss().forward(np.zeros((3, 4), F32), np.array([0, 1])), ValueError, ["t", "(3,)", "(2,)"]),
    (lambda: SoftmaxWithLoss().forward(np.zeros((3, 4), F32), np.array([0, 1, 4])), ValueError, ["t", "[0, 4)", "4"]),
    (lambda: SoftmaxWithLoss().forward(np.zeros((3, 4), F32), np.array([0, -1, 2])), ValueError, ["t", "-1"]),
    (lambda: SoftmaxWithLoss().forward(np.zeros((3, 4), F32), np.array([0.0, 1.0, 2.0])), TypeError, ["t", "integers", "float64"]),
    (lambda: SoftmaxWithLoss().forward(np.zeros((3, 4), F32), np.zeros((3, 5))), ValueError, ["t", "one-hot", "(3, 4)", "(3, 5)"]),
    (lambda: SoftmaxWithLoss().forward(np.zeros((3, 4), F32), np.full((3, 4), 0.25)), ValueError, ["t", "one-hot", "single 1"]),
    (lambda: Sequential([]), ValueError, ["layers", "empty"]),
    (lambda: Sequential([Relu(), "relu"]), TypeError, ["layers[1]", "Layer", "'relu'"]),
    (lambda: LeNet(num_classes=1), ValueError, ["num_classes", "1"]),
    (lambda: LeNet(input_shape=(28, 28)), ValueError, ["input_shape", "(28, 28)"]),
    (lambda: LeNet(dtype=np.int32), TypeError, ["dtype", "int32"]),
    (lambda: LeNet(seed=0).accuracy(np.zeros((4, 1, 28, 28), F32), np.zeros(3, int)), ValueError, ["t", "(3,)"]),
    (lambda: LeNet(seed=0).accuracy(np.zeros((4, 1, 28, 28), F32), np.zeros(4, int), batch_size=0), ValueError, ["batch_size", "0"]),
    (lambda: Sequential([Relu()]).summary(), ValueError, ["input_shape"]),
    (lambda: SGD(lr=0), ValueError, ["lr", "0"]),
    (lambda: SGD(lr=float("nan")), ValueError, ["lr", "nan"]),
    (lambda: SGD(lr="0.1"), TypeError, ["lr", "'0.1'"]),
    (lambda: Adam(beta1=1.0), ValueError, ["beta1", "1.0"]),
    (lambda: Momentum(momentum=-0.5), ValueError, ["momentum", "-0.5"]),
    (lambda: SGD(lr=0.1, weight_decay=-1), ValueError, ["weight_decay", "-1"]),
    (lambda: make_optimizer("adamw", lr=0.1), ValueError, ["optimizer", "'adamw'", "adam"]),
    (lambda: SGD(lr=0.1).update([np.zeros(3)], [np.zeros(4)]), ValueError, ["grad", "(4,)", "(3,)"]),
    (lambda: SGD(lr=0.1).update([np.zeros(3)], []), ValueError, ["params", "grads", "1", "0"]),
]


@pytest.mark.parametrize("call, exception, words", BAD_CALLS, ids=[f"case{i}" for i in range(len(BAD_CALLS))])
def test_bad_input_raises_a_message_naming_the_argument(call, exception, words):
    with pytest.raises(exception) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"
