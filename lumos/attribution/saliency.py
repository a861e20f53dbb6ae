"""Saliency: the gradient of the explained output with respect to the features."""

from __future__ import annotations

from typing import Any

import torch

from .base import GradientMethod, Score, gradient
from .registry import register_method

__all__ = ["Saliency"]


@register_method("saliency", aliases=("grad", "gradient"))
class Saliency(GradientMethod):
    """Gradient of the target's output at the input (Simonyan et al., 2014).

    With ``abs=True`` (default) the value of a feature is ``sum |d f / d x_j|`` over its dimensions (the
    embedding dimensions of a token); with ``abs=False`` the signed sum.

    Parameters
    ----------
    model, output, batch_size, progress
        See :class:`~lumos.attribution.base.GradientMethod`.
    abs : bool, default True

    References
    ----------
    Simonyan, Vedaldi, Zisserman. Deep Inside Convolutional Networks: Visualising Image Classification
    Models and Saliency Maps. ICLR workshop, 2014.

    Examples
    --------
    >>> from lumos import Saliency
    >>> Saliency("tweets-sentiment").attribute("the flight was late again")   # doctest: +SKIP
    """

    def __init__(self, model: Any, *, abs: bool = True, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.abs = bool(abs)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "abs": self.abs}

    def attribute_tensor(self, score: Score, x: torch.Tensor, x0: torch.Tensor, targets: torch.Tensor
                         ) -> torch.Tensor:
        grad = gradient(score, x, torch.arange(x.shape[0], device=x.device), targets)
        return grad.abs() if self.abs else grad
