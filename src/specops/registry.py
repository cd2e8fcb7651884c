"""One small registry: names to constructors, with presets (a name bound to default arguments).

Strings exist in configs and on the command line; this is the one place they become objects.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entry:
    """A registered name: ``target(**defaults, **overrides)`` builds it."""

    name: str
    target: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    family: str | None = None  # for presets: the registered name of the underlying constructor


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

    def get(self, name: str) -> Entry:
        key = str(name).lower()
        if key not in self._entries:
            close = difflib.get_close_matches(key, self._entries, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}.{hint}")
        return self._entries[key]

    def create(self, name: str, **kwargs: Any) -> Any:
        """Build ``name`` with its defaults overridden by ``kwargs``."""
        entry = self.get(name)
        return entry.target(**{**entry.defaults, **kwargs})

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        return str(name).lower() in self._entries


MODELS = Registry("model")
EQUATIONS = Registry("equation")  # time-dependent PeriodicEquations: what integrate advances
STEADY_SOLVERS = Registry("steady solver")  # boundary-value solvers with solve(a, f), e.g. Darcy
STEPPERS = Registry("stepper")
PROBLEMS = Registry("problem")
