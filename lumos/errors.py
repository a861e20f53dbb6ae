"""Errors raised by lumos.

Every error names the argument at fault, what is accepted, and what was received, so that a user can fix
the call without reading a traceback from deep inside torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "LumosError",
    "LumosWarning",
    "InvalidArgumentError",
    "InvalidTypeError",
    "UnknownNameError",
    "ModelLoadError",
    "UnsupportedModelError",
    "check_int",
    "LARGEST_INT",
    "MAX_STEPS",
    "MAX_EVALS",
    "check_float",
    "check_choice",
    "check_output_path",
]


class LumosError(Exception):
    """Base class of every error lumos raises on purpose."""


class LumosWarning(UserWarning):
    """Something lumos did that the user should know of, such as a text cut to the model's length."""


class InvalidArgumentError(LumosError, ValueError):
    """An argument has the right type but a value that is not accepted."""


class InvalidTypeError(LumosError, TypeError):
    """An argument has a type that is not accepted."""


class UnknownNameError(InvalidArgumentError, KeyError):
    """A name (method, model, dataset, class label) is not one lumos knows."""

    def __str__(self) -> str:  # KeyError would otherwise wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class ModelLoadError(LumosError, OSError):
    """A model could not be loaded from what the user pointed at."""


class UnsupportedModelError(LumosError, TypeError):
    """The model cannot do what the method needs (e.g. gradients through a black box)."""


def _owner(owner: str | None) -> str:
    return f" of {owner}" if owner else ""


def _range_message(value: Any, name: str, owner: str | None, kind: str, minimum: Any, maximum: Any,
                   exclusive_minimum: bool, exclusive_maximum: bool = False) -> str:
    """The one error template for numbers: "The 'n' parameter of X must be an int >= 1. Got 0."."""
    bounds = []
    if minimum is not None:
        bounds.append(f"{'>' if exclusive_minimum else '>='} {minimum}")
    if maximum is not None:
        bounds.append(f"{'<' if exclusive_maximum else '<='} {maximum}")
    wanted = kind + (" " + " and ".join(bounds) if bounds else "")
    return f"The {name!r} parameter{_owner(owner)} must be {wanted}. Got {value!r}."


#: The largest count lumos accepts anywhere (the largest index of a 32-bit-indexed array): a larger one cannot be
#: allocated or indexed, and would otherwise overflow deep inside numpy or torch.
LARGEST_INT = 2**31 - 1
#: The most integration steps or noisy samples a gradient method accepts (beyond it the integral no longer changes
#: and the path would not fit in memory), and the most model evaluations a sampling method accepts.
MAX_STEPS = 100_000
MAX_EVALS = 1_000_000


def check_int(value: Any, name: str, *, owner: str | None = None, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """Return ``value`` if it is an int within bounds, else raise a message naming ``name``.

    Without a ``maximum``, ints beyond :data:`LARGEST_INT` (in absolute value) are refused all the same.

    >>> check_int(0, "n_steps", owner="IntegratedGradients", minimum=1)
    Traceback (most recent call last):
    ...
    lumos.errors.InvalidArgumentError: The 'n_steps' parameter of IntegratedGradients must be an int >= 1. Got 0.
    """
    message = _range_message(value, name, owner, "an int", minimum, maximum, exclusive_minimum=False)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(message)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidArgumentError(message)
    if abs(value) > LARGEST_INT:
        raise InvalidArgumentError(_range_message(value, name, owner, "an int", minimum if minimum is not None
                                                  else -LARGEST_INT, LARGEST_INT, exclusive_minimum=False))
    return value


def check_float(value: Any, name: str, *, owner: str | None = None, minimum: float | None = None,
                maximum: float | None = None, exclusive_minimum: bool = False,
                exclusive_maximum: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number within bounds, else raise (NaN and infinities are
    never accepted)."""
    message = _range_message(value, name, owner, "a number", minimum, maximum, exclusive_minimum, exclusive_maximum)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(message)
    value = float(value)
    too_small = minimum is not None and (value <= minimum if exclusive_minimum else value < minimum)
    too_large = maximum is not None and (value >= maximum if exclusive_maximum else value > maximum)
    if too_small or too_large or not math.isfinite(value):
        raise InvalidArgumentError(message)
    return value


def check_choice(value: Any, name: str, choices: Iterable[str], *, owner: str | None = None) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a message listing them."""
    choices = list(choices)
    if value not in choices:
        accepted = ", ".join(repr(c) for c in choices)
        raise UnknownNameError(
            f"The {name!r} parameter{_owner(owner)} must be one of {accepted}. Got {value!r}."
        )
    return value


def check_output_path(path: Any, name: str, *, kind: str = "file", suffixes: Iterable[str] = (),
                      owner: str | None = None) -> "Path":
    """Return ``path`` as a Path if something can be written there, else raise before any work starts.

    ``kind="file"``: not an existing directory, with one of ``suffixes`` (when given); ``kind="directory"``: not
    an existing file. Missing parent folders are fine (they are created when the output is written) as long as the
    nearest existing one is a folder this process may write into.

    >>> check_output_path("map.jpg", "out", kind="file", suffixes=(".png",))
    Traceback (most recent call last):
    ...
    lumos.errors.InvalidArgumentError: The 'out' parameter must be a file path ending in .png. Got 'map.jpg'.
    """
    import os
    from pathlib import Path

    suffixes = tuple(s.lower() for s in suffixes)
    wanted = ("a file path" + (f" ending in {' or '.join(suffixes)}" if suffixes else "")) if kind == "file" \
        else "a directory path"
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise (InvalidTypeError if not isinstance(path, (str, os.PathLike)) else InvalidArgumentError)(
            f"The {name!r} parameter{_owner(owner)} must be {wanted}. Got {path!r}.")
    given = str(path)
    target = Path(given).expanduser()
    if kind == "file":
        if target.is_dir() or given.endswith(("/", os.sep)):
            raise InvalidArgumentError(f"The {name!r} parameter{_owner(owner)} must be {wanted}. Got {given!r}, "
                                       "a directory.")
        if suffixes and target.suffix.lower() not in suffixes:
            raise InvalidArgumentError(f"The {name!r} parameter{_owner(owner)} must be {wanted}. Got {given!r}.")
    elif target.exists() and not target.is_dir():
        raise InvalidArgumentError(f"The {name!r} parameter{_owner(owner)} must be {wanted}. Got {given!r}, an "
                                   "existing file.")
    ancestor = target.parent if kind == "file" else target
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InvalidArgumentError(f"The {name!r} parameter{_owner(owner)} cannot be written: {str(ancestor)!r} "
                                   f"in {given!r} is a file, not a folder.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InvalidArgumentError(f"The {name!r} parameter{_owner(owner)} cannot be written: the folder "
                                   f"{str(ancestor)!r} is not writable.")
    return target
