"""Adapters for models on tables: scikit-learn estimators (``predict_proba``) and PyTorch MLPs.

Rows are float vectors; a pandas DataFrame is accepted anywhere rows are, its columns put in the adapter's
feature order by name, so column names reach every Explanation (as ``features``). The default masker of a
tabular adapter hides columns with values from the ``background`` rows given to the adapter.

>>> adapter = lumos.as_adapter(fitted_estimator, background=X_train.sample(50))   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import sklearn.base
import torch

from ..errors import InvalidArgumentError, InvalidTypeError, check_int
from .base import ModelAdapter, register_adapter
from .torch import TorchAdapter

__all__ = ["SklearnAdapter", "TabularTorchAdapter", "table_rows"]


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


class SklearnAdapter(_TabularMixin, ModelAdapter):
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
    input_description = "a numeric row"

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
        self.estimator = estimator
        self.class_names = tuple(str(c) for c in (class_names if class_names is not None else classes))
        if classes is not None and len(classes) != len(self.class_names):
            raise InvalidArgumentError(f"The 'class_names' of SklearnAdapter must name {len(classes)} classes. "
                                       f"Got {len(self.class_names)}.")
        self.feature_names = _names_from(feature_names, estimator, background)
        n_in = getattr(estimator, "n_features_in_", None)
        if self.feature_names is None and n_in is not None:
            self.feature_names = tuple(f"x{i}" for i in range(int(n_in)))
        self._frame_input = getattr(estimator, "feature_names_in_", None) is not None
        self.batch_size = check_int(batch_size, "batch_size", owner="SklearnAdapter", minimum=1)
        self.name = name or type(estimator).__name__
        self._set_background(background, "SklearnAdapter")

    def split_inputs(self, inputs: Any) -> tuple[list[np.ndarray], bool]:
        rows, single = table_rows(inputs, self.feature_names, "SklearnAdapter")
        return list(rows), single

    def fingerprint(self, example: np.ndarray) -> bytes:
        return np.ascontiguousarray(example, dtype=np.float64).tobytes()

    def outputs(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        """``predict_proba`` of one batch of rows, (len(rows), n_classes) float64."""
        chunk = np.asarray(np.stack(rows), dtype=np.float64)
        if self._frame_input:  # fitted on a DataFrame: give it one, with its own column names
            import pandas as pd

            chunk = pd.DataFrame(chunk, columns=list(self.estimator.feature_names_in_))
        return np.asarray(self.estimator.predict_proba(chunk), dtype=np.float64)


class TabularTorchAdapter(_TabularMixin, TorchAdapter):
    """A :class:`TorchAdapter` for MLPs on tables: accepts DataFrames and has a background for maskers.

    Gradient methods differentiate the module at its input row, so attributions are per column.

    Parameters
    ----------
    model : torch.nn.Module mapping (B, n_features) floats to logits
    class_names, feature_names : sequences of str
    background : rows or DataFrame, optional
        For perturbation methods (see :class:`SklearnAdapter`).
    output_kind, batch_size, name : see :class:`TorchAdapter`
    """

    input_description = "a numeric row"

    def __init__(self, model: torch.nn.Module, *, class_names: Sequence[str], feature_names: Sequence[str] | None
                 = None, background: Any = None, output_kind: str = "logits", batch_size: int = 1024,
                 name: str | None = None) -> None:
        super().__init__(model, class_names=class_names, feature_names=_names_from(feature_names, background),
                         output_kind=output_kind, batch_size=batch_size, name=name)
        self._set_background(background, "TabularTorchAdapter")

    def split_inputs(self, inputs: Any) -> tuple[list[np.ndarray], bool]:
        rows, single = table_rows(inputs, self.feature_names, "TabularTorchAdapter")
        return [r.astype(np.float32) for r in rows], single


@register_adapter(sklearn.base.BaseEstimator)
def _sklearn(estimator: Any, **kwargs: Any) -> ModelAdapter:
    return SklearnAdapter(estimator, **kwargs)
