"""Occlusion / leave-one-out: the drop in the output when a window of features is hidden."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, check_int
from .base import Estimate, PerturbationMethod
from .registry import register_method

__all__ = ["Occlusion"]


@register_method("occlusion", aliases=("leave_one_out", "loo"))
class Occlusion(PerturbationMethod):
    """Hide a sliding window of ``window`` consecutive features (stride ``stride``) and record the drop
    ``v(all) - v(all without the window)``; a feature's value is the mean drop over the windows covering it.

    With ``window=1`` this is leave-one-out. It costs ``ceil((n - window) / stride) + 1`` evaluations (plus
    the full and empty coalitions).

    Parameters
    ----------
    model, masker, output, batch_size, seed, progress
        See :class:`~lumos.attribution.base.PerturbationMethod`.
    window : int, default 1
        Consecutive features hidden together (capped at the input's length).
    stride : int, default 1
        Step between windows, at most ``window`` so that no feature is left uncovered.

    References
    ----------
    Zeiler, Fergus. Visualizing and Understanding Convolutional Networks. ECCV 2014. Li, Monroe, Jurafsky.
    Understanding Neural Networks through Representation Erasure. arXiv:1612.08220, 2016.

    Examples
    --------
    >>> from lumos import Occlusion
    >>> Occlusion("tweets-sentiment").attribute("the flight was late again")      # doctest: +SKIP
    """

    def __init__(self, model: Any, *, window: int = 1, stride: int = 1, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.window = check_int(window, "window", owner="Occlusion", minimum=1)
        self.stride = check_int(stride, "stride", owner="Occlusion", minimum=1)
        if self.stride > self.window:
            raise InvalidArgumentError(
                f"The 'stride' parameter of Occlusion must be <= window ({self.window}), so that every feature "
                f"is hidden by some window. Got {self.stride}."
            )

    def params(self) -> dict[str, Any]:
        return {**super().params(), "window": self.window, "stride": self.stride}

    def _windows(self, n: int) -> list[range]:
        width = min(self.window, n)
        starts = list(range(0, n - width + 1, self.stride))
        if starts[-1] != n - width:  # the last features are covered too
            starts.append(n - width)
        return [range(s, s + width) for s in starts]

    def plan(self, n_features: int, rng: np.random.Generator) -> np.ndarray:
        windows = self._windows(n_features)
        masks = np.ones((len(windows), n_features), dtype=bool)
        for row, w in enumerate(windows):
            masks[row, list(w)] = False
        return masks

    def estimate(self, masks: np.ndarray, values: np.ndarray, full: float, empty: float) -> Estimate:
        hidden = ~masks  # (m, n): which features each window hid
        drops = full - values  # (m,)
        covered = hidden.sum(0)
        return Estimate(values=(hidden * drops[:, None]).sum(0) / np.maximum(covered, 1))
