"""Head importance by ablation: what the model loses when one attention head is silenced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..engine import track
from ..errors import InvalidArgumentError, UnsupportedModelError, check_int
from ..models import as_adapter
from ..models.sites import capture, heads_per_layer

__all__ = ["HeadImportance", "head_importance"]


@dataclass(frozen=True)
class HeadImportance:
    """Effect of ablating each attention head on a dataset.

    Attributes
    ----------
    score_drop : ndarray (layers, heads)
        Mean over examples of ``f(x) - f_ablated(x)``, ``f`` the logit of the class predicted by the intact
        model. Positive: the head supports the decision. NaN for heads a layer does not have (a model whose
        heads were pruned keeps different numbers per layer; ``heads`` is the most any layer has).
    accuracy_drop : ndarray (layers, heads) or None
        Intact accuracy minus accuracy with the head ablated, when labels were given.
    prediction_changes : ndarray (layers, heads)
        Fraction of examples whose predicted class changes.
    accuracy : float or None
        Accuracy of the intact model on the examples.
    n_examples : int
    """

    score_drop: np.ndarray
    accuracy_drop: np.ndarray | None
    prediction_changes: np.ndarray
    accuracy: float | None
    n_examples: int

    def top(self, k: int = 5) -> list[tuple[int, int, float]]:
        """The ``k`` heads whose ablation lowers the score most: (layer, head, score_drop)."""
        flat = np.argsort(-self.score_drop, axis=None)[:k]
        return [(int(i), int(j), float(self.score_drop[i, j]))
                for i, j in zip(*np.unravel_index(flat, self.score_drop.shape))]


def head_importance(model: Any, texts: Sequence[str], labels: Sequence[int] | None = None, *,
                    batch_size: int = 64, progress: bool | None = None) -> HeadImportance:
    """Ablate each attention head in turn (its output set to zero before the projection that mixes the
    heads) and measure the change of the predicted class's logit, of the prediction and of accuracy.

    Parameters
    ----------
    model : TransformersAdapter or zoo name
        A transformer with BERT-style blocks (the heads' outputs are a site, ``layers.i.attention.heads``).
    texts : sequence of str
    labels : sequence of int, optional
        Class indices, for the accuracy drop.
    batch_size : int, default 64
    progress : bool or None

    Cost: ``1 + layers x heads`` forward passes over ``texts``.

    References
    ----------
    Michel, Levy, Neubig. Are Sixteen Heads Really Better than One? NeurIPS 2019.
    """
    adapter = as_adapter(model)
    batch_size = check_int(batch_size, "batch_size", owner="head_importance", minimum=1)
    texts, _ = adapter.split_inputs(list(texts))
    known = adapter.sites()
    if "layers.0.attention.heads" not in known:
        raise UnsupportedModelError("head_importance needs a transformer whose heads' outputs are a site "
                                    "(BERT-style blocks: layers.i.attention.heads).")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(texts),) or not np.issubdtype(labels.dtype, np.integer):
            raise InvalidArgumentError(f"The 'labels' parameter of head_importance must hold one class index per "
                                       f"text ({len(texts)}). Got shape {labels.shape}, dtype {labels.dtype}.")
    n_layer = adapter.n_layers
    # Per layer: a head-pruned model (lumos.compression.prune_heads) keeps different heads in each layer.
    n_heads = heads_per_layer(adapter.module)

    base = adapter.predict(texts, batch_size=batch_size)
    predicted = base.argmax(1)
    f0 = base[np.arange(len(texts)), predicted]
    accuracy = float((predicted == labels).mean()) if labels is not None else None
    # Each forward pass carries every head's ablation of a chunk of texts: copy h of the chunk has head h
    # silenced, so a layer costs len(texts) x heads rows in few large batches rather than many small ones.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.full((n_layer, max(n_heads), len(texts), base.shape[1]), np.nan, dtype=np.float32)
    steps = [(layer, start) for layer in range(n_layer)
             for start in range(0, len(order), max(1, batch_size // n_heads[layer]))]
    with torch.inference_mode():
        for layer, start in track(steps, description="head_importance", enabled=progress):
            heads = n_heads[layer]
            idx = order[start:start + max(1, batch_size // heads)]
            inputs = adapter.model_inputs([texts[i] for i in idx])
            c = len(idx)

            def silence(context: torch.Tensor, c: int = c, heads: int = heads) -> torch.Tensor:
                # context: (heads x c, T, heads x head_dim), head-major on the last axis
                width = context.shape[-1] // heads
                view = context.clone().view(heads, c, context.shape[1], heads, width)
                for h in range(heads):
                    view[h, :, :, h] = 0
                return view.view(context.shape)

            with capture(adapter, [], edit={f"layers.{layer}.attention.heads": silence}):
                logits = adapter.run({name: value.repeat(heads, 1) for name, value in inputs.items()})
            out[layer, :heads][:, idx] = logits.float().cpu().numpy().reshape(heads, c, -1)
    rows = np.arange(len(texts))
    ablated = out[:, :, rows, predicted]  # (L, H, n): the predicted class's logit
    drop = (f0[None, None] - ablated).mean(-1)
    missing = np.isnan(out[..., 0, 0])  # (L, H): heads a pruned layer does not have
    changes = np.where(missing, np.nan, (out.argmax(-1) != predicted).mean(-1))
    acc_drop = None
    if labels is not None:
        acc_drop = np.where(missing, np.nan, accuracy - (out.argmax(-1) == labels).mean(-1))
    return HeadImportance(score_drop=drop, accuracy_drop=acc_drop, prediction_changes=changes,
                          accuracy=accuracy, n_examples=len(texts))
