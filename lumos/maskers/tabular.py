"""Tabular masker: hidden columns take values from a background sample (interventional expectation)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, check_int
from .base import Masker, Prepared

__all__ = ["TabularMasker"]


class TabularMasker(Masker):
    """Replace hidden features by their values in each row of a background sample.

    Masked rows keep the explained example's floating dtype (the adapter gives it in the model's own:
    float64 rows for a float64 model or a scikit-learn estimator), so no precision is lost.

    The model's output for a mask is averaged over the background rows: the interventional expectation
    ``E_b[f(x_S, b_{not S})]`` (Janzing et al., 2020). Each mask costs ``len(background)`` model rows, so
    keep the background small (a few dozen rows, e.g. k-means centres or a random sample).

    Parameters
    ----------
    background : array of shape (k, n_features)
    feature_names : sequence of str, optional
    max_rows : int, default 1000
        Refuse larger backgrounds (the cost grows linearly with them).

    References
    ----------
    Janzing, Minorics, Bloebaum. Feature relevance quantification in explainable AI: A causal problem.
    AISTATS 2020.
    """

    def __init__(self, background: Any, *, feature_names: Sequence[str] | None = None, max_rows: int = 1000) -> None:
        data = np.asarray(background)
        if not np.issubdtype(data.dtype, np.floating):  # floats keep their precision; anything else: float64
            data = np.asarray(background, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
            raise InvalidArgumentError("The 'background' parameter of TabularMasker must be a non-empty 2-D array "
                                       f"(rows, features). Got shape {data.shape}.")
        check_int(max_rows, "max_rows", owner="TabularMasker", minimum=1)
        if data.shape[0] > max_rows:
            raise InvalidArgumentError(f"The 'background' of TabularMasker has {data.shape[0]} rows; at most "
                                       f"{max_rows} are accepted (each mask costs one model row per background row). "
                                       "Pass a sample or raise max_rows.")
        if feature_names is not None and len(feature_names) != data.shape[1]:
            raise InvalidArgumentError(f"The 'feature_names' of TabularMasker must name {data.shape[1]} features. "
                                       f"Got {len(feature_names)}.")
        self.background = data
        self.feature_names = tuple(feature_names) if feature_names is not None else tuple(
            f"x{i}" for i in range(data.shape[1]))
        self.rows_per_mask = data.shape[0]

    def prepare(self, example: Any) -> Prepared:
        x = np.asarray(example)
        x = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)  # the adapter's dtype is kept
        if x.shape != (self.background.shape[1],):
            raise InvalidArgumentError(f"TabularMasker expects examples of shape ({self.background.shape[1]},). "
                                       f"Got {x.shape}.")
        return Prepared(example=x, labels=self.feature_names)

    def apply(self, prepared: Prepared, masks: np.ndarray) -> list[np.ndarray]:
        masks = np.asarray(masks, dtype=bool)
        # In the example's dtype (the one its adapter feeds the model), whatever the background's.
        rows = np.where(masks[:, None, :], prepared.example[None, None, :], self.background[None, :, :])
        rows = rows.astype(prepared.example.dtype, copy=False)
        return list(rows.reshape(-1, rows.shape[-1]))  # (m * k, n_features), mask-major
