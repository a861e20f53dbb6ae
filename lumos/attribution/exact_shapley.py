"""Exact Shapley values: the game evaluated on every coalition of the features."""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, check_int
from .base import Estimate, PerturbationMethod
from .registry import register_method

__all__ = ["ExactShapley"]


@register_method("exact_shapley", aliases=("exact", "shapley"))
class ExactShapley(PerturbationMethod):
    """Shapley values computed exactly, from the game's value on all ``2^n`` coalitions of ``n`` features.

    ``phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S))``, where ``v(S)``
    is the explained output when only the features in ``S`` are shown. The values sum to
    ``v(all) - v(none)`` (efficiency), give nothing to a feature that never changes the output (null
    player) and equal shares to interchangeable features (symmetry). It costs ``2^n`` evaluations per
    example (the full and empty coalitions included), so it is refused above ``max_features``; use
    :class:`~lumos.attribution.kernel_shap.KernelSHAP` to estimate the values of longer inputs. There is no
    sampling, so ``stderr`` is ``None`` and ``seed`` plays no part.

    Parameters
    ----------
    model, masker, output, batch_size, seed, progress
        See :class:`~lumos.attribution.base.PerturbationMethod`.
    max_features : int, default 16
        The most features an input may have (16 features: 65,536 evaluations).

    References
    ----------
    Shapley. A Value for n-Person Games. Contributions to the Theory of Games II, 1953.
    Lundberg, Lee. A Unified Approach to Interpreting Model Predictions. NeurIPS 2017.

    Examples
    --------
    >>> from lumos import ExactShapley
    >>> e = ExactShapley("tweets-sentiment").attribute("the flight was late again")   # doctest: +SKIP
    >>> e.cost.n_evals                                                                 # doctest: +SKIP
    32
    """

    complete = True

    def __init__(self, model: Any, *, max_features: int = 16, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.max_features = check_int(max_features, "max_features", owner="ExactShapley", minimum=1)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "max_features": self.max_features}

    def check_budget(self, n_features: int) -> None:
        if n_features > self.max_features:
            raise InvalidArgumentError(
                f"ExactShapley evaluates all 2^n coalitions: an input of n = {n_features} features needs "
                f"2^{n_features} = {2 ** n_features:,} model evaluations, above the limit of max_features = "
                f"{self.max_features} (2^{self.max_features} = {2 ** self.max_features:,}). Use "
                "KernelSHAP(model, n_evals=...) to estimate the Shapley values, or raise max_features."
            )

    def plan(self, n_features: int, rng: np.random.Generator) -> np.ndarray:
        # Coalition number c shows feature i when bit i of c is set; 0 (none) and 2^n - 1 (all) come from
        # the base class.
        codes = np.arange(1, 2 ** n_features - 1, dtype=np.int64)
        return (codes[:, None] >> np.arange(n_features)) & 1 == 1  # (2^n - 2, n)

    def estimate(self, masks: np.ndarray, values: np.ndarray, full: float, empty: float) -> Estimate:
        n = masks.shape[1]
        codes = masks.astype(np.int64) @ (1 << np.arange(n, dtype=np.int64))  # (2^n - 2,)
        if len(np.unique(codes)) != 2 ** n - 2 or np.isin(codes, (0, 2 ** n - 1)).any():
            raise InvalidArgumentError(f"ExactShapley needs the game on each of the 2^{n} - 2 coalitions other than "
                                       f"all and none, once each. Got {len(masks)} masks.")
        return Estimate(values=shapley_from_table(_table(codes, values, full, empty, n), n))


def _table(codes: np.ndarray, values: np.ndarray, full: float, empty: float, n: int) -> np.ndarray:
    """The game as an array indexed by coalition number (bit i = feature i), shape (2^n,)."""
    table = np.empty(2 ** n, dtype=np.float64)
    table[codes] = values
    table[0], table[-1] = empty, full
    return table


def shapley_from_table(table: np.ndarray, n: int) -> np.ndarray:
    """Exact Shapley values of the game ``table`` (2^n,), indexed by coalition number (bit i = feature i).

    Each coalition's value enters every feature's sum once: with weight ``w(|S| - 1)`` for the features in
    ``S`` (as ``v(S)`` in ``v(S) - v(S - i)``) and ``-w(|S|)`` for the others (as ``v(S)`` in
    ``v(S + i) - v(S)``), where ``w(s) = s! (n - s - 1)! / n! = 1 / (n C(n - 1, s))``.
    """
    codes = np.arange(2 ** n, dtype=np.int64)
    shown = ((codes[:, None] >> np.arange(n)) & 1).astype(np.float64)  # (2^n, n)
    sizes = shown.sum(1).astype(np.int64)  # (2^n,)
    w = np.array([1.0 / (n * comb(n - 1, s)) for s in range(n)] + [0.0])  # w[n] = 0: no feature is outside all
    w_in = np.concatenate([[0.0], w[:-1]])  # w_in[s] = w(s - 1): nobody is inside the empty coalition
    return shown.T @ (table * w_in[sizes]) - (1.0 - shown).T @ (table * w[sizes])
