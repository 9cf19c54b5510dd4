"""The layers and losses :func:`cnn.load_model` may rebuild, by name.

A saved model names the class of each of its layers and its loss; loading builds each from the
class registered under that name, and nothing else: a file cannot make ``load_model`` import a
module or call anything that was not registered. The library's layers and losses are registered
when :mod:`cnn.layers` is imported; a user layer is registered with :func:`register`.
"""

from __future__ import annotations

from typing import Optional, TypeVar, Union

import json

from cnn._checks import describe
from cnn.layers.base import Layer
from cnn.losses import Loss

__all__ = ["register", "registered", "lookup", "describe_part", "build_part"]

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


def describe_part(where: str, part: Union[Layer, Loss]) -> dict:
    """``{"class": name, "config": settings}`` of a layer or loss, as a saved architecture holds
    it. Raises ``TypeError`` naming ``where`` when ``config()`` gives what JSON cannot hold."""
    config = part.config()
    if not isinstance(config, dict):
        raise TypeError(f"{where} ({part.name}): config() must return a dict, got "
                        f"{type(config).__name__}")
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{where} ({part.name}): config() must return a dict of JSON values "
                        f"(numbers, strings, lists, dicts), got {config!r} ({error})") from None
    return {"class": saved_name(part), "config": config}


def build_part(where: str, entry, arrays: Optional[dict], kind: type = Layer):
    """The layer (or, with ``kind=Loss``, the loss) a saved entry describes, built from the class
    registered under its name around its saved ``arrays``. Raises ``ValueError`` naming
    ``where`` for an entry that is damaged, names a class not registered, or does not build."""
    if not (isinstance(entry, dict) and isinstance(entry.get("class"), str)
            and isinstance(entry.get("config"), dict)):
        raise ValueError(f"{where} is {_short(entry)}, not {{\"class\": name, \"config\": {{...}}}}")
    name, config = entry["class"], entry["config"]
    cls = lookup(name)
    noun = "layer" if kind is Layer else "loss"
    if cls is None:
        raise ValueError(
            f"{where} is a {name!r}, which is not a registered {noun} class. If it is your own, "
            f"register it before loading: decorate the class with @cnn.layers.register (or call "
            f"cnn.layers.register({name})), and import the module that defines it")
    if not issubclass(cls, kind):
        raise ValueError(f"{where} names {name!r}, which is registered but is not a {noun}")
    if not all(key.isidentifier() and not key.startswith("__") for key in config):
        raise ValueError(f"{where} ({name}) has a config with a key that is not an argument "
                         f"name: {_short(list(config))}")
    try:
        built = cls.from_config(config, arrays) if kind is Layer else cls.from_config(config)
    except (TypeError, ValueError, KeyError, RecursionError) as error:
        raise ValueError(f"{where} cannot be rebuilt as {name} from its config "
                         f"{_short(config)}: {error}. A layer of your own rebuilds with "
                         f"cls(**config()); give it a config() returning its constructor's "
                         f"arguments") from None
    if not isinstance(built, kind):
        raise ValueError(f"{name}.from_config returned {type(built).__name__}, not a {noun}")
    return built


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
