"""Saliency: the gradient of the explained output with respect to the features."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InvalidArgumentError
from .base import GradientMethod, Score, gradient
from .registry import register_method

__all__ = ["Saliency"]


@register_method("saliency", aliases=("grad", "gradient"))
class Saliency(GradientMethod):
    """Gradient of the target's output at the input (Simonyan et al., 2014).

    With ``abs=True`` (default) the value of a feature is ``sum |d f / d x_j|`` over its dimensions (the
    embedding dimensions of a token). ``abs=False`` gives the signed gradient, for scalar features only
    (columns of a table): summed over a token's embedding it would be meaningless.

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
        if not self.abs and x.dim() > 2:
            # Summing a signed gradient over a feature's dimensions measures nothing (after an embedding
            # LayerNorm it is zero by construction); the signed first-order attribution is x * grad.
            raise InvalidArgumentError(
                "The 'abs' parameter of Saliency must be True for features with several dimensions (such as "
                "token embeddings), where a signed gradient sum is meaningless. Use GradientXInput for signed "
                "attributions."
            )
        grad = gradient(score, x, torch.arange(x.shape[0], device=x.device), targets)
        return grad.abs() if self.abs else grad
