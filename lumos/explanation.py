"""The result objects every lumos analysis produces: :class:`Explanation` and :class:`ExplanationSet`.

They are plain, immutable values: the report, the CLI and the web UI only render them, and they round-trip
through JSON without loss. Format 2 (``lumos.explanation/2``) writes large arrays as base64 of their bytes
(float32 where every value is exactly a float32, byte-shuffled and zlib-compressed) and a pixel axis as its
:class:`Grid`; files of format 1 (every number a JSON float, one label per feature) are still read.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence, overload

import numpy as np

from .errors import InvalidArgumentError, InvalidTypeError, check_choice, check_int

__all__ = ["Cost", "Explanation", "ExplanationSet", "Grid"]

_FORMAT = "lumos.explanation/2"
_FORMAT_V1 = "lumos.explanation/1"
_SET_FORMAT = "lumos.explanation_set/2"
_SET_FORMAT_V1 = "lumos.explanation_set/1"
_AXES = {1: ("features",), 2: ("targets", "features")}
# Arrays up to this size are written as JSON lists, so that a text explanation stays readable by eye.
_LIST_MAX = 256


@dataclass(frozen=True, eq=False)
class Grid(Sequence[str]):
    """The pixels of an ``height x width`` image as a feature axis, in raster order.

    It reads as the tuple of labels ``("0,0", "0,1", ..., f"{height-1},{width-1}")`` (length, indexing,
    slicing, iteration, ``in``, and equality with that tuple) but is stored and serialised as its two
    numbers, so a 224 x 224 explanation does not carry 50,176 strings.

    Parameters
    ----------
    height, width : int >= 1
        Rows and columns of the image.

    Examples
    --------
    >>> g = Grid(2, 3)
    >>> len(g), g[4], g == ("0,0", "0,1", "0,2", "1,0", "1,1", "1,2")
    (6, '1,1', True)
    """

    height: int
    width: int

    def __post_init__(self) -> None:
        for name in ("height", "width"):
            value = getattr(self, name)
            object.__setattr__(self, name, check_int(int(value) if isinstance(value, np.integer) else value,
                                                     name, owner="Grid", minimum=1))

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    def __len__(self) -> int:
        return self.height * self.width

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        n = len(self)
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"Grid index {index} out of range for {n} pixels.")
        r, c = divmod(i % n, self.width)
        return f"{r},{c}"

    def __iter__(self) -> Iterator[str]:
        return (f"{r},{c}" for r in range(self.height) for c in range(self.width))

    def __contains__(self, label: object) -> bool:
        return self._position(label) is not None

    def index(self, label: Any, start: int = 0, stop: int | None = None) -> int:
        """Position of the pixel ``"row,col"`` (as ``tuple.index``)."""
        i = self._position(label)
        if i is None or not start <= i < (len(self) if stop is None else stop):
            raise ValueError(f"{label!r} is not in {self!r}")
        return i

    def _position(self, label: object) -> int | None:
        parts = label.split(",") if isinstance(label, str) else ()
        if len(parts) != 2 or not all(p.isdigit() and str(int(p)) == p for p in parts):
            return None
        r, c = int(parts[0]), int(parts[1])
        return r * self.width + c if r < self.height and c < self.width else None

    @classmethod
    def from_labels(cls, labels: Sequence[str]) -> "Grid | None":
        """The grid whose labels are exactly ``labels`` ("r,c" in raster order), or None if there is none."""
        if isinstance(labels, Grid):
            return labels
        labels = tuple(labels)
        last = labels[-1].split(",") if labels and isinstance(labels[-1], str) else ()
        if len(last) != 2 or not all(p.isdigit() for p in last):
            return None
        grid = cls(int(last[0]) + 1, int(last[1]) + 1)
        return grid if len(grid) == len(labels) and all(a == b for a, b in zip(grid, labels)) else None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Grid):
            return self.shape == other.shape
        if isinstance(other, tuple):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        # Equal to the tuple of its labels, so it must hash like it.
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Grid({self.height}, {self.width})"


@dataclass(frozen=True)
class Cost:
    """What an explanation cost: model evaluations (rows through the model, forward or forward+backward)
    and wall-clock seconds."""

    n_evals: int = 0
    seconds: float = 0.0


def _frozen_array(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    array = np.array(value, dtype=np.float64)  # always a private copy
    array.setflags(write=False)
    return array


def _tuple_or_none(value: Sequence | None) -> tuple | None:
    return None if value is None else tuple(value)


def _labels(value: Sequence) -> tuple[str, ...] | Grid:
    return value if isinstance(value, Grid) else tuple(str(f) for f in value)


def _scalar_or_rows(value: Any, name: str, targets: tuple[str, ...] | None) -> float | np.ndarray | None:
    """A float, or (2-D values only) one float per target row as a read-only array."""
    if value is None or isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        return None if value is None else float(value)
    array = np.array(value, dtype=np.float64)
    if array.ndim == 0:
        return float(array)
    if targets is None or array.shape != (len(targets),):
        raise InvalidArgumentError(
            f"The '{name}' of an Explanation must be a number or, with 2-D values, one number per target row "
            f"({0 if targets is None else len(targets)}). Got shape {array.shape}.")
    array.setflags(write=False)
    return array


def _str_or_none(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidTypeError(f"The '{name}' of an Explanation must be a str or None. Got {type(value).__name__}.")
    return value


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions of one model decision to the features of one input.

    Attributes
    ----------
    values : ndarray of shape (n_features,) or (n_targets, n_features)
        Attribution of each feature to ``output`` of class ``target``; with several explained targets
        (e.g. every generated token), one row per target. ``axes`` names the axes.
    features : tuple of str or Grid, length n_features
        Feature labels: word pieces for text (special tokens excluded), column names for tables, the
        :class:`Grid` of pixels for images (it reads as the labels ``"row,col"``).
    target : int
        Index of the explained class; ``target_label`` is its name.
    prediction : ndarray of shape (n_classes,)
        The model's class probabilities for the input.
    class_names : tuple of str
        Names of the classes, in the model's order.
    method : str
        Registry name of the method; ``params`` holds its settings.
    output : {"logit", "probability", "log_probability"}
        The quantity explained, for class ``target``; ``output_value`` is its value at the input.
    base_value : float or None
        The explained quantity at the baseline, where the method has one.
    convergence_delta : float or None
        ``sum(values) - (output_value - base_value)`` for methods that promise completeness
        (Integrated Gradients); ``None`` otherwise. With 2-D values, ``output_value``, ``base_value`` and
        ``convergence_delta`` may each hold one value per target row (an array of shape (n_targets,)).
    stderr : ndarray of the shape of ``values``, or None
        Standard error of each value, for stochastic methods.
    diagnostics : dict of str to float
        Method-specific measures of the estimate's quality (e.g. LIME's local fit R^2).
    cost : Cost
        Model evaluations and seconds spent on this explanation.
    text : str or None
        The explained text, for text models.
    words, word_index : tuple or None
        Display words of the text and, for each feature, the index of the word it belongs to, so that
        word pieces can be shown (and summed) per word.
    axes : tuple of str
        Names of the axes of ``values``: ``("features",)``, or ``("targets", "features")`` for 2-D values.
        Derived from ``values`` when not given.
    targets : tuple of str or None
        Labels of the rows of 2-D ``values`` (one per explained target); None for 1-D values.
    model_id : str or None
        Identity of the model's weights (:func:`lumos.identity.weights_id`); None when unknown.
    input_id : str or None
        Identity of the input's content (:func:`lumos.identity.input_id`); None when unknown.
    target_positions : tuple of int or None
        The causal mask of a sequence explanation: for each target row, the position on the feature axis of
        that row's own token; only the features before it are its sources (the values at and after it are
        zero). None where every feature is a source of every row.

    A generation is explained as 2-D values: one row per generated token (``targets``, also its
    ``class_names``, with the model's probability of each token as ``prediction``), one column per source
    (the tokens of the prompt and of the continuation, or the prompt's words or sentences). :meth:`row` gives
    the ordinary 1-D explanation of one generated token, cut to its sources.
    """

    values: np.ndarray
    features: tuple[str, ...] | Grid
    target: int
    prediction: np.ndarray
    class_names: tuple[str, ...]
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    output: str = "logit"
    output_value: float | None = None
    base_value: float | None = None
    convergence_delta: float | None = None
    stderr: np.ndarray | None = None
    diagnostics: Mapping[str, float] = field(default_factory=dict)
    cost: Cost = field(default_factory=Cost)
    text: str | None = None
    words: tuple[str, ...] | None = None
    word_index: tuple[int, ...] | None = None
    axes: tuple[str, ...] | None = None
    targets: tuple[str, ...] | None = None
    model_id: str | None = None
    input_id: str | None = None
    target_positions: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "values", _frozen_array(self.values))
        set_(self, "prediction", _frozen_array(self.prediction))
        set_(self, "stderr", _frozen_array(self.stderr))
        set_(self, "features", _labels(self.features))
        set_(self, "class_names", tuple(str(c) for c in self.class_names))
        set_(self, "words", _tuple_or_none(self.words))
        set_(self, "word_index", _tuple_or_none(self.word_index))
        set_(self, "targets", None if self.targets is None else tuple(str(t) for t in self.targets))
        set_(self, "params", dict(self.params))
        set_(self, "diagnostics", dict(self.diagnostics))
        set_(self, "target", int(self.target))
        set_(self, "target_positions", None if self.target_positions is None
             else tuple(int(p) for p in self.target_positions))
        for name in ("output_value", "base_value", "convergence_delta"):
            set_(self, name, _scalar_or_rows(getattr(self, name), name, self.targets))
        set_(self, "model_id", _str_or_none(self.model_id, "model_id"))
        set_(self, "input_id", _str_or_none(self.input_id, "input_id"))
        n = len(self.features)
        shape = self.values.shape
        if self.targets is None and shape != (n,):
            extra = (" Two-dimensional values (n_targets, n_features) need 'targets', one label per row."
                     if len(shape) == 2 else "")
            raise InvalidArgumentError(
                f"The 'values' of an Explanation must have shape (n_features,) = ({n},). Got {shape}.{extra}")
        if self.targets is not None and shape != (len(self.targets), n):
            raise InvalidArgumentError(
                f"The 'values' of an Explanation with 'targets' must have shape (n_targets, n_features) = "
                f"({len(self.targets)}, {n}). Got {shape}.")
        axes = _AXES[len(shape)] if self.axes is None else tuple(self.axes)
        if axes != _AXES[len(shape)]:
            raise InvalidArgumentError(
                f"The 'axes' of an Explanation with {len(shape)}-D values must be {_AXES[len(shape)]}. Got {axes}.")
        set_(self, "axes", axes)
        if self.stderr is not None and self.stderr.shape != shape:
            raise InvalidArgumentError(
                f"The 'stderr' of an Explanation must have the shape of its values, {shape}. Got {self.stderr.shape}.")
        if not 0 <= self.target < len(self.class_names):
            raise InvalidArgumentError(
                f"The 'target' of an Explanation must be in [0, {len(self.class_names) - 1}]. Got {self.target}."
            )
        if self.word_index is not None and len(self.word_index) != n:
            raise InvalidArgumentError("The 'word_index' of an Explanation must have one entry per feature.")
        if self.target_positions is not None and (
                self.targets is None or len(self.target_positions) != len(self.targets)
                or not all(0 < p <= n for p in self.target_positions)):
            raise InvalidArgumentError(
                f"The 'target_positions' of an Explanation must hold one feature position in [1, {n}] per target "
                f"row ({0 if self.targets is None else len(self.targets)}). Got {self.target_positions}.")

    # -- views -------------------------------------------------------------------------------------
    @property
    def target_label(self) -> str:
        """Name of the explained class."""
        return self.class_names[self.target]

    @property
    def predicted(self) -> int:
        """Index of the class the model predicts."""
        return int(np.argmax(self.prediction))

    @property
    def predicted_label(self) -> str:
        return self.class_names[self.predicted]

    def by_word(self) -> tuple[tuple[str, ...], np.ndarray]:
        """Values summed over the pieces of each display word: ``(words, values)``.

        Attributions are additive, so summing the pieces of a word gives the word's attribution.
        Without word information the features themselves are returned. For 2-D values the sum is taken
        in each target's row: the values returned have shape (n_targets, n_words).
        """
        if self.words is None or self.word_index is None:
            return self.features, self.values.copy()
        index = np.asarray(self.word_index, dtype=int)
        totals = np.zeros((*self.values.shape[:-1], len(self.words)))
        # Summed along the last axis one feature at a time, the same order for every row as for 1-D values.
        np.add.at(totals.T, index, self.values.T)
        return self.words, totals

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` features with the largest absolute value, largest first.

        Defined for one target only: for 2-D values, rank one row with ``explanation.row(i).top(k)``.
        """
        if self.targets is not None:
            raise InvalidArgumentError(
                f"Explanation.top ranks the features of one target; this explanation has {len(self.targets)} "
                f"targets ({', '.join(map(repr, self.targets[:3]))}{', ...' if len(self.targets) > 3 else ''}). "
                "Use explanation.row(i).top(k).")
        order = np.argsort(-np.abs(self.values), kind="stable")[:k]
        return [(self.features[i], float(self.values[i])) for i in order]

    @property
    def source_mask(self) -> np.ndarray:
        """Boolean (n_targets, n_features): which features are sources of each row (all True without
        ``target_positions``); for 1-D values, (n_features,) of True."""
        n = len(self.features)
        if self.target_positions is None:
            return np.ones(self.values.shape, dtype=bool)
        return np.arange(n)[None, :] < np.asarray(self.target_positions)[:, None]

    def row(self, target: int | str) -> "Explanation":
        """The 1-D explanation of one row of 2-D values, chosen by position or by its label in ``targets``.

        Everything but ``values``, ``stderr``, ``axes`` and ``targets`` is shared with this explanation; the
        per-row ``output_value``, ``base_value`` and ``convergence_delta`` are that row's. When the rows are
        the classes (a generation), the row's ``target`` is its own index. With ``target_positions``, the
        features are cut to the row's sources (the tokens before its own).
        """
        if self.targets is None:
            raise InvalidArgumentError("Explanation.row needs an explanation with 'targets' (2-D values); "
                                       "this one has a single target.")
        if isinstance(target, str):
            if target not in self.targets:
                raise InvalidArgumentError(f"The 'target' of Explanation.row must be one of its targets "
                                           f"{self.targets[:5]}... or a position. Got {target!r}.")
            i = self.targets.index(target)
        else:
            i = check_int(int(target) if isinstance(target, np.integer) else target, "target",
                          owner="Explanation.row", minimum=-len(self.targets), maximum=len(self.targets) - 1)
        pick = (lambda v: float(v[i]) if isinstance(v, np.ndarray) else v)
        changes: dict[str, Any] = dict(
            values=self.values[i], stderr=None if self.stderr is None else self.stderr[i], axes=None, targets=None,
            target_positions=None, output_value=pick(self.output_value), base_value=pick(self.base_value),
            convergence_delta=pick(self.convergence_delta))
        if self.class_names == self.targets:
            changes["target"] = i % len(self.targets)
        if self.target_positions is not None:
            end = self.target_positions[i]
            changes.update(values=self.values[i, :end], features=tuple(self.features[:end]),
                           stderr=None if self.stderr is None else self.stderr[i, :end])
            if self.word_index is not None and self.words is not None:
                kept = self.word_index[:end]
                changes.update(word_index=kept, words=self.words[: max(kept) + 1] if kept else ())
        return replace(self, **changes)

    # -- equality and serialisation ----------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Explanation):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                # NaN is a value an explanation can hold (e.g. an undefined score): equal to itself here.
                if a is None or b is None or not np.array_equal(a, b, equal_nan=True):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # mutable-looking contents (arrays) make hashing misleading

    def to_dict(self, *, precision: str = "exact") -> dict[str, Any]:
        """A JSON-ready dictionary of format ``lumos.explanation/2``; :meth:`from_dict` inverts it exactly.

        ``precision="exact"`` (the default) loses nothing. ``"float32"`` or ``"float16"`` store the large
        arrays (attribution maps) rounded to that type, by choice: an image map in float16 is about a twelfth
        of its format-1 size, its values within 0.05% of the exact ones (relative), ranks of clearly different
        pixels unchanged.

        Arrays of more than 256 values (and any holding NaN or infinity) are written as
        ``{"dtype", "shape", "codec", "data"}``: float32 when every value is exactly a float32 (gradient
        methods compute in float32), else float64; the bytes little-endian, byte-shuffled and compressed
        with zlib when that is smaller (``codec`` "shuffle-zlib", else "raw"), then base64. Smaller arrays
        are JSON lists. A :class:`Grid` is written ``{"grid": [height, width]}``.
        """
        check_choice(precision, "precision", _PRECISIONS, owner="Explanation.to_dict")
        out: dict[str, Any] = {"format": _FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = _encode_array(value, precision)
            elif isinstance(value, Grid):
                value = {"grid": [value.height, value.width]}
            elif isinstance(value, Cost):
                value = {"n_evals": value.n_evals, "seconds": value.seconds}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Explanation":
        """The Explanation of a dictionary of format 2 (:meth:`to_dict`) or format 1 (lumos 0.1 files).

        Format 1 stored a pixel axis as its "row,col" labels; they are read back as a :class:`Grid`.
        """
        fmt = data.get("format") if isinstance(data, Mapping) else None
        if fmt not in (_FORMAT, _FORMAT_V1):
            raise InvalidArgumentError(
                f"Explanation.from_dict expects a dictionary written by Explanation.to_dict "
                f"(format {_FORMAT!r}, or the older format {_FORMAT_V1!r}). "
                f"Got format {fmt if isinstance(data, Mapping) else type(data).__name__!r}."
            )
        kwargs = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        kwargs["cost"] = Cost(**data.get("cost", {}))
        if fmt == _FORMAT_V1:
            grid = Grid.from_labels(kwargs["features"])
            if grid is not None:
                kwargs["features"] = grid
        else:
            for name in ("values", "prediction", "stderr"):
                if kwargs.get(name) is not None:
                    kwargs[name] = _decode_array(kwargs[name], name)
            for name in ("output_value", "base_value", "convergence_delta"):  # one per target row, or a number
                if isinstance(kwargs.get(name), (list, Mapping)):
                    kwargs[name] = _decode_array(kwargs[name], name)
            features = kwargs.get("features")
            if isinstance(features, Mapping):
                kwargs["features"] = _decode_grid(features)
        return cls(**kwargs)

    def to_json(self, path: str | Path | None = None, *, indent: int | None = None, precision: str = "exact") -> str:
        """Serialise to JSON (and write it to ``path`` when given, atomically: a reader never sees half a file).
        ``precision``: see :meth:`to_dict`."""
        text = json.dumps(self.to_dict(precision=precision), indent=indent, allow_nan=True)
        if path is not None:
            _write_atomic(Path(path), text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "Explanation":
        """The Explanation of JSON text, or of the JSON file at a path (format 2 or format 1)."""
        return cls.from_dict(_load_json(text_or_path))

    def with_values(self, **changes: Any) -> "Explanation":
        """A copy with some fields changed (the object itself stays immutable)."""
        return replace(self, **changes)

    def _repr_html_(self) -> str:
        """The explanation as offline, escaped HTML (Jupyter shows it inline)."""
        from .rendering import explanation_html

        return explanation_html(self)

    def plot(self, ax: Any = None, *, k: int = 20) -> Any:
        """Bars of the ``k`` features with the largest |attribution|, with matplotlib; returns the axes."""
        from .rendering import plot_explanation

        return plot_explanation(self, ax, check_int(k, "k", owner="Explanation.plot", minimum=1))

    def __repr__(self) -> str:
        if self.targets is not None:
            return (f"Explanation(method={self.method!r}, target={self.target_label!r}, "
                    f"n_targets={len(self.targets)}, n_features={len(self.features)})")
        top = ", ".join(f"{f}={v:+.3g}" for f, v in self.top(3))
        return (f"Explanation(method={self.method!r}, target={self.target_label!r}, "
                f"n_features={len(self.features)}, top=[{top}])")


class ExplanationSet(Sequence[Explanation]):
    """An immutable sequence of explanations, e.g. one per input of a batch."""

    def __init__(self, explanations: Sequence[Explanation]) -> None:
        explanations = tuple(explanations)
        for i, e in enumerate(explanations):
            if not isinstance(e, Explanation):
                raise InvalidTypeError(
                    f"ExplanationSet holds Explanation objects only. Item {i} is a {type(e).__name__}."
                )
        self._items = explanations

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return ExplanationSet(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Explanation]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExplanationSet):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    @property
    def cost(self) -> Cost:
        """Total cost of the set."""
        return Cost(sum(e.cost.n_evals for e in self), sum(e.cost.seconds for e in self))

    def to_json(self, path: str | Path | None = None, *, indent: int | None = None, precision: str = "exact") -> str:
        """Serialise to JSON of format ``lumos.explanation_set/2`` (and write it to ``path``, atomically);
        ``precision``: see :meth:`Explanation.to_dict`.

        Each distinct list of class names is written once, in ``class_names``; an explanation refers to
        its list as ``{"ref": i}``.
        """
        tables: dict[tuple[str, ...], int] = {}
        explanations = []
        for e in self:
            d = e.to_dict(precision=precision)
            d["class_names"] = {"ref": tables.setdefault(e.class_names, len(tables))}
            explanations.append(d)
        text = json.dumps({"format": _SET_FORMAT, "class_names": [list(names) for names in tables],
                           "explanations": explanations}, indent=indent, allow_nan=True)
        if path is not None:
            _write_atomic(Path(path), text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "ExplanationSet":
        """The ExplanationSet of JSON text, or of the JSON file at a path (format 2 or format 1)."""
        data = _load_json(text_or_path)
        fmt = data.get("format") if isinstance(data, Mapping) else None
        if fmt not in (_SET_FORMAT, _SET_FORMAT_V1):
            raise InvalidArgumentError(
                f"ExplanationSet.from_json expects JSON written by ExplanationSet.to_json (format "
                f"{_SET_FORMAT!r}, or the older format {_SET_FORMAT_V1!r}). Got format {fmt!r}.")
        if fmt == _SET_FORMAT_V1:
            return cls([Explanation.from_dict(d) for d in data["explanations"]])
        tables = data["class_names"]
        out = []
        for i, d in enumerate(data["explanations"]):
            ref = d.get("class_names")
            if not (isinstance(ref, Mapping) and isinstance(ref.get("ref"), int) and 0 <= ref["ref"] < len(tables)):
                raise InvalidArgumentError(f"Explanation {i} of the set refers to class names {ref!r}; "
                                           f"expected {{'ref': k}} with k in [0, {len(tables) - 1}].")
            out.append(Explanation.from_dict({**d, "class_names": tables[ref["ref"]]}))
        return cls(out)

    def __repr__(self) -> str:
        methods = sorted({e.method for e in self})
        return f"ExplanationSet(n={len(self)}, methods={methods})"

    def _repr_html_(self) -> str:
        """The set as offline, escaped HTML: a summary and its first explanations (Jupyter shows it inline)."""
        from .rendering import explanation_set_html

        return explanation_set_html(self)

    def plot(self, ax: Any = None, *, k: int = 20) -> Any:
        """Mean |attribution| of the ``k`` most important features over the set (explanations over the same
        features), with matplotlib; returns the axes."""
        from .rendering import plot_explanation_set

        if not len(self):
            raise InvalidArgumentError("ExplanationSet.plot needs at least one explanation. Got an empty set.")
        return plot_explanation_set(self, ax, check_int(k, "k", owner="ExplanationSet.plot", minimum=1))

    # -- interop: pandas, Parquet, shap --------------------------------------------------------------
    def to_pandas(self) -> Any:
        """A long ("tidy") pandas DataFrame: one row per explanation, target row and feature.

        Columns: ``example`` (position in the set), ``method``, ``output``, ``target`` and ``target_label``
        (the explained class or regression output), ``target_row`` (the row of 2-D values, e.g. a generated
        token; -1 for 1-D values), ``feature`` (label) and ``position`` (its index), ``value``, ``stderr``
        (NaN where not estimated), ``output_value`` and ``base_value`` (NaN where the method has none),
        ``model_id`` and ``input_id``. ``df.pivot(index="example", columns="feature", values="value")`` gives
        one row per explanation of a table model.
        """
        import pandas as pd

        columns: dict[str, list] = {k: [] for k in (
            "example", "method", "output", "target", "target_label", "target_row", "feature", "position", "value",
            "stderr", "output_value", "base_value", "model_id", "input_id")}
        for i, e in enumerate(self):
            values = e.values if e.values.ndim == 2 else e.values[None]
            stderr = None if e.stderr is None else (e.stderr if e.stderr.ndim == 2 else e.stderr[None])
            n = values.shape[1]
            labels = list(e.features)
            for k in range(values.shape[0]):
                per_row = lambda v: (float("nan") if v is None else float(v[k]) if isinstance(v, np.ndarray)  # noqa: E731
                                     else float(v))
                columns["example"] += [i] * n
                columns["method"] += [e.method] * n
                columns["output"] += [e.output] * n
                columns["target"] += [e.target] * n
                columns["target_label"] += [e.targets[k] if e.targets is not None else e.target_label] * n
                columns["target_row"] += [k if e.targets is not None else -1] * n
                columns["feature"] += labels
                columns["position"] += list(range(n))
                columns["value"] += values[k].tolist()
                columns["stderr"] += stderr[k].tolist() if stderr is not None else [float("nan")] * n
                columns["output_value"] += [per_row(e.output_value)] * n
                columns["base_value"] += [per_row(e.base_value)] * n
                columns["model_id"] += [e.model_id] * n
                columns["input_id"] += [e.input_id] * n
        return pd.DataFrame(columns)

    def to_parquet(self, path: str | Path) -> Path:
        """Write the set to a Parquet file (atomically), one row per explanation; needs ``pyarrow`` (the
        ``parquet`` extra). Typed columns for other tools (``method``, ``target_label``, ``output``,
        ``output_value``, ``base_value``, ``model_id``, ``input_id``, ``features`` as a list of strings and
        ``values`` as a list of doubles, row-major for 2-D values) and the full explanation (``explanation``,
        its exact JSON), which :meth:`from_parquet` reads back without loss."""
        pa, pq = _pyarrow("ExplanationSet.to_parquet")
        path = Path(path)
        if path.is_dir():
            raise InvalidArgumentError(f"The 'path' of ExplanationSet.to_parquet must be a file. {str(path)!r} is a "
                                       "directory.")
        if not path.parent.is_dir():
            raise InvalidArgumentError(f"The 'path' of ExplanationSet.to_parquet must be in an existing directory. "
                                       f"No directory {str(path.parent)!r}.")

        def scalar(v: Any) -> float | None:
            return None if v is None or isinstance(v, np.ndarray) else float(v)

        table = pa.table({
            "method": [e.method for e in self],
            "output": [e.output for e in self],
            "target": pa.array([e.target for e in self], pa.int64()),
            "target_label": [e.target_label for e in self],
            "output_value": pa.array([scalar(e.output_value) for e in self], pa.float64()),
            "base_value": pa.array([scalar(e.base_value) for e in self], pa.float64()),
            "model_id": pa.array([e.model_id for e in self], pa.string()),
            "input_id": pa.array([e.input_id for e in self], pa.string()),
            "features": pa.array([list(e.features) for e in self], pa.list_(pa.string())),
            "values": pa.array([e.values.ravel().tolist() for e in self], pa.list_(pa.float64())),
            "explanation": [json.dumps(e.to_dict(), allow_nan=True) for e in self],
        })
        from .engine.files import atomic_path

        with atomic_path(path) as tmp:
            pq.write_table(table, str(tmp))
        return path

    @classmethod
    def from_parquet(cls, path: str | Path) -> "ExplanationSet":
        """The ExplanationSet of a Parquet file written by :meth:`to_parquet` (exactly as written)."""
        _, pq = _pyarrow("ExplanationSet.from_parquet")
        path = Path(path)
        if not path.is_file():
            raise InvalidArgumentError(f"The 'path' of ExplanationSet.from_parquet must be a Parquet file written "
                                       f"by to_parquet. No file at {str(path)!r}.")
        try:
            table = pq.read_table(path, columns=["explanation"])
        except Exception as exc:  # pyarrow raises its own errors for files that are not Parquet or lack the column
            raise InvalidArgumentError(f"The 'path' of ExplanationSet.from_parquet must be a Parquet file written by "
                                       f"to_parquet (with an 'explanation' column). {str(path)!r}: {exc}") from None
        return cls([Explanation.from_dict(json.loads(text)) for text in table.column("explanation").to_pylist()])

    def to_shap(self, data: Any = None) -> Any:
        """A ``shap.Explanation`` of the set, so that shap's plots work (``shap.plots.bar``, ``waterfall``,
        ``beeswarm`` with ``data``); needs the optional ``shap`` package.

        Explanations over the same features (a table model) give ``values`` of shape (n, n_features) and
        ``feature_names``; others (texts of different lengths) give per-row arrays, as shap's text
        explanations have. ``base_values`` are each explanation's ``base_value`` (NaN for methods without
        a baseline, e.g. Saliency). ``data``: the explained inputs, (n, n_features), for plots that colour
        by feature value; default: the texts' features (words or tokens) where the set explains texts.
        1-D explanations only (take :meth:`Explanation.row` of a generation's explanation first).
        """
        shap = _shap("ExplanationSet.to_shap")
        if not len(self):
            raise InvalidArgumentError("ExplanationSet.to_shap needs at least one explanation. Got an empty set.")
        if any(e.values.ndim != 1 for e in self):
            raise InvalidArgumentError("ExplanationSet.to_shap takes explanations with 1-D values; for a "
                                       "generation's explanation, convert its rows (Explanation.row(k)) first.")
        base = np.array([np.nan if e.base_value is None else float(e.base_value) for e in self])
        same = all(tuple(e.features) == tuple(self[0].features) for e in self)
        if data is not None:
            data = np.asarray(data)
            if same and data.shape != (len(self), len(self[0].features)):
                raise InvalidArgumentError(f"The 'data' of ExplanationSet.to_shap must have shape (n, n_features) = "
                                           f"({len(self)}, {len(self[0].features)}). Got {data.shape}.")
        if same:
            return shap.Explanation(values=np.stack([e.values for e in self]), base_values=base, data=data,
                                    feature_names=list(self[0].features),
                                    output_names=self[0].target_label if len({e.target_label for e in self}) == 1
                                    else None)
        ragged = np.empty(len(self), dtype=object)
        names = np.empty(len(self), dtype=object)
        texts = np.empty(len(self), dtype=object)
        for i, e in enumerate(self):
            ragged[i], names[i], texts[i] = e.values, np.array(list(e.features)), np.array(list(e.features))
        return shap.Explanation(values=ragged, base_values=base, data=texts if data is None else data,
                                feature_names=names)

    @classmethod
    def from_shap(cls, explanation: Any, *, method: str = "shap", output: str = "value",
                  output_names: Sequence[str] | None = None, target: int = 0) -> "ExplanationSet":
        """An ExplanationSet from a ``shap.Explanation`` (its rows): ``values`` (n, n_features) or, for
        several outputs, (n, n_features, n_outputs) read at output ``target``; ``base_values``; and
        ``feature_names``. Each explanation's ``output_value`` is ``base_value + sum(values)`` (shap's
        additivity) and its ``prediction`` that value; ``method`` and ``output`` are recorded as given."""
        shap = _shap("ExplanationSet.from_shap")
        if not isinstance(explanation, shap.Explanation):
            raise InvalidTypeError(f"The 'explanation' parameter of ExplanationSet.from_shap must be a "
                                   f"shap.Explanation. Got {type(explanation).__name__}.")
        values = explanation.values
        ragged = isinstance(values, np.ndarray) and values.dtype == object
        values = values if ragged else np.asarray(values, dtype=np.float64)
        if not ragged and values.ndim == 1:  # one row
            values = values[None]
        if not ragged and values.ndim == 3:
            check_int(target, "target", owner="ExplanationSet.from_shap", minimum=0)
            if target >= values.shape[2]:
                raise InvalidArgumentError(f"The 'target' of ExplanationSet.from_shap must be an output index in "
                                           f"[0, {values.shape[2] - 1}]. Got {target}.")
            values = values[:, :, target]
        elif not ragged and values.ndim != 2:
            raise InvalidArgumentError(f"ExplanationSet.from_shap takes values of shape (n, n_features) or (n, "
                                       f"n_features, n_outputs). Got {values.shape}.")
        n = len(values)
        base = np.asarray(explanation.base_values, dtype=np.float64) if explanation.base_values is not None \
            else np.full(n, np.nan)
        base = np.broadcast_to(base if base.ndim <= 1 else base[:, target], (n,))
        names = explanation.feature_names
        out = []
        for i in range(n):
            row = np.asarray(values[i], dtype=np.float64)
            features = (names[i] if ragged and names is not None else names) if names is not None else None
            features = [str(f) for f in features] if features is not None else [f"x{j}" for j in range(len(row))]
            fx = float(base[i] + row.sum())
            label = list(output_names) if output_names is not None else ["value" if output == "value" else "output"]
            out.append(Explanation(values=row, features=features, target=0, prediction=[fx], class_names=label[:1],
                                   method=method, output=output, output_value=fx,
                                   base_value=None if np.isnan(base[i]) else float(base[i])))
        return cls(out)


# -- array codec -------------------------------------------------------------------------------------------
_CODECS = ("raw", "shuffle-zlib")
_DTYPES = {"float16": "<f2", "float32": "<f4", "float64": "<f8"}
_PRECISIONS = ("exact", "float32", "float16")


def _encode_array(array: np.ndarray, precision: str = "exact") -> list | dict[str, Any]:
    """A float64 array as a JSON list (small, finite, 1-D) or as base64 of its (compressed) bytes: losslessly,
    or rounded to ``precision`` ("float32", "float16") when the caller asks."""
    if array.ndim == 1 and array.size <= _LIST_MAX and np.isfinite(array).all():
        return array.tolist()
    as32 = array.astype("<f4")
    # Bit-exact (NaN payloads and -0.0 included), not merely ==, so float32 storage loses nothing.
    exact = np.array_equal(as32.astype("<f8").view("<u8"), np.ascontiguousarray(array, dtype="<f8").view("<u8"))
    dtype = "float32" if exact or precision == "float32" else "float64"
    if precision == "float16":
        dtype = "float16"
    raw = np.ascontiguousarray(array.astype(_DTYPES[dtype]))
    data, codec = raw.tobytes(), "raw"
    # Byte shuffling groups the (similar) exponent bytes of neighbouring values, which zlib then compresses.
    shuffled = zlib.compress(raw.view(np.uint8).reshape(-1, raw.itemsize).T.tobytes(), 6)
    if len(shuffled) < len(data):
        data, codec = shuffled, "shuffle-zlib"
    return {"dtype": dtype, "shape": list(array.shape), "codec": codec, "data": base64.b64encode(data).decode("ascii")}


def _decode_array(value: Any, name: str) -> np.ndarray:
    if isinstance(value, list):
        return np.array(value, dtype=np.float64)
    if not (isinstance(value, Mapping) and value.get("dtype") in _DTYPES and value.get("codec") in _CODECS
            and isinstance(value.get("shape"), list) and all(isinstance(n, int) and n >= 0 for n in value["shape"])
            and isinstance(value.get("data"), str)):
        raise InvalidArgumentError(
            f"The {name!r} of a format-2 explanation must be a list of numbers or an object with 'dtype' (one of "
            f"{sorted(_DTYPES)}), 'shape' (a list of ints), 'codec' (one of {list(_CODECS)}) and 'data' (base64). "
            f"Got {str(value)[:80]!r}.")
    dtype = np.dtype(_DTYPES[value["dtype"]])
    shape = tuple(value["shape"])
    size = math.prod(shape)
    try:
        data = base64.b64decode(value["data"], validate=True)
        if value["codec"] == "shuffle-zlib":
            data = zlib.decompress(data)
    except (binascii.Error, zlib.error) as error:
        raise InvalidArgumentError(f"The {name!r} of a format-2 explanation has 'data' that does not decode "
                                   f"as {value['codec']} base64: {error}.") from None
    if value["codec"] == "shuffle-zlib" and len(data) == size * dtype.itemsize:
        data = np.frombuffer(data, np.uint8).reshape(dtype.itemsize, size).T.tobytes()
    if len(data) != size * dtype.itemsize:
        raise InvalidArgumentError(f"The {name!r} of a format-2 explanation holds {len(data)} bytes; its shape "
                                   f"{list(shape)} and dtype {value['dtype']} need {size * dtype.itemsize}.")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(np.float64)


def _decode_grid(value: Mapping[str, Any]) -> Grid:
    grid = value.get("grid")
    if not (isinstance(grid, list) and len(grid) == 2):
        raise InvalidArgumentError(f"The 'features' of a format-2 explanation must be a list of labels or "
                                   f"{{'grid': [height, width]}}. Got {str(value)[:80]!r}.")
    return Grid(*grid)


# -- optional dependencies ---------------------------------------------------------------------------------
def _pyarrow(owner: str) -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidArgumentError(f"{owner} needs pyarrow: pip install 'lumos[parquet]' (or pyarrow).") from None
    return pa, pq


def _shap(owner: str) -> Any:
    try:
        import shap
    except ImportError:
        raise InvalidArgumentError(f"{owner} needs the optional shap package: pip install shap.") from None
    return shap


# -- files -------------------------------------------------------------------------------------------------
def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and ``os.replace``."""
    from .engine.files import write_text_atomic

    write_text_atomic(path, text)


def _load_json(text_or_path: str | Path) -> Any:
    if isinstance(text_or_path, Path) or (isinstance(text_or_path, str) and not text_or_path.lstrip().startswith("{")):
        path = Path(text_or_path)
        if not path.is_file():
            raise InvalidArgumentError(f"Expected JSON text or the path of a JSON file. No file at {str(path)!r}.")
        text_or_path = path.read_text(encoding="utf-8")
    return json.loads(text_or_path)
