"""Base of the attention methods: run the model once with its attention weights captured, then turn each
example's stack of attention matrices into one value per token.

They are attribution methods like the gradient ones (same features, same :class:`~lumos.Explanation`), so
quality metrics can rank them against gradients and Shapley values.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np
import torch

from ..attribution.base import EncodedMethod, Score
from ..errors import InvalidArgumentError
from ..models.sites import capture
from .graph import query_weights

__all__ = ["AttentionMethod"]


class AttentionMethod(EncodedMethod):
    """Shared work of methods that read attention weights (transformer text classifiers).

    Parameters
    ----------
    model : TransformersAdapter, model or zoo name
        A transformer whose attention weights come back (eager attention).
    query : {"auto", "cls", "mean"} or int, default "auto"
        The top-layer token(s) whose attention is traced: ``"cls"`` for classifiers that read [CLS],
        ``"mean"`` for mean-pooled ones (every real token, equally), or a token index. ``"auto"`` uses the
        pooling the adapter declares (the zoo model: ``"mean"``; a Hugging Face classifier: ``"cls"``).
    batch_size, progress, output
        See :class:`~lumos.attribution.base.EncodedMethod`.
    """

    #: Whether :meth:`values` needs the gradient of the output with respect to the attention weights.
    needs_gradient: ClassVar[bool] = False

    def __init__(self, model: Any, *, query: str | int = "auto", **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        owner = type(self).__name__
        self.adapter.require(owner, modality="text", layers=True)
        self.n_layers = self.adapter.n_layers
        if query == "auto":
            query = self.adapter.pooling or "cls"
        if not (query in ("cls", "mean") or (isinstance(query, (int, np.integer)) and not isinstance(query, bool))):
            raise InvalidArgumentError(f"The 'query' parameter of {owner} must be 'auto', 'cls', 'mean' or a token "
                                       f"index. Got {query!r}.")
        self.query = query if isinstance(query, str) else int(query)

    def params(self) -> dict[str, Any]:
        out = {"query": self.query}
        if self.needs_gradient:
            out["output"] = self.output
        return out

    def _layer(self, layer: int | None, owner: str) -> int | None:
        """A validated layer index (negative counts from the top), or None."""
        if layer is None:
            return None
        if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool) and \
                -self.n_layers <= layer < self.n_layers:
            return int(layer) % self.n_layers
        raise InvalidArgumentError(f"The 'layer' parameter of {owner} must be a layer index in "
                                   f"[{-self.n_layers}, {self.n_layers - 1}]. Got {layer!r}.")

    @abc.abstractmethod
    def values(self, attentions: np.ndarray, query: np.ndarray, gradients: np.ndarray | None) -> np.ndarray:
        """One value per token (n,) from one example's attention (L, H, n, n), the top-layer ``query``
        weights (n,) and, when :attr:`needs_gradient`, d output / d attention (L, H, n, n)."""

    def attribute_tensor(self, score: Score, x: torch.Tensor, x0: torch.Tensor, targets: torch.Tensor
                         ) -> torch.Tensor:
        return self._attention_values(score, x, targets, [self.query])[0]

    def attribute_rows(self, score: Score, x: torch.Tensor, x0: torch.Tensor, targets: torch.Tensor,
                       queries: torch.Tensor) -> torch.Tensor:
        """(K, B, T): for a causal language model, readout k is traced from its query position (the position
        whose logits predict generated token k); the causal attention matrices keep later tokens at zero."""
        return torch.stack(self._attention_values(score, x, targets, [int(q) for q in queries.tolist()]))

    def _attention_values(self, score: Score, x: torch.Tensor, targets: torch.Tensor,
                          queries: list) -> list[torch.Tensor]:
        """One (B, T) tensor of values per query; with several readouts per row (targets (B, K)), query k
        goes with readout k (its gradient, for attention x gradient)."""
        rows = torch.arange(x.shape[0], device=x.device)
        with capture(self.adapter, "layers.*.attention.probs", detach=not self.needs_gradient) as cap, \
                torch.set_grad_enabled(self.needs_gradient):
            out = score(x.detach().requires_grad_(self.needs_gradient), rows, targets)
        names = [f"layers.{i}.attention.probs" for i in range(self.n_layers)]
        probs = [cap[name] for name in names]  # each (B, H, T', T')
        stack = torch.stack([p.detach() for p in probs], 1).double().cpu().numpy()  # (B, L, H, T', T')
        mask = score.encoded.extras["attention_mask"]
        results = []
        for k, query in enumerate(queries):
            grads = None
            if self.needs_gradient:
                readout = out if out.dim() == 1 else out[:, k]
                grads = torch.autograd.grad(readout.sum(), probs, retain_graph=k + 1 < len(queries))
                grads = torch.stack([g.detach() for g in grads], 1).double().cpu().numpy()  # (B, L, H, T', T')
            result = torch.zeros(x.shape[:2], dtype=torch.float64)
            for b in range(x.shape[0]):
                real = mask[b, : x.shape[1]].nonzero().squeeze(1).cpu().numpy()  # attended positions
                keep = np.ix_(range(stack.shape[1]), range(stack.shape[2]), real, real)
                g = None if grads is None else grads[b][keep]
                result[b, real] = torch.from_numpy(self.values(stack[b][keep], query_weights(len(real), query), g))
            results.append(result)
        return results
