"""The layers and losses :func:`cnn.load_model` may rebuild, by name.

A saved model names the class of each of its layers and its loss; loading builds each from the
class registered under that name, and nothing else: a file cannot make ``load_model`` import a
module or call anything that was not registered. The library's layers and losses are registered
when :mod:`cnn.layers` is imported; a user layer is registered with :func:`register`.
"""

from __future__ import annotations

from typing import Optional, TypeVar, Union

from cnn._checks import describe
from cnn.layers.base import Layer
from cnn.losses import Loss

__all__ = ["register", "registered", "lookup"]

Kind = TypeVar("Kind", bound=type)
_REGISTERED: dict[str, type] = {}


def register(cls: Optional[Kind] = None, *, name: Optional[str] = None) -> Union[Kind, object]:
    """Let :func:`cnn.load_model` rebuild layers (or losses) of the class ``cls``.

    Use it as a decorator, ``@cnn.layers.register`` or ``@cnn.layers.register(name="Mine")``, on
    a subclass of :class:`~cnn.layers.Layer` or :class:`~cnn.losses.Loss`. Loading calls
    ``cls.from_config(config)`` with what the layer's ``config()`` returned when it was saved,
    then copies the saved arrays into the new layer's (see :meth:`cnn.layers.Layer.config`).
    The module defining the class must be imported before ``load_model`` is called.

    Args:
        cls: the class to register.
        name: the name saved files know it by (default: the class's own ``__name__``).

    Returns:
        ``cls`` itself (or, without ``cls``, a decorator taking it).

    Raises:
        TypeError: ``cls`` is not a Layer or Loss subclass.
        ValueError: another class is registered under the same name.

    Example:
        >>> @register
        ... class Square(Layer):
        ...     def forward(self, x, train=True):
        ...         self.x = x
        ...         return x * x
        >>> lookup("Square") is Square
        True
    """
    if cls is None:
        return lambda decorated: register(decorated, name=name)
    if not isinstance(cls, type) or not issubclass(cls, (Layer, Loss)):
        raise TypeError(f"register takes a subclass of cnn.layers.Layer or cnn.losses.Loss, got "
                        f"{describe(cls)}")
    key = cls.__name__ if name is None else name
    if not isinstance(key, str) or not key.isidentifier():
        raise ValueError(f"name must be a Python identifier, got {key!r}")
    known = _REGISTERED.get(key)
    if known is not None and known is not cls and _qualified(known) != _qualified(cls):
        raise ValueError(f"the name {key!r} is registered already, for {_qualified(known)}; "
                         f"register {_qualified(cls)} with register(name='...') of its own")
    _REGISTERED[key] = cls
    cls._registered_name = key
    return cls


def registered() -> dict[str, type]:
    """Every registered class by name (a copy)."""
    return dict(_REGISTERED)


def lookup(name: str) -> Optional[type]:
    """The class registered under ``name``, or None."""
    return _REGISTERED.get(name)


def saved_name(obj: Union[Layer, Loss]) -> str:
    """The name a layer or loss is saved under: its registered name, or its class's name."""
    registered_as = type(obj).__dict__.get("_registered_name")
    return registered_as if registered_as is not None else type(obj).__name__


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
