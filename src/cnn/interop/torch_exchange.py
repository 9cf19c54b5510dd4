"""A Sequential as a torch.nn.Sequential and back, weights and running statistics copied."""

from __future__ import annotations

import functools
from typing import Any, Optional

import numpy as np

from cnn._checks import describe
from cnn_ext.geometry import pair, pool_strides
from cnn.interop.layout import input_rank, rank_after
from cnn.interop.requirements import require
from cnn.layers import (Affine, AvgPooling, BatchNormalization, Convolution, Dropout, Flatten,
                        GlobalAveragePooling, GlobalMaxPooling, Layer, LeakyRelu, LogSoftmax, Pooling,
                        PRelu, Relu, Residual, Sigmoid, Softmax, Tanh)
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
    nn = torch.nn
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a cnn.models.Sequential, got {describe(model)}")

    def tensor(array: np.ndarray):
        return torch.from_numpy(np.array(array))  # a copy: the two models do not share memory

    rank = input_rank(model)

    def convert(layer, where: str) -> list:
        """The modules of one layer (a Flatten or a ZeroPad2d before some)."""
        nonlocal rank
        modules = []
        if isinstance(layer, Residual):
            body = nn.Sequential(*[module for position, inner in enumerate(layer.body)
                                   for module in convert(inner, f"{where} body[{position}]")])
            shortcut = None if layer.shortcut is None else nn.Sequential(*[
                module for position, inner in enumerate(layer.shortcut)
                for module in convert(inner, f"{where} shortcut[{position}]")])
            module = residual_block_class(nn)(body, shortcut)
        elif isinstance(layer, Convolution):
            W, b = layer.params
            (top, bottom), (left, right) = layer.pads
            padding = (top, left)
            if top != bottom or left != right:
                modules.append(nn.ZeroPad2d((left, right, top, bottom)))
                padding = 0
            module = nn.Conv2d(layer.in_channels, W.shape[0], tuple(W.shape[2:]), stride=layer.strides,
                               padding=padding, dilation=layer.dilations, groups=layer.groups,
                               dtype=_torch_dtype(torch, W))
            module.weight.data, module.bias.data = tensor(W), tensor(b)
        elif isinstance(layer, (Pooling, AvgPooling)):
            (top, bottom), (left, right) = layer.pads
            if top != bottom or left != right or 2 * top > layer.pool_h or 2 * left > layer.pool_w:
                raise ValueError(f"to_torch: {where} ({layer!r}): PyTorch pools with the "
                                 f"same padding on both sides of an axis, at most half the window")
            window = dict(kernel_size=(layer.pool_h, layer.pool_w), stride=layer.strides,
                          padding=(top, left), ceil_mode=layer.ceil_mode)
            if isinstance(layer, Pooling):
                module = nn.MaxPool2d(**window, dilation=layer.dilations)
            elif layer.dilations != (1, 1):
                raise ValueError(f"to_torch: {where} ({layer!r}): PyTorch's AvgPool2d "
                                 f"has no dilation")
            else:
                module = nn.AvgPool2d(**window, count_include_pad=layer.count_include_pad)
        elif isinstance(layer, Flatten):
            module = nn.Flatten()
        elif isinstance(layer, Affine):
            if rank > 2:
                modules.append(nn.Flatten())
            W, b = layer.params
            module = nn.Linear(W.shape[0], W.shape[1], dtype=_torch_dtype(torch, W))
            module.weight.data, module.bias.data = tensor(W.T), tensor(b)
        elif isinstance(layer, (Relu, Sigmoid, Tanh)):
            module = {Relu: nn.ReLU, Sigmoid: nn.Sigmoid, Tanh: nn.Tanh}[type(layer)]()
        elif isinstance(layer, LeakyRelu):
            module = nn.LeakyReLU(layer.alpha)
        elif isinstance(layer, PRelu):
            alpha = layer.params[0]
            module = nn.PReLU(alpha.shape[0], dtype=_torch_dtype(torch, alpha))
            module.weight.data = tensor(alpha)
        elif isinstance(layer, (Softmax, LogSoftmax)):
            module = (nn.Softmax if isinstance(layer, Softmax) else nn.LogSoftmax)(dim=1)
        elif isinstance(layer, (GlobalAveragePooling, GlobalMaxPooling)):
            pool = nn.AdaptiveAvgPool2d if isinstance(layer, GlobalAveragePooling) else nn.AdaptiveMaxPool2d
            modules.append(pool(1))
            module = nn.Flatten()
        elif isinstance(layer, Dropout):
            module = nn.Dropout(layer.ratio)
        elif isinstance(layer, BatchNormalization):
            gamma, beta = layer.params
            kind = nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d
            module = kind(gamma.shape[0], eps=layer.eps, momentum=1 - layer.momentum,
                          dtype=_torch_dtype(torch, gamma))
            module.weight.data, module.bias.data = tensor(gamma), tensor(beta)
            module.running_mean.data, module.running_var.data = (tensor(buffer) for buffer in layer.buffers)
        else:
            raise ValueError(f"to_torch: {where} ({layer!r}) has no PyTorch equivalent here; "
                             f"the layers of cnn.layers can be converted")
        modules.append(module)
        rank = rank_after(layer, rank)
        return modules

    return nn.Sequential(*[module for index, layer in enumerate(model.layers)
                           for module in convert(layer, f"layers[{index}]")])


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
            raise _refuse(*padded, "padding", padded[1].padding, "cnn pads only as part of a "
                                                                 "convolution, and no Conv2d follows")
        if isinstance(child, (nn.ZeroPad2d, nn.ConstantPad2d)):
            if isinstance(child, nn.ConstantPad2d) and child.value != 0:
                raise _refuse(name, child, "value", child.value, "cnn pads with zeros")
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
        raise _refuse(*padded, "padding", padded[1].padding, "no Conv2d follows it")
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


def _array(parameter) -> np.ndarray:
    return parameter.detach().cpu().numpy().copy()


def _torch_dtype(torch, array: np.ndarray):
    return torch.float64 if array.dtype == np.float64 else torch.float32


def _refuse(name: str, child, setting: str, value: Any, reason: str) -> ValueError:
    return ValueError(f"from_torch: module {name!r} ({type(child).__name__}): {setting}={value!r} "
                      f"cannot be mapped: {reason}")


def _layer(nn, name: str, child, padded: Optional[tuple[int, int, int, int]] = None) -> Optional[Layer]:
    """The cnn layer of one module; ``padded``: the (left, right, top, bottom) of a ZeroPad2d
    just before a Conv2d."""
    if isinstance(child, nn.Conv2d):
        if child.padding_mode != "zeros":
            raise _refuse(name, child, "padding_mode", child.padding_mode, "cnn pads with zeros")
        W = _array(child.weight)
        b = _array(child.bias) if child.bias is not None else np.zeros(W.shape[0], W.dtype)
        pad = child.padding if isinstance(child.padding, str) else tuple(child.padding)
        if padded is not None:
            if isinstance(pad, str) or pad != (0, 0):
                raise _refuse(name, child, "padding", child.padding,
                              "a ZeroPad2d before it pads already")
            left, right, top, bottom = padded
            pad = ((top, bottom), (left, right))
        elif pad == "valid":
            pad = 0
        return Convolution(W, b, stride=tuple(child.stride), pad=pad,
                           dilation=tuple(child.dilation), groups=child.groups)
    if isinstance(child, (nn.MaxPool2d, nn.AvgPool2d)):
        pool_h, pool_w = pair("kernel_size", child.kernel_size, 1)
        stride = pool_strides(pool_h, pool_w, child.stride or None)
        window = dict(pad=pair("padding", child.padding, 0), ceil_mode=bool(child.ceil_mode))
        if isinstance(child, nn.MaxPool2d):
            if child.return_indices:
                raise _refuse(name, child, "return_indices", True, "a layer returns one array")
            return Pooling(pool_h, pool_w, stride, **window, dilation=pair("dilation", child.dilation, 1))
        if child.divisor_override is not None:
            raise _refuse(name, child, "divisor_override", child.divisor_override,
                          "cnn divides by the window's count")
        return AvgPooling(pool_h, pool_w, stride, **window,
                          count_include_pad=bool(child.count_include_pad))
    if isinstance(child, nn.Flatten):
        if (child.start_dim, child.end_dim) != (1, -1):
            raise _refuse(name, child, "start_dim, end_dim", (child.start_dim, child.end_dim),
                          "cnn flattens every axis after the batch axis")
        return Flatten()
    if isinstance(child, nn.Linear):
        W = _array(child.weight).T.copy()
        b = _array(child.bias) if child.bias is not None else np.zeros(W.shape[1], W.dtype)
        return Affine(W, b)
    if isinstance(child, (nn.ReLU, nn.Sigmoid, nn.Tanh)):
        return {nn.ReLU: Relu, nn.Sigmoid: Sigmoid, nn.Tanh: Tanh}[type(child)]()
    if isinstance(child, nn.LeakyReLU):
        return LeakyRelu(child.negative_slope)
    if isinstance(child, nn.PReLU):
        return PRelu(_array(child.weight).copy())
    if isinstance(child, (nn.Softmax, nn.LogSoftmax)):
        if child.dim != 1:
            raise _refuse(name, child, "dim", child.dim, "cnn's softmax runs over dim 1")
        return Softmax() if isinstance(child, nn.Softmax) else LogSoftmax()
    if isinstance(child, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        if child.output_size not in (1, (1, 1), [1, 1]):
            raise _refuse(name, child, "output_size", child.output_size,
                          "only a pooling to 1x1 (global pooling) maps")
        if isinstance(child, nn.AdaptiveMaxPool2d) and child.return_indices:
            raise _refuse(name, child, "return_indices", True, "a layer returns one array")
        return GlobalAveragePooling() if isinstance(child, nn.AdaptiveAvgPool2d) else GlobalMaxPooling()
    if isinstance(child, nn.Dropout):
        return Dropout(child.p)
    if isinstance(child, nn.Identity):
        return None
    if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if child.running_mean is None:
            raise _refuse(name, child, "track_running_stats", False,
                          "cnn's batch normalization keeps running statistics")
        if child.momentum is None:
            raise _refuse(name, child, "momentum", None,
                          "a cumulative average has no cnn equivalent")
        mean, var = _array(child.running_mean), _array(child.running_var)
        gamma = _array(child.weight) if child.weight is not None else np.ones_like(mean)
        beta = _array(child.bias) if child.bias is not None else np.zeros_like(mean)
        layer = BatchNormalization(gamma, beta, momentum=1 - child.momentum, eps=child.eps)
        layer.buffers[0][...] = mean
        layer.buffers[1][...] = var
        return layer
    raise ValueError(f"from_torch: module {name!r} ({type(child).__name__}) has no cnn layer")
