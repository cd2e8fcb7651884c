"""One small registry: names to constructors, with presets (a name bound to default arguments).

Strings exist in configs and on the command line; this is the one place they become objects. Groups of
plain options that a constructor takes as one argument (a model's ``spectral={"factorization": "cp"}``)
are ``Options`` dataclasses: built from a mapping once, checked there, stored back as a mapping.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

T = TypeVar("T", bound="Options")


@dataclass(frozen=True)
class Entry:
    """A registered name: ``target(**defaults, **overrides)`` builds it."""

    name: str
    target: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    family: str | None = None  # for presets: the registered name of the underlying constructor


def merge_arguments(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{**defaults, **overrides}``, except that a mapping overriding a mapping is merged key by key.

    A preset's ``spectral={"factorization": "cp", "rank": 0.05}`` overridden by ``spectral={"rank": 0.1}``
    keeps ``"cp"``. An ``Options`` object (or any non-mapping) replaces the default whole.
    """
    out = dict(defaults)
    for key, value in overrides.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merge_arguments(old, value)
        else:
            out[key] = value
    return out


class Registry:
    """Name -> constructor map for one kind of object (models, equations, steppers, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(
        self,
        name: str,
        target: Callable[..., Any] | None = None,
        *,
        defaults: dict[str, Any] | None = None,
        description: str = "",
        family: str | None = None,
    ):
        """Register ``target`` under ``name``; usable as a decorator when ``target`` is omitted."""

        def add(obj):
            key = name.lower()
            if key in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            doc = description or (obj.__doc__ or "").strip().splitlines()[0:1]
            doc = doc if isinstance(doc, str) else (doc[0] if doc else "")
            self._entries[key] = Entry(key, obj, dict(defaults or {}), doc, family)
            return obj

        return add if target is None else add(target)

    def unregister(self, name: str) -> Entry:
        """Remove ``name`` (and return its entry), e.g. to register a redefined class again in a notebook."""
        entry = self.get(name)
        del self._entries[entry.name]
        return entry

    def get(self, name: str) -> Entry:
        key = str(name).lower()
        if key not in self._entries:
            close = difflib.get_close_matches(key, self._entries, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}.{hint}")
        return self._entries[key]

    def name_of(self, target: Any) -> str | None:
        """The name ``target`` itself is registered under (not a preset of it), or None."""
        for entry in self._entries.values():
            if entry.family is None and entry.target is target:
                return entry.name
        return None

    def create(self, name: str, **kwargs: Any) -> Any:
        """Build ``name`` with its defaults overridden by ``kwargs`` (see ``merge_arguments``)."""
        entry = self.get(name)
        return entry.target(**merge_arguments(entry.defaults, kwargs))

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        return str(name).lower() in self._entries


@dataclass(frozen=True)
class Options:
    """Base of a frozen dataclass of plain options that a constructor takes as one argument.

    Fields annotated ``bool``, ``int``, ``float`` or ``tuple[int, ...]`` (optionally ``| None``) are
    type-checked here; subclasses check the rest (names, ranges) in ``__post_init__``, calling this one.
    ``coerce`` accepts an instance, a mapping of field names (what configs and checkpoints hold) or None
    (the defaults); ``to_plain`` gives the mapping back.
    """

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for name in self.field_names():
            _check_type(name, getattr(self, name), hints[name])

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.init]

    @classmethod
    def coerce(cls: type[T], value: Any, where: str, defaults: Mapping[str, Any] | None = None) -> T:
        """``value`` as a ``cls``: an instance is kept, a mapping fills in ``defaults`` then the fields'
        defaults, None gives the defaults. ``where`` names the argument in errors."""
        if isinstance(value, cls):
            return value
        if value is None:
            value = {}
        names = cls.field_names()
        if not isinstance(value, Mapping):
            raise TypeError(
                f"{where}={value!r} must be a mapping of options ({', '.join(names)}) or a {cls.__name__}"
            )
        for key in value:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{where} has no option {key!r}; valid: {', '.join(names)}.{hint}")
        try:
            return cls(**{**(defaults or {}), **value})
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}: {exc}") from exc

    def to_plain(self) -> dict[str, Any]:
        """The fields as a mapping (what ``coerce`` reads back)."""
        return {name: getattr(self, name) for name in self.field_names()}


def _check_type(name: str, value: Any, hint: Any) -> None:
    """``TypeError`` unless ``value`` fits ``hint`` where that is bool/int/float/tuple[int, ...] (or None)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (Union, types.UnionType):
        if value is None and type(None) in args:
            return
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            return
        hint = inner[0]
    if hint is bool and not isinstance(value, bool):
        raise TypeError(f"{name}={value!r} must be true or false")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{name}={value!r} must be an integer")
    if hint is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise TypeError(f"{name}={value!r} must be a number")
    if typing.get_origin(hint) is tuple and typing.get_args(hint) == (int, Ellipsis):
        ok = isinstance(value, Sequence) and not isinstance(value, str)
        if not ok or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise TypeError(f"{name}={value!r} must be a list of integers")


MODELS = Registry("model")
SPECTRAL_WEIGHTS = Registry("spectral weight")
EQUATIONS = Registry("equation")  # time-dependent PeriodicEquations: what integrate advances
STEADY_SOLVERS = Registry("steady solver")  # boundary-value solvers with solve(a, f), e.g. Darcy
STEPPERS = Registry("stepper")
PROBLEMS = Registry("problem")
