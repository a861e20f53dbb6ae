"""Adapter for any callable ``f(batch) -> array of shape (n, n_classes)``: a black box, no gradients."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InvalidArgumentError, InvalidTypeError, check_choice, check_int
from .base import ModelAdapter

__all__ = ["CallableAdapter"]


class CallableAdapter(ModelAdapter):
    """Wrap ``predict_fn(list_of_examples) -> array (n, n_classes)``.

    Parameters
    ----------
    predict_fn : callable
    class_names : sequence of str
    output_kind : {"probabilities", "logits"}, default "probabilities"
    batch_size : int, default 64
    """

    def __init__(self, predict_fn: Callable[[list[Any]], Any], *, class_names: Sequence[str],
                 output_kind: str = "probabilities", batch_size: int = 64, name: str | None = None) -> None:
        if not callable(predict_fn):
            raise InvalidTypeError(f"The 'predict_fn' parameter of CallableAdapter must be callable. "
                                   f"Got {type(predict_fn).__name__}.")
        if class_names is None or len(class_names) < 1:
            raise InvalidArgumentError("The 'class_names' parameter of CallableAdapter must name at least one class.")
        self.predict_fn = predict_fn
        self.class_names = tuple(str(c) for c in class_names)
        self.output_kind = check_choice(output_kind, "output_kind", ("probabilities", "logits"),
                                        owner="CallableAdapter")
        self.batch_size = check_int(batch_size, "batch_size", owner="CallableAdapter", minimum=1)
        self.name = name or getattr(predict_fn, "__name__", type(predict_fn).__name__)

    def split_inputs(self, inputs: Any) -> tuple[list[Any], bool]:
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                raise InvalidArgumentError("The 'inputs' parameter must hold at least one example. Got an empty list.")
            return list(inputs), False
        return [inputs], True

    def outputs(self, rows: Sequence[Any]) -> np.ndarray:
        out = np.asarray(self.predict_fn(list(rows)), dtype=np.float64)
        if out.ndim != 2 or out.shape[1] != self.n_classes:
            raise InvalidArgumentError(
                f"The predict_fn of {self.name!r} must return shape (n, {self.n_classes}). Got {out.shape}."
            )
        return out
