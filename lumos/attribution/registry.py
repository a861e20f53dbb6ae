"""The method registry: names (and aliases) to classes, and named presets (which methods, with which
settings), for the CLI, the report, the metrics and ``get_method``."""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping, Sequence, TypeVar

from ..errors import UnknownNameError, UnsupportedModelError

__all__ = ["register_method", "get_method", "method_names", "preset", "preset_names", "preset_methods",
           "make_methods"]

_METHODS: dict[str, type] = {}
_ALIASES: dict[str, str] = {}
T = TypeVar("T", bound=type)

#: Rows per model call for table models: a table model is cheap per row and dear per call (a gradient-boosting
#: model spends tens of milliseconds on a call however few rows it gets), and each perturbation of a row costs
#: one model row per background row, so perturbation methods get full calls too.
TABLE_ROWS_PER_CALL = 4096

#: Named presets: registry name -> keyword arguments, in the order the methods are shown. A preset may name a
#: method that is not registered (one still being written); :func:`preset_methods` leaves it out.
_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # Texts: gradient methods, then perturbation methods (which need no gradients, so black-box models get
    # them too).
    "text": {
        "saliency": {},
        "gradient_x_input": {},
        "integrated_gradients": {"n_steps": 32},
        "smoothgrad": {"n_samples": 16},
        "occlusion": {},
        "lime": {"n_evals": 300},
        "kernel_shap": {"n_evals": 300},
    },
    # Tables: gradient methods (differentiable models only, such as an MLP), then perturbation methods (any
    # model) with full calls.
    "table": {
        "saliency": {},
        "gradient_x_input": {},
        "integrated_gradients": {"n_steps": 32},
        "smoothgrad": {"n_samples": 16},
        "occlusion": {"batch_size": TABLE_ROWS_PER_CALL},
        "lime": {"n_evals": 300, "batch_size": TABLE_ROWS_PER_CALL},
        "kernel_shap": {"n_evals": 300, "batch_size": TABLE_ROWS_PER_CALL},
    },
    # Generations of causal language models: every generated token explained at once; perturbation methods hide
    # the prompt's words (one teacher-forced forward per coalition scores every token).
    "generation": {
        "saliency": {},
        "gradient_x_input": {},
        "integrated_gradients": {"n_steps": 16},
        "attention_x_gradient": {},
        "occlusion": {},
        "kernel_shap": {"n_evals": 64},
    },
    # Images: class activation maps, gradients, and occlusion of superpixels.
    "image": {
        "grad_cam": {},
        "grad_cam_pp": {},
        "saliency": {},
        "integrated_gradients": {"n_steps": 16, "baseline": "blur"},
        "occlusion": {},
    },
}


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


def preset_names() -> tuple[str, ...]:
    """The names of the presets: ``"text"``, ``"table"``, ``"generation"``, ``"image"``."""
    return tuple(_PRESETS)


def preset(name: str) -> dict[str, dict[str, Any]]:
    """The methods of the preset ``name`` with their settings: registry name -> keyword arguments.

    The result is a copy: changing it leaves the preset as it is.

    Examples
    --------
    >>> preset("text")["integrated_gradients"]
    {'n_steps': 32}
    """
    if name not in _PRESETS:
        accepted = ", ".join(repr(p) for p in _PRESETS)
        raise UnknownNameError(f"The 'preset' parameter must be one of {accepted}. Got {name!r}.")
    return copy.deepcopy(_PRESETS[name])


def preset_methods(name: str = "text") -> list[str]:
    """The registered methods of the preset ``name``, in its order (a method not registered is left out)."""
    registered = set(method_names())
    return [method for method in preset(name) if method in registered]


def make_methods(adapter: Any, names: Sequence[str] | None = None,
                 settings: Mapping[str, Mapping[str, Any]] | str = "text") -> tuple[dict[str, Any], list[str]]:
    """Instantiate methods by (alias) name with a preset's settings: ``(methods, notes)``.

    Parameters
    ----------
    adapter : ModelAdapter
    names : sequence of str, optional
        Method names or aliases; default: :func:`preset_methods` of ``settings`` (when it names a preset).
    settings : str or mapping, default "text"
        A preset's name, or a mapping of a method's registry name to its keyword arguments. A method it does
        not name gets its defaults.

    A method the model cannot run (gradients through a black box) is left out, with a note saying why; the
    other methods still run. An unknown name raises :class:`~lumos.errors.UnknownNameError`.
    """
    if names is None:
        names = preset_methods(settings) if isinstance(settings, str) else list(settings)
    chosen = preset(settings) if isinstance(settings, str) else settings
    methods, notes = {}, []
    for name in names:
        cls = get_method(name)
        try:
            methods[cls.name] = cls(adapter, **chosen.get(cls.name, {}))
        except UnsupportedModelError as exc:
            notes.append(f"{cls.name} is left out: {exc}")
    return methods, notes
