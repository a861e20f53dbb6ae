"""The method registry: names (and aliases) to classes, for the CLI, the report and ``get_method``."""

from __future__ import annotations

from typing import Callable, TypeVar

from ..errors import UnknownNameError

__all__ = ["register_method", "get_method", "method_names"]

_METHODS: dict[str, type] = {}
_ALIASES: dict[str, str] = {}
T = TypeVar("T", bound=type)


def register_method(name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
    """Class decorator: register an attribution method under ``name`` and ``aliases``."""

    def decorator(cls: T) -> T:
        cls.name = name
        _METHODS[name] = cls
        for alias in (name, *aliases):
            _ALIASES[alias] = name
        return cls

    return decorator


def method_names() -> tuple[str, ...]:
    """Registered method names (aliases excluded)."""
    return tuple(_METHODS)


def get_method(name: str) -> type:
    """The class registered under ``name`` or one of its aliases (case-insensitive, '-' = '_')."""
    key = str(name).lower().replace("-", "_")
    if key not in _ALIASES:
        accepted = ", ".join(repr(a) for a in sorted(_ALIASES))
        raise UnknownNameError(f"The 'method' parameter must be one of {accepted}. Got {name!r}.")
    return _METHODS[_ALIASES[key]]
