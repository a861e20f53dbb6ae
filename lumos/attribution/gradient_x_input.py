"""Gradient x Input: the first-order Taylor term of the output at the input."""

from __future__ import annotations

import torch

from .base import GradientMethod, Score, gradient
from .registry import register_method

__all__ = ["GradientXInput"]


@register_method("gradient_x_input", aliases=("gxi", "input_x_gradient"))
class GradientXInput(GradientMethod):
    """``x * d f / d x``, summed over each feature's dimensions (Shrikumar et al., 2016).

    For a linear model ``f(x) = w . x + b`` this is ``w * x`` exactly.

    References
    ----------
    Shrikumar, Greenside, Shcherbina, Kundaje. Not Just a Black Box: Learning Important Features Through
    Propagating Activation Differences. arXiv:1605.01713, 2016.

    Examples
    --------
    >>> from lumos import GradientXInput
    >>> GradientXInput("tweets-sentiment").attribute("the flight was late again")   # doctest: +SKIP
    """

    def attribute_tensor(self, score: Score, x: torch.Tensor, x0: torch.Tensor, targets: torch.Tensor
                         ) -> torch.Tensor:
        return x * gradient(score, x, torch.arange(x.shape[0], device=x.device), targets)
