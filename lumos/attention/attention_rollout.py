"""Attention rollout (Abnar & Zuidema, 2020)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..attribution.registry import register_method
from ..errors import check_float
from .base import AttentionMethod
from .graph import rollout

__all__ = ["AttentionRollout"]


@register_method("rollout", aliases=("attention_rollout",))
class AttentionRollout(AttentionMethod):
    """Attention rolled out through every layer down to the input tokens.

    Each layer's head-averaged attention gets the residual connection, ``Ã = (1 - r) A + r I``, and the
    layers are multiplied from the top: the value of input token ``j`` is ``(q^T Ã_L ... Ã_1)_j``, the
    share of the output's (``query``) attention that reaches ``j`` along all paths. Values are >= 0 and
    sum to 1 over all tokens, [CLS] and [SEP] included (those are not features, so the features' values
    sum to less).

    Parameters
    ----------
    model, query
        See :class:`~lumos.attention.base.AttentionMethod`.
    residual : float in [0, 1], default 0.5
        Weight of the identity (the residual stream), as in the paper.

    References
    ----------
    Abnar, Zuidema. Quantifying Attention Flow in Transformers. ACL 2020.

    Examples
    --------
    >>> AttentionRollout("tweets-sentiment").attribute("the flight was late")   # doctest: +SKIP
    """

    def __init__(self, model: Any, *, residual: float = 0.5, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.residual = check_float(residual, "residual", owner="AttentionRollout", minimum=0.0, maximum=1.0)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "residual": self.residual}

    def values(self, attentions: np.ndarray, query: np.ndarray, gradients: np.ndarray | None) -> np.ndarray:
        return rollout(attentions, query, residual=self.residual)
