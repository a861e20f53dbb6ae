"""Attention x gradient: attention weights scaled by how much the output depends on them."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..attribution.registry import register_method
from .base import AttentionMethod

__all__ = ["AttentionXGradient"]


@register_method("attention_x_gradient", aliases=("attention_gradient", "attn_x_grad"))
class AttentionXGradient(AttentionMethod):
    """The first-order effect on the target's output of the attention paid to each token.

    ``value_j = sum over layers l, heads h, query rows i of A[l, h, i, j] * d f / d A[l, h, i, j]``, with
    ``f`` the target's logit (or probability, ``output``). Signed: positive when attending to token ``j``
    raises the target's score. ``layer`` restricts the sum to one block.

    Parameters
    ----------
    model, query, output, batch_size, progress
        See :class:`~lumos.attention.base.AttentionMethod`; ``query`` is recorded but not used (every query
        row enters through the gradient).
    layer : int or None, default None
        One block, or None for the sum over all blocks.

    References
    ----------
    Hao, Dong, Wei, Xu. Self-Attention Attribution: Interpreting Information Interactions Inside
    Transformer. AAAI 2021 (attention x gradient is its one-step, unintegrated form).

    Examples
    --------
    >>> AttentionXGradient("tweets-sentiment").attribute("the flight was late")   # doctest: +SKIP
    """

    needs_gradient = True

    def __init__(self, model: Any, *, layer: int | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.layer = self._layer(layer, "AttentionXGradient")

    def params(self) -> dict[str, Any]:
        return {**super().params(), "layer": self.layer}

    def values(self, attentions: np.ndarray, query: np.ndarray, gradients: np.ndarray | None) -> np.ndarray:
        product = attentions * gradients  # (L, H, n, n)
        if self.layer is not None:
            product = product[self.layer:self.layer + 1]
        return product.sum(axis=(0, 1, 2))
