"""The result objects every lumos analysis produces: :class:`Explanation` and :class:`ExplanationSet`.

They are plain, immutable values: the report, the CLI and the web UI only render them, and they round-trip
through JSON without loss (floats are written with full precision).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .errors import InvalidArgumentError, InvalidTypeError

__all__ = ["Cost", "Explanation", "ExplanationSet"]

_FORMAT = "lumos.explanation/1"


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


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions of one model decision to the features of one input.

    Attributes
    ----------
    values : ndarray of shape (n_features,)
        Attribution of each feature to ``output`` of class ``target``.
    features : tuple of str, length n_features
        Feature labels: word pieces for text (special tokens excluded), column names for tables.
    target : int
        Index of the explained class; ``target_label`` is its name.
    prediction : ndarray of shape (n_classes,)
        The model's class probabilities for the input.
    class_names : tuple of str
        Names of the classes, in the model's order.
    method : str
        Registry name of the method; ``params`` holds its settings.
    output : {"logit", "probability"}
        The quantity explained, for class ``target``; ``output_value`` is its value at the input.
    base_value : float or None
        The explained quantity at the baseline, where the method has one.
    convergence_delta : float or None
        ``sum(values) - (output_value - base_value)`` for methods that promise completeness
        (Integrated Gradients); ``None`` otherwise.
    stderr : ndarray of shape (n_features,) or None
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
    """

    values: np.ndarray
    features: tuple[str, ...]
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

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "values", _frozen_array(self.values))
        set_(self, "prediction", _frozen_array(self.prediction))
        set_(self, "stderr", _frozen_array(self.stderr))
        set_(self, "features", tuple(str(f) for f in self.features))
        set_(self, "class_names", tuple(str(c) for c in self.class_names))
        set_(self, "words", _tuple_or_none(self.words))
        set_(self, "word_index", _tuple_or_none(self.word_index))
        set_(self, "params", dict(self.params))
        set_(self, "diagnostics", dict(self.diagnostics))
        set_(self, "target", int(self.target))
        if self.values.ndim != 1 or self.values.shape[0] != len(self.features):
            raise InvalidArgumentError(
                f"The 'values' of an Explanation must have shape (n_features,) = ({len(self.features)},). "
                f"Got {self.values.shape}."
            )
        if not 0 <= self.target < len(self.class_names):
            raise InvalidArgumentError(
                f"The 'target' of an Explanation must be in [0, {len(self.class_names) - 1}]. Got {self.target}."
            )
        if self.word_index is not None and len(self.word_index) != len(self.features):
            raise InvalidArgumentError("The 'word_index' of an Explanation must have one entry per feature.")

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
        Without word information the features themselves are returned.
        """
        if self.words is None or self.word_index is None:
            return self.features, self.values.copy()
        totals = np.zeros(len(self.words))
        np.add.at(totals, np.asarray(self.word_index, dtype=int), self.values)
        return self.words, totals

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` features with the largest absolute value, largest first."""
        order = np.argsort(-np.abs(self.values), kind="stable")[:k]
        return [(self.features[i], float(self.values[i])) for i in order]

    # -- equality and serialisation ----------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Explanation):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # mutable-looking contents (arrays) make hashing misleading

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; :meth:`from_dict` inverts it exactly."""
        out: dict[str, Any] = {"format": _FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, Cost):
                value = {"n_evals": value.n_evals, "seconds": value.seconds}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Explanation":
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise InvalidArgumentError(
                f"Explanation.from_dict expects a dictionary written by Explanation.to_dict "
                f"(format {_FORMAT!r}). Got format {data.get('format') if isinstance(data, Mapping) else type(data).__name__!r}."
            )
        kwargs = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        kwargs["cost"] = Cost(**data.get("cost", {}))
        return cls(**kwargs)

    def to_json(self, path: str | Path | None = None, *, indent: int | None = None) -> str:
        """Serialise to JSON (and write it to ``path`` when given)."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "Explanation":
        return cls.from_dict(_load_json(text_or_path))

    def with_values(self, **changes: Any) -> "Explanation":
        """A copy with some fields changed (the object itself stays immutable)."""
        return replace(self, **changes)

    def __repr__(self) -> str:
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

    def to_json(self, path: str | Path | None = None, *, indent: int | None = None) -> str:
        text = json.dumps({"format": "lumos.explanation_set/1",
                           "explanations": [e.to_dict() for e in self]}, indent=indent)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "ExplanationSet":
        data = _load_json(text_or_path)
        if not isinstance(data, Mapping) or data.get("format") != "lumos.explanation_set/1":
            raise InvalidArgumentError("ExplanationSet.from_json expects JSON written by ExplanationSet.to_json.")
        return cls([Explanation.from_dict(d) for d in data["explanations"]])

    def __repr__(self) -> str:
        methods = sorted({e.method for e in self})
        return f"ExplanationSet(n={len(self)}, methods={methods})"


def _load_json(text_or_path: str | Path) -> Any:
    if isinstance(text_or_path, Path) or (isinstance(text_or_path, str) and not text_or_path.lstrip().startswith("{")):
        path = Path(text_or_path)
        if not path.is_file():
            raise InvalidArgumentError(f"Expected JSON text or the path of a JSON file. No file at {str(path)!r}.")
        text_or_path = path.read_text(encoding="utf-8")
    return json.loads(text_or_path)
