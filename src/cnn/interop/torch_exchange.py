"""A Sequential as a torch.nn.Sequential and back, weights and running statistics copied."""

from __future__ import annotations

import functools
from typing import Any, Optional

import numpy as np

from cnn._checks import describe
from cnn.interop.layout import input_rank, rank_after
from cnn.interop.registry import torch_exporter, torch_importer
from cnn.interop.requirements import require
from cnn.layers import Flatten, GlobalAveragePooling, GlobalMaxPooling, Layer, Residual
from cnn.models.sequential import Sequential

__all__ = ["to_torch", "from_torch", "residual_block_class"]


def to_torch(model: Sequential):
    """The model as a ``torch.nn.Sequential`` with the same weights, in training mode (call ``.eval()``
    for inference, as for any PyTorch module).

    Convolution -> Conv2d (with its groups and dilation; padding that differs between the two
    sides of an axis becomes a ZeroPad2d before it), Pooling -> MaxPool2d, AvgPooling -> AvgPool2d, Flatten -> Flatten,
    Affine -> Linear (weight transposed; a Flatten is put before one that takes images), Relu,
    LeakyRelu -> LeakyReLU, PRelu -> PReLU, Sigmoid, Tanh, Softmax and LogSoftmax (dim 1),
    GlobalAveragePooling / GlobalMaxPooling -> AdaptiveAvgPool2d(1) / AdaptiveMaxPool2d(1) and a
    Flatten, Dropout, BatchNormalization -> BatchNorm2d or BatchNorm1d (PyTorch's momentum
    is 1 - cnn's), Residual -> a module of this library's (:func:`residual_block_class`) holding
    the body and the shortcut as Sequentials. Parameters keep their dtype. The loss is not part of the module.

    Raises:
        ValueError: naming a layer PyTorch has no equivalent for here.
        ImportError: without torch.
    """
    torch = require("torch")
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a cnn.models.Sequential, got {describe(model)}")
    writer = TorchWriter(torch, input_rank(model))
    return torch.nn.Sequential(*writer.convert_all(model.layers, "layers"))


class TorchWriter:
    """What a layer's PyTorch converter (:mod:`cnn.interop.registry`) writes with: ``nn``, the
    rank of the data the layer takes, and copies of arrays as tensors."""

    def __init__(self, torch, rank: int) -> None:
        self.torch, self.nn, self.rank = torch, torch.nn, rank
        self.where, self.layer = "", None

    def tensor(self, array: np.ndarray):
        """A tensor copy of ``array``: the two models do not share memory."""
        return self.torch.from_numpy(np.array(array))

    def dtype(self, array: np.ndarray):
        """The torch dtype of ``array``'s (float32 or float64)."""
        return self.torch.float64 if array.dtype == np.float64 else self.torch.float32

    def refuse(self, reason: str) -> ValueError:
        return ValueError(f"to_torch: {self.where} ({self.layer!r}): {reason}")

    def convert(self, layer, where: str) -> list:
        """The modules of one layer (a Flatten or a ZeroPad2d before some)."""
        convert = torch_exporter(layer)
        if convert is None:
            raise ValueError(f"to_torch: {where} ({layer!r}) has no PyTorch equivalent here; "
                             f"the layers of cnn.layers can be converted")
        outer = self.where, self.layer
        self.where, self.layer = where, layer
        modules = convert(layer, self)
        self.where, self.layer = outer
        self.rank = rank_after(layer, self.rank)
        return modules

    def convert_all(self, layers, where: str) -> list:
        """The modules of ``layers`` in turn, each named ``where[i]`` in messages."""
        return [module for index, layer in enumerate(layers)
                for module in self.convert(layer, f"{where}[{index}]")]


def from_torch(module, input_shape: Optional[tuple[int, ...]] = None) -> Sequential:
    """A ``torch.nn.Sequential`` (nested ones are read in order) as a Sequential with the same weights.

    Conv2d (with groups, dilation, and a ZeroPad2d before it taken into its padding), MaxPool2d,
    AvgPool2d, AdaptiveAvgPool2d(1) and AdaptiveMaxPool2d(1) (the Flatten after them dropped:
    cnn's global pooling gives (N, C)), Flatten, Linear, ReLU, LeakyReLU, PReLU, Sigmoid, Tanh,
    Softmax and LogSoftmax over dim 1, Dropout, Identity, BatchNorm1d and BatchNorm2d (with
    running statistics), and the residual blocks :func:`to_torch` writes
    (:func:`residual_block_class`) are mapped; weights keep their dtype (float32 or
    float64). ``input_shape`` is one sample's shape, for :meth:`Sequential.summary`.

    Raises:
        ValueError: naming a module, or a setting of one (padding_mode, divisor_override, a
            ZeroPad2d not followed by a Conv2d...), that cannot be mapped.
        ImportError: without torch.
    """
    torch = require("torch")
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"module must be a torch.nn.Sequential, got {type(module).__name__}")
    layers = _layers_of(nn, module)
    if not layers:
        raise ValueError("from_torch: the module holds no layer")
    return Sequential(layers, input_shape=input_shape)


def _layers_of(nn, module, prefix: str = "") -> list[Layer]:
    """The cnn layers of a Sequential's leaves (a residual block's branches read the same way)."""
    layers, padded = [], None
    for name, child in _leaves(nn, module, prefix):
        if padded is not None and not isinstance(child, nn.Conv2d):
            raise refuse_module(*padded, "padding", padded[1].padding, "cnn pads only as part of a "
                                                                 "convolution, and no Conv2d follows")
        if isinstance(child, (nn.ZeroPad2d, nn.ConstantPad2d)):
            if isinstance(child, nn.ConstantPad2d) and child.value != 0:
                raise refuse_module(name, child, "value", child.value, "cnn pads with zeros")
            padded = (name, child)
            continue
        if isinstance(child, residual_block_class(nn)):
            layer = Residual(_layers_of(nn, child.body, f"{name}.body."), None if child.shortcut is None
                             else _layers_of(nn, child.shortcut, f"{name}.shortcut."))
        else:
            layer = _layer(nn, name, child, None if padded is None else padded[1].padding)
        padded = None
        if isinstance(layer, Flatten) and layers and \
                isinstance(layers[-1], (GlobalAveragePooling, GlobalMaxPooling)):
            continue  # global pooling gives (N, C) already
        if layer is not None:
            layers.append(layer)
    if padded is not None:
        raise refuse_module(*padded, "padding", padded[1].padding, "no Conv2d follows it")
    return layers


@functools.lru_cache(maxsize=None)
def residual_block_class(nn):
    """The PyTorch module a :class:`~cnn.layers.Residual` becomes, made once torch is imported:
    ``body(x) + shortcut(x)``, the shortcut the identity when None."""

    class ResidualBlock(nn.Module):
        """``body(x) + shortcut(x)``: a residual block of cnn-ext, the body and the shortcut
        ``torch.nn.Sequential`` modules (the shortcut None for the identity)."""

        def __init__(self, body, shortcut=None):
            super().__init__()
            self.body, self.shortcut = body, shortcut

        def forward(self, x):
            return self.body(x) + (x if self.shortcut is None else self.shortcut(x))

    return ResidualBlock


def _leaves(nn, module, prefix: str = ""):
    for name, child in module.named_children():
        if isinstance(child, nn.Sequential):
            yield from _leaves(nn, child, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", child


def array_of(parameter) -> np.ndarray:
    """A NumPy copy of a torch parameter or buffer."""
    return parameter.detach().cpu().numpy().copy()


def refuse_module(name: str, child, setting: str, value: Any, reason: str) -> ValueError:
    return ValueError(f"from_torch: module {name!r} ({type(child).__name__}): {setting}={value!r} "
                      f"cannot be mapped: {reason}")


def _layer(nn, name: str, child, padded: Optional[tuple[int, int, int, int]] = None) -> Optional[Layer]:
    """The cnn layer of one module, by its registered converter; ``padded``: the (left, right,
    top, bottom) of a ZeroPad2d just before a Conv2d."""
    convert = torch_importer(nn, child)
    if convert is None:
        raise ValueError(f"from_torch: module {name!r} ({type(child).__name__}) has no cnn layer")
    return convert(nn, name, child, padded)
