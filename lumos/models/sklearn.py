"""Adapters for models on tables: scikit-learn classifiers (``predict_proba``) and regressors (``predict``), and
PyTorch MLPs (classifiers or regressors).

Rows are float vectors; a pandas DataFrame is accepted anywhere rows are, its columns put in the adapter's
feature order by name, so column names reach every Explanation (as ``features``). The default masker of a
tabular adapter hides columns with values from the ``background`` rows given to the adapter.

>>> adapter = lumos.as_adapter(fitted_estimator, background=X_train.sample(50))   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InvalidArgumentError, InvalidTypeError, check_int
from .base import ModelAdapter, register_adapter
from .torch import TorchAdapter

__all__ = ["SklearnAdapter", "SklearnRegressorAdapter", "TabularTorchAdapter", "table_rows"]


def _is_frame(value: Any) -> bool:
    import pandas as pd

    return isinstance(value, pd.DataFrame)


def table_rows(inputs: Any, feature_names: Sequence[str] | None, owner: str) -> tuple[np.ndarray, bool]:
    """``inputs`` (a row, rows, or a DataFrame) as a float array (n, n_features) and whether one row was given.

    A DataFrame's columns are taken by name in the order of ``feature_names``; a missing column is an error.
    """
    if _is_frame(inputs):
        columns = [str(c) for c in inputs.columns]
        if feature_names is not None:
            missing = [f for f in feature_names if f not in columns]
            if missing:
                raise InvalidArgumentError(f"The 'inputs' DataFrame given to {owner} lacks the columns {missing}; "
                                           f"it needs {list(feature_names)}.")
            inputs = inputs[list(feature_names)]
        try:
            array = inputs.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidTypeError(f"The 'inputs' DataFrame given to {owner} must hold numbers only (encode "
                                   f"categories first). {exc}") from None
    else:
        try:
            array = np.asarray(inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else inputs,
                               dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidTypeError(f"The 'inputs' of {owner} must be a numeric row, rows or a DataFrame. "
                                   f"{exc}") from None
    if array.ndim == 1:
        array, single = array[None], True
    elif array.ndim == 2:
        single = False
    else:
        raise InvalidArgumentError(f"The 'inputs' of {owner} must be one row (1-D) or rows (2-D). "
                                   f"Got shape {array.shape}.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidArgumentError(f"The 'inputs' of {owner} are empty (shape {array.shape}).")
    if feature_names is not None and array.shape[1] != len(feature_names):
        raise InvalidArgumentError(f"Each row given to {owner} must have {len(feature_names)} features. "
                                   f"Got {array.shape[1]}.")
    return array, single


def _names_from(feature_names: Sequence[str] | None, *sources: Any) -> tuple[str, ...] | None:
    if feature_names is not None:
        return tuple(str(f) for f in feature_names)
    for source in sources:
        if _is_frame(source):
            return tuple(str(c) for c in source.columns)
        names = getattr(source, "feature_names_in_", None)
        if names is not None:
            return tuple(str(c) for c in names)
    return None


class _TabularMixin:
    """Shared by the tabular adapters: rows from tables, a background for the default masker."""

    modality = "table"

    feature_names: tuple[str, ...] | None
    background: np.ndarray | None

    def _set_background(self, background: Any, owner: str) -> None:
        if background is None:
            self.background = None
            return
        rows, _ = table_rows(background, self.feature_names, owner)
        self.background = rows

    def default_masker(self) -> Any:
        from ..maskers import TabularMasker

        if self.background is None:
            raise InvalidArgumentError(
                f"The {type(self).__name__} for {self.name!r} has no background rows, so perturbation methods "
                "cannot hide a column: pass background=rows (a few dozen training rows) to the adapter, or "
                "masker=lumos.maskers.TabularMasker(rows) to the method."
            )
        return TabularMasker(self.background, feature_names=self.feature_names)

    def size(self, example: Any) -> int:
        return 0


class _SklearnBase(_TabularMixin, ModelAdapter):
    """What the scikit-learn adapters share: the fitted estimator, its feature names, and batches of rows given
    to it as it was fitted (a DataFrame with its own column names, or an array)."""

    input_description = "a numeric row"

    def _set_estimator(self, estimator: Any, feature_names: Sequence[str] | None, background: Any,
                       batch_size: int, name: str | None) -> None:
        owner = type(self).__name__
        self.estimator = estimator
        self.feature_names = _names_from(feature_names, estimator, background)
        n_in = getattr(estimator, "n_features_in_", None)
        if self.feature_names is None and n_in is not None:
            self.feature_names = tuple(f"x{i}" for i in range(int(n_in)))
        self._frame_input = getattr(estimator, "feature_names_in_", None) is not None
        self.batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
        self.name = name or type(estimator).__name__
        self._set_background(background, owner)

    def split_inputs(self, inputs: Any) -> tuple[list[np.ndarray], bool]:
        rows, single = table_rows(inputs, self.feature_names, type(self).__name__)
        return list(rows), single

    def fingerprint(self, example: np.ndarray) -> bytes:
        return np.ascontiguousarray(example, dtype=np.float64).tobytes()

    def _batch(self, rows: Sequence[np.ndarray]) -> Any:
        """One batch of rows as float64, as a DataFrame with the estimator's own column names when it was fitted
        on one."""
        chunk = np.asarray(np.stack(rows), dtype=np.float64)
        if self._frame_input:
            import pandas as pd

            chunk = pd.DataFrame(chunk, columns=list(self.estimator.feature_names_in_))
        return chunk


class SklearnAdapter(_SklearnBase):
    """Wrap a fitted scikit-learn classifier; outputs are its ``predict_proba``.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
    class_names : sequence of str, optional
        Default: ``estimator.classes_`` as strings.
    feature_names : sequence of str, optional
        Default: the estimator's ``feature_names_in_`` (set when fitted on a DataFrame), else the columns of
        ``background`` when it is a DataFrame, else ``x0, x1, ...``.
    background : rows or DataFrame, optional
        Rows whose values replace hidden features in perturbation methods (the default masker).
    batch_size : int, default 4096
    name : str, optional
    """

    output_kind = "probabilities"

    def __init__(self, estimator: Any, *, class_names: Sequence[str] | None = None,
                 feature_names: Sequence[str] | None = None, background: Any = None, batch_size: int = 4096,
                 name: str | None = None) -> None:
        if not hasattr(estimator, "predict_proba"):
            raise InvalidTypeError(f"The 'estimator' parameter of SklearnAdapter must be a fitted classifier with "
                                   f"predict_proba. Got {type(estimator).__name__}.")
        classes = getattr(estimator, "classes_", None)
        if class_names is None and classes is None:
            raise InvalidArgumentError("The 'estimator' of SklearnAdapter is not fitted (no classes_); fit it or "
                                       "pass class_names.")
        self.class_names = tuple(str(c) for c in (class_names if class_names is not None else classes))
        if classes is not None and len(classes) != len(self.class_names):
            raise InvalidArgumentError(f"The 'class_names' of SklearnAdapter must name {len(classes)} classes. "
                                       f"Got {len(self.class_names)}.")
        self._set_estimator(estimator, feature_names, background, batch_size, name)

    def outputs(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        """``predict_proba`` of one batch of rows, (len(rows), n_classes) float64."""
        return np.asarray(self.estimator.predict_proba(self._batch(rows)), dtype=np.float64)


class SklearnRegressorAdapter(_SklearnBase):
    """Wrap a fitted scikit-learn regressor; outputs are its ``predict``, one column per predicted value.

    The adapter's ``task`` is "regressor" and its ``output_kind`` "values": methods explain the predicted
    value (``output="value"``) of one output (``target``, an index or a name; default the first).

    Parameters
    ----------
    estimator : fitted regressor (``sklearn.base.is_regressor``)
    output_names : sequence of str, optional
        Names of the predicted values; default ``("value",)`` for one output, ``value_0, value_1, ...``
        for several.
    feature_names, background, batch_size, name : see :class:`SklearnAdapter`
    """

    task = "regressor"
    output_kind = "values"

    def __init__(self, estimator: Any, *, output_names: Sequence[str] | None = None,
                 feature_names: Sequence[str] | None = None, background: Any = None, batch_size: int = 4096,
                 name: str | None = None) -> None:
        from sklearn.base import is_regressor

        if not is_regressor(estimator):
            raise InvalidTypeError(f"The 'estimator' parameter of SklearnRegressorAdapter must be a fitted "
                                   f"scikit-learn regressor. Got {type(estimator).__name__}.")
        if getattr(estimator, "n_features_in_", None) is None:
            raise InvalidArgumentError("The 'estimator' of SklearnRegressorAdapter is not fitted (no "
                                       "n_features_in_); fit it first.")
        self._set_estimator(estimator, feature_names, background, batch_size, name)
        n_out = self.outputs([np.zeros(len(self.feature_names))]).shape[1]
        self.class_names = _output_names(output_names, n_out, "SklearnRegressorAdapter")

    def outputs(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        """``predict`` of one batch of rows, (len(rows), n_outputs) float64."""
        return np.asarray(self.estimator.predict(self._batch(rows)), dtype=np.float64).reshape(len(rows), -1)


def _output_names(names: Sequence[str] | None, n: int, owner: str) -> tuple[str, ...]:
    if names is None:
        return ("value",) if n == 1 else tuple(f"value_{i}" for i in range(n))
    names = tuple(str(c) for c in names)
    if len(names) != n:
        raise InvalidArgumentError(f"The 'output_names' of {owner} must name the model's {n} outputs. "
                                   f"Got {len(names)}.")
    return names


class TabularTorchAdapter(_TabularMixin, TorchAdapter):
    """A :class:`TorchAdapter` for MLPs on tables: accepts DataFrames and has a background for maskers.

    Gradient methods differentiate the module at its input row, so attributions are per column.

    Parameters
    ----------
    model : torch.nn.Module mapping (B, n_features) floats to logits (or, for a regressor, to real values of
        shape (B, n_outputs) or (B,))
    class_names, feature_names : sequences of str
        A classifier needs its class names; a regressor's outputs are named by ``output_names`` (default
        ``("value",)`` or ``value_0, value_1, ...``).
    background : rows or DataFrame, optional
        For perturbation methods (see :class:`SklearnAdapter`).
    task, output_names, output_kind, batch_size, name : see :class:`TorchAdapter`

    Rows reach the module in its own dtype (float64 for a float64 model).
    """

    input_description = "a numeric row"

    def __init__(self, model: torch.nn.Module, *, class_names: Sequence[str] | None = None,
                 feature_names: Sequence[str] | None = None, background: Any = None, output_kind: str = "logits",
                 batch_size: int = 1024, name: str | None = None, task: str = "classifier",
                 output_names: Sequence[str] | None = None) -> None:
        if task == "classifier" and class_names is None:
            raise InvalidArgumentError("The 'class_names' parameter of TabularTorchAdapter is required for a "
                                       "classifier (task='classifier'); pass task='regressor' for real-valued outputs.")
        super().__init__(model, class_names=class_names, feature_names=_names_from(feature_names, background),
                         output_kind=output_kind, batch_size=batch_size, name=name, task=task,
                         output_names=output_names)
        self._set_background(background, "TabularTorchAdapter")
        if self._class_names is None and self.background is not None:
            self.predict([self.background[0].astype(self._numpy_dtype)])  # one forward pass names the outputs

    def split_inputs(self, inputs: Any) -> tuple[list[np.ndarray], bool]:
        rows, single = table_rows(inputs, self.feature_names, "TabularTorchAdapter")
        return [r.astype(self._numpy_dtype) for r in rows], single


@register_adapter("sklearn.base.BaseEstimator")  # by name: importing scikit-learn costs a second at start-up
def _sklearn(estimator: Any, **kwargs: Any) -> ModelAdapter:
    from sklearn.base import is_regressor

    # scikit-learn declares what an estimator is (its estimator type tag): no guessing from its methods.
    if is_regressor(estimator):
        return SklearnRegressorAdapter(estimator, **kwargs)
    return SklearnAdapter(estimator, **kwargs)
