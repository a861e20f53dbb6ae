"""One call that puts the error analysis together: performance, calibration, high-error slices and the most
confident errors with their explanations."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..engine import Batcher
from ..errors import InvalidArgumentError, check_int
from ..explanation import Explanation
from ..models import as_adapter
from ..readout import softmax
from .calibration import Calibration, calibration
from .performance import Performance, check_probs_labels, performance
from .slices import Slice, describe_table, describe_texts, find_slices

__all__ = ["ConfidentError", "Diagnosis", "confident_errors", "diagnose", "predict_all"]


@dataclass(frozen=True)
class ConfidentError:
    """A wrong prediction made with high confidence, and why the model made it.

    ``explanation`` explains the (wrong) predicted class; None when no method was asked for.
    """

    index: int
    label: str
    predicted: str
    confidence: float
    explanation: Explanation | None = None


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` finds. ``descriptors`` is the DataFrame the slices were searched over."""

    model: str
    n: int
    performance: Performance
    calibration: Calibration
    slices: list[Slice]
    confident_errors: list[ConfidentError]
    seconds: float
    descriptors: Any = field(default=None, repr=False)
    probs: np.ndarray | None = field(default=None, repr=False)


def predict_all(adapter: Any, examples: Sequence[Any], *, batch_size: int = 256, progress: bool | None = None,
                executor: Batcher | None = None) -> np.ndarray:
    """Class probabilities (n, C) for many examples, through the executor (default: a Batcher of
    ``batch_size`` rows, with a progress bar)."""
    executor = executor if executor is not None else Batcher(adapter, batch_size=batch_size, progress=progress)
    raw = executor.run(list(examples), description="Predicting")
    return raw if adapter.output_kind == "probabilities" else softmax(raw)


def confident_errors(adapter: Any, examples: Sequence[Any], labels: Any, probs: Any, *, k: int = 5,
                     method: Any = "occlusion") -> list[ConfidentError]:
    """The ``k`` wrong predictions with the highest confidence, each explained for its predicted class by
    ``method`` (a registry name, a Method instance, or None for no explanation)."""
    from ..attribution import get_method

    probs, labels = check_probs_labels(probs, labels, "confident_errors")
    k = check_int(k, "k", owner="confident_errors", minimum=0)
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != labels)
    order = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:k]
    explanations: list[Explanation | None] = [None] * len(order)
    if method is not None and len(order):
        explainer = get_method(method)(adapter) if isinstance(method, str) else method
        result = explainer.attribute([examples[i] for i in order], target=[int(pred[i]) for i in order])
        explanations = list(result)
    names = adapter.class_names
    return [ConfidentError(index=int(i), label=names[labels[i]], predicted=names[pred[i]],
                           confidence=float(probs[i, pred[i]]), explanation=e) for i, e in zip(order, explanations)]


def diagnose(model: Any, inputs: Any, labels: Any, *, descriptors: Any = None, metadata: Any = None,
             n_bins: int = 10, max_conditions: int = 2, top_k: int = 5, n_errors: int = 5,
             method: Any = "occlusion", batch_size: int = 256, progress: bool | None = None) -> Diagnosis:
    """Where and how ``model`` fails on labelled data.

    Parameters
    ----------
    model : anything :func:`lumos.as_adapter` accepts
    inputs : list of texts, rows, or a DataFrame
    labels : int array (n,) of class indices
    descriptors : DataFrame, optional
        What slices are described by. Default: for texts :func:`describe_texts` (with ``metadata``), for
        tables :func:`describe_table` (the columns), both with predicted class and confidence band.
    n_bins : int, default 10
        Calibration bins.
    max_conditions, top_k : passed to :func:`find_slices`
    n_errors : int, default 5
        Most confident errors returned, each explained by ``method`` (None: not explained).
    """
    t0 = time.perf_counter()
    adapter = as_adapter(model)
    examples, _ = adapter.split_inputs(inputs)
    labels = np.asarray(labels)
    if labels.shape != (len(examples),):
        raise InvalidArgumentError(f"The 'labels' parameter of diagnose must hold one class index per input "
                                   f"({len(examples)}). Got shape {labels.shape}.")
    probs = predict_all(adapter, examples, batch_size=batch_size, progress=progress)
    probs, labels = check_probs_labels(probs, labels, "diagnose")
    if descriptors is None:
        if all(isinstance(e, str) for e in examples):
            descriptors = describe_texts(examples, probs, adapter.class_names, metadata=metadata)
        else:
            import pandas as pd

            frame = inputs if isinstance(inputs, pd.DataFrame) else pd.DataFrame(
                np.stack(examples), columns=list(adapter.feature_names or
                                                 [f"x{i}" for i in range(len(examples[0]))]))
            descriptors = describe_table(frame.reset_index(drop=True), probs, adapter.class_names)
    errors = probs.argmax(1) != labels
    slices = find_slices(descriptors, errors, max_conditions=max_conditions, top_k=top_k)
    worst = confident_errors(adapter, examples, labels, probs, k=n_errors, method=method)
    return Diagnosis(model=adapter.name, n=len(examples), performance=performance(probs, labels, adapter.class_names),
                     calibration=calibration(probs, labels, n_bins=n_bins), slices=slices, confident_errors=worst,
                     seconds=time.perf_counter() - t0, descriptors=descriptors, probs=probs)
