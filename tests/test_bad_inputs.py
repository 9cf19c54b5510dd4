"""Every public entry point of the framework answers bad input with an exception that names the
argument, says what was expected and shows what came in. The lists below are the documentation
of those answers: (call, exception, words the message must contain). The kernels' list ships with
them, in cnn_ext/tests/test_kernel_bad_inputs.py."""

import gzip
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnn_ext
from cnn.datasets import IdxFormatError, load_mnist
from cnn.gradcheck import check_gradients
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Flatten,
                        Layer, Pooling, Relu, Sigmoid, SoftmaxWithLoss, Tanh)
from cnn.models import LeNet, ResNet, Sequential, load_model
from cnn.optim import SGD, Adam, Momentum, make_optimizer
from cnn.trainer import Trainer
from cnn_ext.tests.messages import check_message
from mnist_files import MNIST_DIR
from paths import TESTS

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_lenet.py"

F32 = np.float32
X = np.zeros((2, 3, 6, 6), F32)
OUT = cnn_ext.maxpool(X, 2, 2)
W = np.zeros((4, 3, 3, 3), F32)
B = np.zeros(4, F32)
DOUT = np.zeros((2, 4, 6, 6), F32)
CONV = Convolution(np.zeros((4, 3, 3, 3), F32), np.zeros(4, F32))
AFFINE = Affine(np.zeros((12, 5), F32), np.zeros(5, F32))
NORM = BatchNormalization(np.ones(3, F32), np.zeros(3, F32))
IMAGES = np.zeros((4, 1, 28, 28), F32)
LABELS = np.array([0, 1, 2, 3])


def after_forward(layer, x):
    layer.forward(x, train=True)
    return layer


def with_value(value, index=(0, 0, 3, 3)):
    images = IMAGES.copy()
    images[index] = value
    return images


def trainer(**overrides):
    arguments = dict(model=LeNet(seed=0), optimizer=SGD(lr=0.1), log=None) | overrides
    return Trainer(**arguments)


LAYERS_MODELS_OPTIMIZERS = [
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
    (lambda: AvgPooling(3, 3, pad=3, count_include_pad=False), ValueError, ["pad must be at most (pool_h - 1) * dilation = 2", "pad=3"]),
    (lambda: AvgPooling(2, 2, count_include_pad=1), TypeError, ["count_include_pad", "True or False", "1"]),
    (lambda: Pooling(2, 2, ceil_mode="yes"), TypeError, ["ceil_mode", "True or False", "'yes'"]),
    (lambda: Pooling(3, 3, pad=3, dilation=1), ValueError, ["pad must be at most (pool_h - 1) * dilation = 2", "pad=3"]),
    (lambda: Pooling(2, 2, dilation=0), ValueError, ["dilation", "positive", "0"]),
    (lambda: Pooling(2, 2, pad=2), ValueError, ["pad must be at most (pool_h - 1) * dilation = 1", "pad=2"]),
    (lambda: Pooling(3, 3, stride=(1, 0)), ValueError, ["stride", "positive integer", "0"]),
    (lambda: Relu().forward([1.0, 2.0]), TypeError, ["Relu", "numpy array", "list"]),
    (lambda: Relu().backward(np.zeros(3, F32)), RuntimeError, ["Relu", "forward", "train=True"]),
    (lambda: (Relu().forward(np.zeros(3, F32), train=False), Relu().backward(np.zeros(3, F32))), RuntimeError, ["Relu", "train=True"]),
    (lambda: Pooling(2, 2).backward(OUT), RuntimeError, ["Pooling", "forward", "train=True"]),
    (lambda: Convolution(W, B).backward(DOUT), RuntimeError, ["Convolution", "forward", "train=True"]),
    (lambda: after_forward(Convolution(W, B, pad=1), X).backward(DOUT[:, :3]), ValueError, ["Convolution", "dout", "(2, 4, 6, 6)", "(2, 3, 6, 6)"]),
    (lambda: after_forward(Pooling(2, 2), X).backward(OUT[:, :, :2]), ValueError, ["Pooling", "dout", "(2, 3, 3, 3)", "(2, 3, 2, 3)"]),
    (lambda: AvgPooling(2, 2).backward(OUT), RuntimeError, ["AvgPooling", "forward"]),
    (lambda: after_forward(AvgPooling(2, 2), X).backward(OUT[:1]), ValueError, ["AvgPooling", "(2, 3, 3, 3)", "(1, 3, 3, 3)"]),
    (lambda: Affine(np.zeros((12, 5), F32), np.zeros(5, F32)).backward(np.zeros((2, 5), F32)), RuntimeError, ["Affine", "forward"]),
    (lambda: after_forward(Affine(np.zeros((12, 5), F32), np.zeros(5, F32)), np.zeros((2, 12), F32)).backward(np.zeros((2, 4), F32)), ValueError, ["Affine", "dout", "(2, 5)", "(2, 4)"]),
    (lambda: after_forward(Affine(np.zeros((12, 5), F32), np.zeros(5, F32)), np.zeros((2, 12), F32)).backward([[0.0] * 5] * 2), TypeError, ["Affine", "dout", "numpy array", "list"]),
    (lambda: Flatten().backward(np.zeros((2, 4), F32)), RuntimeError, ["Flatten", "forward"]),
    (lambda: after_forward(Flatten(), X).backward(np.zeros((2, 107), F32)), ValueError, ["Flatten", "(2, 108)", "(2, 107)"]),
    (lambda: after_forward(Relu(), X).backward(X[:1]), ValueError, ["Relu", "(2, 3, 6, 6)", "(1, 3, 6, 6)"]),
    (lambda: Sigmoid().backward(X), RuntimeError, ["Sigmoid", "forward"]),
    (lambda: Tanh().backward(X), RuntimeError, ["Tanh", "forward"]),
    (lambda: Dropout(0.5).backward(X), RuntimeError, ["Dropout", "forward"]),
    (lambda: NORM.backward(X[:, :, :1, :1]), RuntimeError, ["BatchNormalization", "forward"]),
    (lambda: LeNet(seed=0).backward(), RuntimeError, ["SoftmaxWithLoss", "forward pass first"]),
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
    (lambda: LeNet(seed=0).predict_batches(with_value(np.nan)), ValueError, ["x", "1 NaN or infinite"]),
    (lambda: LeNet(seed=0).accuracy(with_value(np.inf), LABELS), ValueError, ["x", "NaN or infinite"]),
    (lambda: LeNet(seed=0).predict_batches(IMAGES.astype(np.uint8)), TypeError, ["x", "uint8", "/ 255"]),
    (lambda: LeNet(seed=0).predict_batches(IMAGES.astype(np.complex64)), TypeError, ["x", "complex64"]),
    (lambda: LeNet(seed=0).predict_batches(IMAGES.astype(object)), TypeError, ["x", "object"]),
    (lambda: LeNet(seed=0).predict_batches(IMAGES.astype(np.float64)), TypeError, ["x", "float64", "float32"]),
    (lambda: LeNet(seed=0).predict_batches(IMAGES[:0]), ValueError, ["x", "at least one sample", "empty batch", "(0, 1, 28, 28)"]),
    # Every prediction entry point refuses what predict_batches refuses (issue 32).
    (lambda: LeNet(seed=0).predict_classes(with_value(np.nan)), ValueError, ["x", "1 NaN or infinite", "sample 0"]),
    (lambda: LeNet(seed=0).predict(with_value(np.inf)[0]), ValueError, ["x", "1 NaN or infinite"]),
    (lambda: LeNet(seed=0).predict_proba(with_value(-np.inf)), ValueError, ["x", "1 NaN or infinite"]),
    (lambda: LeNet(seed=0).layer_outputs(with_value(np.nan)), ValueError, ["x", "1 NaN or infinite"]),
    (lambda: LeNet(seed=0).predict(IMAGES[:0]), ValueError, ["x", "at least one sample", "(0, 1, 28, 28)"]),
    (lambda: LeNet(seed=0).predict(IMAGES.astype(np.uint8)), TypeError, ["x", "uint8", "x.astype(np.float32) / 255"]),
    (lambda: LeNet(seed=0).predict([["a"]]), TypeError, ["x", "array-like of numbers", "[['a']] (list)"]),
    (lambda: Sequential([Convolution.create(1, 2, 3, rng=0), Flatten(), Affine.create(1352, 10, rng=0)]).predict(np.zeros((5, 784), F32)),
     ValueError, ["x", "flat samples", "(5, 784)", "input_shape=(1, 28, 28)", "load_mnist(flatten=False)"]),
    (lambda: Sequential([Convolution.create(1, 2, 3, rng=0), Flatten(), Affine.create(1352, 10, rng=0, dtype=np.float64)]),
     TypeError, ["layers[0]", "Convolution(1->2, 3x3", "float32", "layers[2]", "Affine(1352->10)", "float64", "one dtype"]),
    (lambda: Convolution.create(1, 2, 3, rng=0).forward(IMAGES[:0]), ValueError, ["Convolution", "no empty axis", "(0, 1, 28, 28)"]),
    (lambda: Convolution.create(1, 2, 3, rng=0).forward(IMAGES.astype(np.uint8)), TypeError, ["Convolution", "uint8", "/ 255"]),
    (lambda: LeNet(seed=0).predict_batches(np.zeros((4, 3, 28, 28), F32)), ValueError, ["x", "input_shape (1, 28, 28)", "(N, 784)", "got shape (4, 3, 28, 28)"]),
    (lambda: LeNet(seed=0).predict(np.zeros((5, 10), F32)), ValueError, ["x", "input_shape (1, 28, 28)", "got shape (5, 10)", "load_mnist(flatten=False)"]),
    (lambda: LeNet(seed=0).predict(np.zeros((5, 28, 28), F32)), ValueError, ["x", "got shape (5, 28, 28)", "5 samples", "x.reshape(-1, 1, 28, 28)"]),
    (lambda: LeNet(seed=0).predict(np.zeros((28, 28), F32)), ValueError, ["x", "got shape (28, 28)", "this is one sample", "x.reshape(-1, 1, 28, 28)"]),
    (lambda: LeNet(seed=0).predict_batches(np.zeros((1, 28, 28), F32)), ValueError, ["x", "got shape (1, 28, 28)", "x[None]", "predict_classes"]),
    (lambda: LeNet(seed=0).accuracy(np.zeros((1, 28, 28), F32), [3]), ValueError, ["x", "got shape (1, 28, 28)", "x[None]"]),
    (lambda: Sequential([Convolution.create(1, 4, 3, rng=0), Flatten(), Affine.create(100, 10, rng=0)], input_shape=(1, 12, 12)),
     ValueError, ["layers[2]", "Affine(100->10)", "input_shape (1, 12, 12)", "(400,)", "100 features"]),
    (lambda: Convolution(np.zeros((4, 2, 3, 3), F32), np.zeros(4, F32), groups=3), ValueError, ["groups=3", "output channels", "4"]),
    (lambda: Convolution(W, B, stride=2, pad="same"), ValueError, ["pad='same'", "stride 1", "(2, 2)"]),
    (lambda: Convolution(W, B, pad="valid"), ValueError, ["pad", "'same'", "'valid'"]),
    (lambda: Convolution(W, B, dilation=(1, 0)), ValueError, ["dilation", "positive", "0"]),
    (lambda: Convolution(np.zeros((4, 2, 3, 3), F32), np.zeros(4, F32), groups=2).forward(np.zeros((1, 2, 5, 5), F32)), ValueError, ["Convolution", "(N, 4, H, W)", "(1, 2, 5, 5)"]),
    (lambda: Convolution.create(3, 6, 3, groups=2), ValueError, ["groups=2", "in_channels=3"]),
    (lambda: Dropout(dropout_ratio=1.5), ValueError, ["dropout_ratio", "1.5"]),
    (lambda: ResNet(blocks=0), ValueError, ["blocks", "positive", "0"]),
    (lambda: ResNet(stages=[16]), ValueError, ["stages", "(channels, stride)", "[16]"]),
    (lambda: ResNet(stages=[(16, 0)]), ValueError, ["stages stride", "positive", "0"]),
    (lambda: BatchNormalization(np.ones(3, F32), np.zeros(3, F32), running_mean=np.zeros(4, F32)), ValueError, ["running_mean", "(3,)", "(4,)"]),
    (lambda: BatchNormalization(np.ones(3, F32), np.zeros(3, F32), running_var=np.ones(3)), ValueError, ["running_var", "float32", "float64"]),
    (lambda: BatchNormalization(np.ones(3, F32), np.zeros(3, F32), running_var=[1, 1, 1]), TypeError, ["running_var", "numpy array", "list"]),
    (lambda: Dropout(0.1, dropout_ratio=0.2), TypeError, ["ratio", "dropout_ratio", "not both", "0.1", "0.2"]),
    (lambda: LeNet(seed=0).forward(IMAGES, np.eye(9)[LABELS]), ValueError, ["t", "one-hot", "(4, 10)", "(4, 9)"]),
    (lambda: LeNet(seed=0).forward(IMAGES, np.array([0, 1, 2, 10])), ValueError, ["t", "[0, 10)", "10"]),
    (lambda: LeNet(seed=0).forward(IMAGES, LABELS[:3]), ValueError, ["t", "(4,)", "(3,)"]),
    (lambda: check_gradients(LeNet(seed=0), IMAGES), ValueError, ["t", "labels"]),
    (lambda: check_gradients("model", IMAGES), TypeError, ["target", "str"]),
]

TRAINING = [
    (lambda: trainer(batch_size=0), ValueError, ["batch_size", "0"]),
    (lambda: trainer(seed=-1), ValueError, ["seed", "-1"]),
    (lambda: trainer(model="lenet"), TypeError, ["model", "Sequential", "'lenet'"]),
    (lambda: trainer(optimizer="adam"), TypeError, ["optimizer", "Optimizer", "'adam'"]),
    (lambda: trainer().fit(IMAGES, LABELS, epochs=0), ValueError, ["epochs", "0"]),
    (lambda: trainer().fit(IMAGES, LABELS[:3], epochs=1), ValueError, ["t", "one label per sample", "(3,)"]),
    (lambda: trainer().fit(with_value(np.nan), LABELS, epochs=1), ValueError, ["x", "NaN"]),
    (lambda: trainer().fit(IMAGES[:0], LABELS[:0], epochs=1), ValueError, ["x", "at least one sample"]),
    (lambda: trainer().fit(np.zeros((200, 700), F32), np.zeros(200, int), epochs=1), ValueError, ["x", "got shape (200, 700)", "(N, 784)"]),
    (lambda: trainer().fit(IMAGES, LABELS, 1, x_test=np.zeros((3, 5), F32), t_test=LABELS[:3]), ValueError, ["x_test", "got shape (3, 5)"]),
    (lambda: trainer().fit(IMAGES, LABELS, 1, x_test=IMAGES), ValueError, ["x_test", "t_test", "together"]),
    (lambda: trainer().fit(IMAGES, LABELS, 1, x_test=with_value(-np.inf), t_test=LABELS), ValueError, ["x_test", "NaN or infinite"]),
    (lambda: trainer().fit(IMAGES, np.array([0, 1, 2, 11]), epochs=1), ValueError, ["t", "[0, 10)", "11"]),
    (lambda: trainer().fit(IMAGES, LABELS, epochs=1, resume=True), ValueError, ["resume", "checkpoint"]),
    (lambda: trainer(keep_best=True), ValueError, ["keep_best=True", "validation=0.1", "validation=(x_val, t_val)"]),
    (lambda: trainer(early_stopping=2), ValueError, ["early_stopping=2", "validation"]),
    (lambda: trainer(validation=2.0), ValueError, ["validation", "(0.0, 1.0)", "2.0"]),
    (lambda: trainer(validation=[IMAGES, LABELS]), TypeError, ["validation", "(x, t) pair", "list"]),
    (lambda: trainer(validation=0.1).fit(IMAGES, LABELS, epochs=1), ValueError, ["validation=0.1", "4 training samples", "holds out 0"]),
    (lambda: trainer(validation=(np.zeros((2, 1, 20, 20), F32), LABELS[:2])).fit(IMAGES, LABELS, epochs=1), ValueError, ["validation x", "input_shape (1, 28, 28)", "(2, 1, 20, 20)"]),
    (lambda: make_optimizer("lbfgs", lr=0.1), ValueError, ["optimizer", "'lbfgs'", "sgd"]),
    (lambda: Adam(lr=-0.001), ValueError, ["lr", "-0.001"]),
    (lambda: Adam(lr=float("inf")), ValueError, ["lr", "inf"]),
]


def broken_mnist_dir(tmp_path):
    """A copy of MNIST whose test labels are cut in half."""
    for path in MNIST_DIR.glob("*.gz"):
        shutil.copy(path, tmp_path / path.name)
    labels = gzip.decompress((MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels[:5008]))
    return tmp_path


def a_checkpoint(tmp_path):
    """The checkpoint of one short epoch of LeNet."""
    Trainer(LeNet(seed=0), SGD(lr=0.1), batch_size=2, checkpoint=tmp_path / "checkpoint.npz",
            log=None).fit(IMAGES, LABELS, epochs=1)
    return tmp_path / "checkpoint.npz"


def an_onnx_file(tmp_path):
    """The opening bytes of an ONNX model (a protobuf whose first field is ir_version)."""
    (tmp_path / "lenet.onnx").write_bytes(b"\x08\x08\x12\x07cnn-ext")
    return tmp_path / "lenet.onnx"


class Doubled(Layer):
    """A user layer that is never registered."""

    def forward(self, x, train=True):
        return 2 * x


FILES = [
    (lambda tmp: load_mnist(root=tmp / "missing", download=False), FileNotFoundError, ["root", "does not exist"]),
    (lambda tmp: load_mnist(root=tmp, mirrors=[]), FileNotFoundError, ["train-images-idx3-ubyte.gz", "root=", "CNN_EXT_DATA", "data/mnist", "clone's root"]),
    (lambda tmp: load_mnist(root=broken_mnist_dir(tmp), download=False), IdxFormatError, ["t10k-labels", "truncated", "found 5000"]),
    (lambda tmp: LeNet(seed=0).load(tmp / "absent.npz"), FileNotFoundError, ["absent.npz"]),
    (lambda tmp: (tmp / "junk.npz").write_bytes(b"not a zip") and LeNet(seed=0).load(tmp / "junk.npz"), ValueError, ["junk.npz", "truncated or corrupted"]),
    (lambda tmp: LeNet(seed=0, num_classes=3).save(tmp / "w.npz") or LeNet(seed=0).load(tmp / "w.npz"), ValueError, ["w.npz", "does not fit", "'layers.11.W'", "(84, 3)", "(84, 10)"]),
    (lambda tmp: LeNet(seed=0).load(a_checkpoint(tmp)), ValueError, ["checkpoint.npz", "is a Trainer checkpoint", "model.load_checkpoint("]),
    (lambda tmp: load_model(a_checkpoint(tmp)), ValueError, ["checkpoint.npz", "not a saved model", "model.load_checkpoint(", "weights.npz"]),
    (lambda tmp: LeNet(seed=0).load(an_onnx_file(tmp)), ValueError, ["lenet.onnx", "ONNX model", "model.load reads .npz", "cnn.interop.from_onnx("]),
    (lambda tmp: load_model(an_onnx_file(tmp)), ValueError, ["lenet.onnx", "ONNX model", "cnn.interop.from_onnx("]),
    (lambda tmp: Sequential([Flatten(), Doubled()]).save(tmp / "m.npz") or load_model(tmp / "m.npz"), ValueError, ["m.npz", "layers[1]", "'Doubled'", "not a registered layer", "@cnn.layers.register"]),
    (lambda tmp: load_model(tmp / "absent.npz"), FileNotFoundError, ["absent.npz"]),
    (lambda tmp: LeNet(seed=0).save(tmp / "lenet.npz") or load_model(tmp), IsADirectoryError, ["'{tmp}'", "is a folder", "{tmp}/lenet.npz"]),
    (lambda tmp: LeNet(seed=0).save(tmp / "missing" / "lenet.npz"), FileNotFoundError, ["'{tmp}/missing/lenet.npz'", "folder", "does not exist", "os.makedirs"]),
    (lambda tmp: LeNet(seed=0).save(tmp), IsADirectoryError, ["'{tmp}'", "is a folder", "{tmp}/model.npz"]),
    (lambda tmp: pickle.dump({"W1": np.zeros(3)}, open(tmp / "params.pkl", "wb")) or load_model(tmp / "params.pkl"), ValueError, ["params.pkl", "Python pickle", "cnn.book.load_params", "from_book_params"]),
    (lambda tmp: np.save(tmp / "w.npy", np.zeros(3)) or LeNet(seed=0).load(tmp / "w.npy"), ValueError, ["w.npy", ".npy array", "model.save"]),
    (lambda tmp: (tmp / "empty.npz").write_bytes(b"") or LeNet(seed=0).load(tmp / "empty.npz"), ValueError, ["empty.npz", "empty (0 bytes)"]),
]


EXAMPLE_FLAGS = [
    (["--lr", "-1"], ["--lr must be", "--lr=-1"]),
    (["--train-size", "0"], ["--train-size", "0"]),
    (["--epochs", "0"], ["--epochs", "0"]),
    (["--batch-size", "0"], ["--batch-size must be a positive integer", "--batch-size=0"]),
    (["--data-dir", "/nonexistent/mnist"], ["--data-dir", "/nonexistent/mnist", "does not exist"]),
    (["--data-dir", str(TESTS)], ["--data-dir", str(TESTS), "lacks train-images-idx3-ubyte.gz", "leave out --data-dir"]),
    (["--optimizer", "adamw"], ["--optimizer", "adamw"]),
    (["--epochs", "two"], ["--epochs", "two"]),
    (["--dtype", "float16"], ["--dtype", "float16"]),
    (["--lr", "nan"], ["--lr", "nan"]),
    (["--lr", "0"], ["--lr", "0"]),
    (["--seed", "-3"], ["--seed", "-3"]),
    (["--keep-best"], ["--keep-best", "--validation 0.1"]),
    (["--early-stopping", "2"], ["--early-stopping", "--validation 0.1"]),
    (["--validation", "1.5"], ["--validation", "1.5"]),
    (["--validation", "0.2", "--early-stopping", "0"], ["--early-stopping", "0"]),
    (["--train-size", "64", "--validation", "0.001"], ["--validation 0.001 of 64 training images", "holds out 0", "between"]),
    (["--train-size", "64", "--optimizer", "sgd", "--lr", "1e30"], ["loss became", "epoch 1", "smaller learning rate than --lr 1e+30"]),
]


PYTHON_WORDS = ("lr=", "batch_size", "root=", "validation=", "keep_best", "early_stopping=", "load_mnist")


@pytest.mark.parametrize("call, exception, words", LAYERS_MODELS_OPTIMIZERS,
                         ids=[f"layer{i}" for i in range(len(LAYERS_MODELS_OPTIMIZERS))])
def test_layers_models_optimizers(call, exception, words):
    with pytest.raises(exception) as error:
        call()
    check_message(error, words)


@pytest.mark.parametrize("call, exception, words", TRAINING, ids=[f"training{i}" for i in range(len(TRAINING))])
def test_training(call, exception, words):
    with pytest.raises(exception) as error:
        call()
    check_message(error, words)


@pytest.mark.parametrize("call, exception, words", FILES, ids=[f"file{i}" for i in range(len(FILES))])
def test_files(call, exception, words, tmp_path):
    """``{tmp}`` in a word stands for the test's folder."""
    with pytest.raises(exception) as error:
        call(tmp_path)
    check_message(error, [word.replace("{tmp}", str(tmp_path)) for word in words])


@pytest.mark.slow
@pytest.mark.parametrize("flags, words", EXAMPLE_FLAGS, ids=[" ".join(f) for f, _ in EXAMPLE_FLAGS])
def test_example_command_line(tmp_path, flags, words):
    """At the command line: a one-line message, exit code 2, no traceback."""
    result = subprocess.run([sys.executable, str(EXAMPLE), *flags, "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, f"{word!r} missing from {result.stderr!r}"
    unflagged = re.sub(r"--[a-z-]+=?", "", result.stderr)
    spoken = [word for word in PYTHON_WORDS if word in unflagged]
    assert not spoken, f"the job's message speaks Python ({spoken}) where its user typed flags"


@pytest.mark.slow
def test_example_resume_from_a_truncated_checkpoint(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04 cut short")
    result = subprocess.run([sys.executable, str(EXAMPLE), "--train-size", "64", "--out", str(tmp_path),
                             "--resume"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "checkpoint.npz" in result.stderr and "truncated or corrupted" in result.stderr


def test_messages_quote_a_short_summary_of_a_large_value():
    images = [["0"] * 784] * 600  # a long list of 470,400 strings, not numbers
    with pytest.raises(TypeError) as info:
        LeNet(seed=0).predict(images)
    assert "a list of 600 items" in str(info.value)
    assert len(str(info.value)) < 200
    with pytest.raises(TypeError) as info:
        cnn_ext.im2col(X, "3" * 1000, 3)
    assert len(str(info.value)) < 200


def test_average_and_max_pooling_are_siblings():
    from cnn.layers.pooling import WindowPooling
    assert not isinstance(AvgPooling(2, 2), Pooling)
    assert isinstance(AvgPooling(2, 2), WindowPooling) and isinstance(Pooling(2, 2), WindowPooling)
