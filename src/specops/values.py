"""Values from the command line and from YAML, checked against type annotations.

``parse_value`` reads one ``--set key=value`` value (for ``specops train`` and ``specops generate``
alike); ``coerce`` converts a value to an annotated type or raises a :class:`ConfigError` naming the key;
``did_you_mean`` suggests the closest valid name. The configuration (``specops.config``) and the model
arguments of a run (``specops.pipeline.build``) are checked with these.
"""

from __future__ import annotations

import collections.abc
import difflib
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal, Union

import yaml

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NULL = {"none", "null", "~"}
_SEQUENCES = (list, tuple, collections.abc.Sequence)


class ConfigError(ValueError):
    """A configuration value or key that cannot be used; the message says what is valid."""


def did_you_mean(key: str, valid: Sequence[str]) -> str:
    """`` Did you mean 'x'?`` for the entry of ``valid`` closest to ``key`` (empty when none is close)."""
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def parse_value(text: str) -> Any:
    """A command-line value as YAML would read it, plus numbers YAML 1.1 leaves as strings (``1e-3``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        for number in (int, float):
            try:
                return number(value)
            except ValueError:
                continue
    return value


def parse_assignment(item: str, example: str = "optim.lr=1e-3") -> tuple[str, Any]:
    """``"key=value"`` -> ``(key, parse_value(value))``; ``ConfigError`` for anything else."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part.isidentifier() for part in key.split(".")):
        raise ConfigError(f"{item!r} must look like key=value (e.g. {example})")
    return key, parse_value(text.strip())


def coercible(tp: Any) -> bool:
    """Whether :func:`coerce` knows values of the annotated type ``tp``."""
    if tp in (Any, bool, int, float, str, type(None)):
        return True
    origin = typing.get_origin(tp)
    if origin is Literal:
        return True
    if origin in (Union, types.UnionType, dict, *_SEQUENCES):
        return all(a is Ellipsis or coercible(a) for a in typing.get_args(tp))
    return False


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Convert ``value`` to the annotated type ``tp`` or raise ``ConfigError`` naming ``key``.

    Knows ``Any``, ``bool``, ``int``, ``float``, ``str``, ``Literal``, unions (with None), lists, tuples,
    sequences and dicts of those; strings are read with :func:`parse_value` first.
    """
    origin = typing.get_origin(tp)
    if tp is Any:
        return parse_value(value) if isinstance(value, str) else value
    if origin in (Union, types.UnionType):
        return _union(value, typing.get_args(tp), key)
    if origin is Literal:
        return _literal(value, typing.get_args(tp), key)
    if origin in _SEQUENCES:
        return _sequence(value, origin, typing.get_args(tp), key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        inner = typing.get_args(tp)[1] if typing.get_args(tp) else Any
        return {str(k): coerce(v, inner, f"{key}.{k}") for k, v in value.items()}
    scalar = _SCALARS.get(tp)
    if scalar is None:
        raise ConfigError(f"{key}: unsupported configuration type {tp!r}")  # a bug in an annotation
    return scalar(value, key)


def _union(value: Any, options: tuple, key: str) -> Any:
    if type(None) in options and (
        value is None or (isinstance(value, str) and value.strip().lower() in _NULL)
    ):
        return None
    errors = []
    for option in options:
        if option is type(None):
            continue
        try:
            return coerce(value, option, key)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(errors[0] if len(errors) == 1 else f"{key}={value!r}: " + "; ".join(errors))


def _literal(value: Any, options: tuple, key: str) -> Any:
    text = str(value)
    for option in options:
        if str(option) == text:
            return option
    choices = ", ".join(repr(a) for a in options)
    raise ConfigError(f"{key}={value!r} is not one of {choices}.{did_you_mean(text, options)}")


def _sequence(value: Any, origin: Any, args: tuple, key: str) -> list | tuple:
    if isinstance(value, str):
        text = value.strip()
        value = parse_value(text if text.startswith("[") else f"[{text}]")
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{key}={value!r} must be a list")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise ConfigError(f"{key}={value!r} must have {len(args)} entries")
        return tuple(coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    inner = args[0] if args else Any
    items = [coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(f"{key}={value!r} is not a boolean; use true or false")


def _int(value: Any, key: str) -> int:
    value = parse_value(value) if isinstance(value, str) else value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
        raise ConfigError(f"{key}={value!r} is not an integer")
    return int(value)


def _float(value: Any, key: str) -> float:
    value = parse_value(value) if isinstance(value, str) else value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}={value!r} is not a number")
    return float(value)


def _str(value: Any, key: str) -> str:
    if isinstance(value, (dict, list, tuple)):
        raise ConfigError(f"{key}={value!r} must be a string")
    return str(value)


def _none(value: Any, key: str) -> None:
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULL):
        return None
    raise ConfigError(f"{key}={value!r} must be null")


_SCALARS: dict[Any, Callable[[Any, str], Any]] = {
    bool: _bool,
    int: _int,
    float: _float,
    str: _str,
    type(None): _none,
}
