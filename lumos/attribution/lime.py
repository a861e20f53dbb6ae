"""LIME: a weighted linear model of the game, fitted on random coalitions near the full input."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, check_float, check_int
from .base import MAX_EVALS, Estimate, PerturbationMethod
from .registry import register_method

__all__ = ["LIME"]


@register_method("lime")
class LIME(PerturbationMethod):
    """Local Interpretable Model-agnostic Explanations for binary features (words, columns).

    Masks are sampled as the ``lime`` package samples texts: the number of hidden features ``k`` is drawn
    uniformly from 1..n, then ``k`` features are hidden uniformly at random. Each mask ``z`` is weighted by
    the exponential kernel ``sqrt(exp(-d(z)^2 / kernel_width^2))`` of its cosine distance to the full input,
    ``d(z) = 1 - sqrt(|z| / n)``, and a ridge regression with intercept, ``v(z) ~ b0 + sum_i b_i z_i``, is
    fitted to the game by weighted least squares. The coefficients ``b_i`` are the attributions.

    The full and empty coalitions are samples of the fit too. ``diagnostics`` holds ``"r2"``, the weighted
    R^2 of the fit on the samples (1 when the game is linear in the mask and ``alpha=0``), and
    ``"intercept"``. The values need not sum to ``v(all) - v(none)``.

    Parameters
    ----------
    model, masker, output, batch_size, seed, progress
        See :class:`~lumos.attribution.base.PerturbationMethod`.
    n_evals : int, default 500
        Masks evaluated per example, the full and empty coalitions included (with a tabular background,
        each mask costs one model row per background row).
    kernel_width : float, default 0.25
        Width of the kernel on the cosine distance. ``lime``'s text default of 25 is the same kernel: it
        scales the distance by 100.
    alpha : float, default 1.0
        Ridge penalty on the coefficients (not the intercept), as in ``lime``; 0 gives least squares.

    References
    ----------
    Ribeiro, Singh, Guestrin. "Why Should I Trust You?": Explaining the Predictions of Any Classifier.
    KDD 2016. https://github.com/marcotcr/lime (``LimeTextExplainer``, ``LimeBase``).

    Examples
    --------
    >>> from lumos import LIME
    >>> e = LIME("tweets-sentiment", n_evals=300).attribute("the flight was late again")  # doctest: +SKIP
    >>> e.diagnostics["r2"]                                                               # doctest: +SKIP
    """

    def __init__(self, model: Any, *, n_evals: int = 500, kernel_width: float = 0.25, alpha: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.n_evals = check_int(n_evals, "n_evals", owner="LIME", minimum=3, maximum=MAX_EVALS)
        self.kernel_width = check_float(kernel_width, "kernel_width", owner="LIME", minimum=0,
                                        exclusive_minimum=True)
        self.alpha = check_float(alpha, "alpha", owner="LIME", minimum=0)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "n_evals": self.n_evals, "kernel_width": self.kernel_width,
                "alpha": self.alpha}

    def check_budget(self, n_features: int) -> None:
        # Without the ridge penalty the fit is only determined by at least n + 1 distinct samples.
        if self.alpha == 0 and self.n_evals < n_features + 1:
            raise InvalidArgumentError(
                f"The 'n_evals' parameter of LIME must be >= n_features + 1 = {n_features + 1} when alpha=0 "
                f"(least squares on {n_features} features and an intercept). Got {self.n_evals}; raise n_evals "
                "or use alpha > 0."
            )

    def plan(self, n_features: int, rng: np.random.Generator) -> np.ndarray:
        m = self.n_evals - 2  # the base adds the full and the empty coalition
        n_hidden = rng.integers(1, n_features + 1, size=m)  # (m,)
        # A uniform random subset of size k per row: the k features with the smallest random keys.
        ranks = rng.random((m, n_features)).argsort(axis=1).argsort(axis=1)  # (m, n)
        return ranks >= n_hidden[:, None]

    def estimate(self, masks: np.ndarray, values: np.ndarray, full: float, empty: float) -> Estimate:
        n = masks.shape[1]
        z = np.concatenate([np.ones((1, n)), np.zeros((1, n)), masks]).astype(np.float64)  # (m + 2, n)
        y = np.concatenate([[full, empty], values]).astype(np.float64)  # (m + 2,)
        distance = 1.0 - np.sqrt(z.sum(1) / n)  # cosine distance to the all-ones mask
        weights = np.sqrt(np.exp(-distance ** 2 / self.kernel_width ** 2))
        coef, intercept = _weighted_ridge(z, y, weights, self.alpha)
        residual = y - z @ coef - intercept
        y_mean = np.average(y, weights=weights)
        ss_res = float(weights @ residual ** 2)
        ss_tot = float(weights @ (y - y_mean) ** 2)
        r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0  # a constant game is fitted exactly
        return Estimate(values=coef, diagnostics={"r2": r2, "intercept": float(intercept)})


def _weighted_ridge(x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Minimise ``sum_j w_j (y_j - x_j b - c)^2 + alpha |b|^2`` over ``b`` (n,) and ``c``, for ``x`` (m, n).

    The intercept is not penalised, so it is eliminated by centring on the weighted means; the rest is an
    ordinary least-squares problem on rows scaled by sqrt(w), with sqrt(alpha) I appended for the penalty
    (minimum-norm when alpha=0 and the samples do not determine b).
    """
    x_mean = w @ x / w.sum()  # (n,)
    y_mean = float(w @ y / w.sum())
    root = np.sqrt(w)[:, None]
    a = np.concatenate([root * (x - x_mean), np.sqrt(alpha) * np.eye(x.shape[1])])  # (m + n, n)
    b = np.concatenate([root[:, 0] * (y - y_mean), np.zeros(x.shape[1])])  # (m + n,)
    coef = np.linalg.lstsq(a, b, rcond=None)[0]
    return coef, y_mean - float(x_mean @ coef)
