"""Raw attention: the weight the output token(s) give each token at one layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..attribution.registry import register_method
from ..errors import InvalidArgumentError
from .base import AttentionMethod

__all__ = ["RawAttention"]


@register_method("attention", aliases=("raw_attention",))
class RawAttention(AttentionMethod):
    """Attention weights of one layer: the value of token ``j`` is ``sum_i q_i A[i, j]``, with ``A`` the
    layer's attention (averaged over heads, or one head) and ``q`` the output token weights (``query``).

    Raw attention ignores the residual stream and everything the values carry, so it is a description of
    where a layer looks, not a faithful attribution; rollout and flow follow the layers down to the input.

    Parameters
    ----------
    model, query
        See :class:`~lumos.attention.base.AttentionMethod`.
    layer : int, default -1
        Which block (negative counts from the top).
    head : int or None, default None
        One head, or None for the mean over heads.

    References
    ----------
    Bahdanau, Cho, Bengio. Neural Machine Translation by Jointly Learning to Align and Translate. ICLR 2015.
    Jain, Wallace. Attention is not Explanation. NAACL 2019.

    Examples
    --------
    >>> RawAttention("tweets-sentiment", layer=0).attribute("the flight was late")   # doctest: +SKIP
    """

    def __init__(self, model: Any, *, layer: int = -1, head: int | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.layer = self._layer(layer, "RawAttention")
        if head is not None and not (isinstance(head, (int, np.integer)) and not isinstance(head, bool)
                                     and head >= 0):
            raise InvalidArgumentError(f"The 'head' parameter of RawAttention must be None (mean over heads) or a "
                                       f"head index >= 0. Got {head!r}.")
        self.head = None if head is None else int(head)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "layer": self.layer, "head": self.head}

    def values(self, attentions: np.ndarray, query: np.ndarray, gradients: np.ndarray | None) -> np.ndarray:
        layer = attentions[self.layer]  # (H, n, n)
        if self.head is not None and self.head >= layer.shape[0]:
            raise InvalidArgumentError(f"The 'head' parameter of RawAttention must be < {layer.shape[0]}. "
                                       f"Got {self.head}.")
        a = layer.mean(0) if self.head is None else layer[self.head]
        return query @ a
