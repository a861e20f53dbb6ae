"""Structured pruning of transformers: whole attention heads and feed-forward neurons removed, so the model
really gets smaller and faster (rather than holding zeros)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..engine import track
from ..errors import InvalidArgumentError, check_choice, check_float, check_int
from ..models import ModelAdapter, as_adapter
from ..models.sites import capture
from ._common import blocks, record, working_copy

__all__ = ["prune_heads", "prune_neurons", "head_scores", "neuron_scores", "remove_heads", "remove_neurons"]

HEAD_IMPORTANCE = ("magnitude", "ablation")
NEURON_IMPORTANCE = ("magnitude", "activation")


def _keep_rows(linear: nn.Linear, rows: torch.Tensor) -> None:
    """Keep only the output units ``rows`` of ``linear`` (in place: the module object stays the same)."""
    linear.weight = nn.Parameter(linear.weight.detach()[rows].clone())
    if linear.bias is not None:
        linear.bias = nn.Parameter(linear.bias.detach()[rows].clone())
    linear.out_features = len(rows)


def _keep_columns(linear: nn.Linear, columns: torch.Tensor) -> None:
    """Keep only the input units ``columns`` of ``linear`` (its bias is unchanged)."""
    linear.weight = nn.Parameter(linear.weight.detach()[:, columns].clone())
    linear.in_features = len(columns)


def remove_heads(module: nn.Module, kept: Sequence[Sequence[int]]) -> None:
    """Cut every attention head not in ``kept[layer]`` out of ``module`` (in place).

    A removed head's query, key and value rows and its columns of the output projection are deleted, which
    is exactly what zeroing that head's output does to the model's function.
    """
    _, _, parts = blocks(module, owner="remove_heads")
    for block, keep in zip(parts, kept, strict=True):
        d = block.head_size
        units = torch.tensor([h * d + j for h in keep for j in range(d)], dtype=torch.long)
        for name in ("query", "key", "value"):
            _keep_rows(getattr(block.attention, name), units)
        _keep_columns(block.attention_out, units)
        block.attention.num_attention_heads = len(keep)
        block.attention.all_head_size = len(keep) * d


def remove_neurons(module: nn.Module, kept: Sequence[Sequence[int]]) -> None:
    """Cut every feed-forward neuron not in ``kept[layer]`` out of ``module`` (in place)."""
    _, _, parts = blocks(module, owner="remove_neurons")
    for block, keep in zip(parts, kept, strict=True):
        units = torch.tensor(list(keep), dtype=torch.long)
        _keep_rows(block.ffn_in, units)
        _keep_columns(block.ffn_out, units)


def head_scores(model: Any, importance: str = "magnitude", texts: Sequence[str] | None = None, *,
                batch_size: int = 64, progress: bool | None = None) -> list[np.ndarray]:
    """Importance of each attention head, one array (heads,) per layer; higher is more important.

    ``"magnitude"``: the Frobenius norm of the head's weights (its query, key and value rows and its columns
    of the output projection). ``"ablation"``: the mean drop of the predicted class's logit over ``texts``
    when the head's output is zeroed (:func:`lumos.head_importance`).
    """
    adapter = as_adapter(model)
    importance = check_choice(importance, "importance", HEAD_IMPORTANCE, owner="head_scores")
    _, _, parts = blocks(adapter.module, owner="head_scores")
    if importance == "ablation":
        if texts is None:
            raise InvalidArgumentError("The 'texts' parameter is required with importance='ablation': the heads' "
                                       "effect is measured on them (held-out or training texts).")
        from ..attention import head_importance

        drop = head_importance(adapter, texts, batch_size=batch_size, progress=progress).score_drop
        return [drop[i, :block.n_heads].copy() for i, block in enumerate(parts)]
    out = []
    with torch.no_grad():
        for block in parts:
            h, d = block.n_heads, block.head_size
            sq = sum(getattr(block.attention, n).weight.view(h, d, -1).pow(2).sum((1, 2)) for n in ("query", "key", "value"))
            sq = sq + block.attention_out.weight.view(block.attention_out.out_features, h, d).pow(2).sum((0, 2))
            out.append(sq.sqrt().double().cpu().numpy())
    return out


def neuron_scores(model: Any, importance: str = "magnitude", texts: Sequence[str] | None = None, *,
                  batch_size: int = 64, progress: bool | None = None) -> list[np.ndarray]:
    """Importance of each feed-forward neuron, one array (neurons,) per layer; higher is more important.

    ``"magnitude"``: ``||w_in|| * ||w_out||``, the norms of the neuron's input row and output column.
    ``"activation"``: the neuron's mean ``|activation| * ||w_out||`` over the real tokens of ``texts``, the
    average size of what it adds to the residual stream.
    """
    adapter = as_adapter(model)
    importance = check_choice(importance, "importance", NEURON_IMPORTANCE, owner="neuron_scores")
    _, _, parts = blocks(adapter.module, owner="neuron_scores")
    with torch.no_grad():
        out_norm = [b.ffn_out.weight.norm(dim=0).double().cpu() for b in parts]
        if importance == "magnitude":
            return [(b.ffn_in.weight.norm(dim=1).double().cpu() * n).numpy() for b, n in zip(parts, out_norm)]
    if texts is None:
        raise InvalidArgumentError("The 'texts' parameter is required with importance='activation': the neurons' "
                                   "activations are measured on them.")
    texts, _ = adapter.split_inputs(list(texts))
    sums = [torch.zeros(b.ffn_in.out_features, dtype=torch.float64) for b in parts]
    tokens = 0
    names = [f"layers.{i}.intermediate" for i in range(len(parts))]
    with torch.inference_mode():
        for start in track(range(0, len(texts), batch_size), description="Neuron activations", enabled=progress):
            inputs = adapter.model_inputs(texts[start:start + batch_size])
            with capture(adapter, names) as cap:
                adapter.run(inputs)
            real = inputs["attention_mask"].bool()
            tokens += int(real.sum())
            for i, name in enumerate(names):
                sums[i] += cap[name][real].abs().sum(0).double().cpu()
    return [(s / max(tokens, 1) * n).numpy() for s, n in zip(sums, out_norm)]


def _lowest(scores: np.ndarray, n_removed: int) -> list[int]:
    """Indices kept after removing the ``n_removed`` lowest scores (ties: the later index goes first)."""
    order = np.lexsort((-np.arange(len(scores)), scores))
    return sorted(int(i) for i in order[n_removed:])


def prune_heads(model: Any, heads_per_layer: int, *, importance: str = "magnitude",
                texts: Sequence[str] | None = None, batch_size: int = 64, progress: bool | None = None) -> ModelAdapter:
    """Remove the ``heads_per_layer`` least important attention heads of every layer.

    Parameters
    ----------
    model : TransformersAdapter or zoo name
        A transformer with BERT-style blocks. Not modified: the result holds a pruned copy.
    heads_per_layer : int >= 1
        Heads removed from each layer; at least one head per layer is kept.
    importance : {"magnitude", "ablation"}, default "magnitude"
        How heads are ranked (:func:`head_scores`); "ablation" measures each head's effect on ``texts``.
    texts : sequence of str, optional
        Required for "ablation".

    Returns
    -------
    ModelAdapter
        The pruned copy; ``.compression[-1]["kept"]`` lists the heads kept per layer (original indices).
        Head indices of the pruned model are renumbered ``0 .. kept - 1``.

    References
    ----------
    Michel, Levy, Neubig. Are sixteen heads really better than one? NeurIPS 2019. Voita, Talbot, Moiseev,
    Sennrich, Titov. Analyzing multi-head self-attention. ACL 2019.
    """
    owner = "prune_heads"
    adapter = working_copy(model, owner=owner)
    _, _, parts = blocks(adapter.module, owner=owner)
    fewest = min(b.n_heads for b in parts)
    n = check_int(heads_per_layer, "heads_per_layer", owner=owner, minimum=1, maximum=fewest - 1)
    scores = head_scores(adapter, importance, texts, batch_size=batch_size, progress=progress)
    kept = [_lowest(s, n) for s in scores]
    remove_heads(adapter.module, kept)
    return record(adapter, {"method": "heads", "value": n, "importance": importance, "kept": kept})


def prune_neurons(model: Any, fraction: float, *, importance: str = "magnitude",
                  texts: Sequence[str] | None = None, batch_size: int = 64, progress: bool | None = None) -> ModelAdapter:
    """Remove the ``fraction`` least important feed-forward neurons of every layer.

    Parameters
    ----------
    model : TransformersAdapter or zoo name
        A transformer with BERT-style blocks. Not modified.
    fraction : float in (0, 1)
        Share of each layer's neurons removed (rounded to whole neurons; at least one is kept).
    importance : {"magnitude", "activation"}, default "magnitude"
        How neurons are ranked (:func:`neuron_scores`).
    texts : sequence of str, optional
        Required for "activation".

    References
    ----------
    Voita, Ferrando, Nalmpantis. Neurons in large language models: dead, n-gram, positional. ACL Findings
    2024. Molchanov, Tyree, Karras, Aila, Kautz. Pruning convolutional neural networks for resource efficient
    inference. ICLR 2017 (ranking units by their contribution).
    """
    owner = "prune_neurons"
    fraction = check_float(fraction, "fraction", owner=owner, minimum=0, maximum=1, exclusive_minimum=True,
                           exclusive_maximum=True)
    adapter = working_copy(model, owner=owner)
    _, _, parts = blocks(adapter.module, owner=owner)
    scores = neuron_scores(adapter, importance, texts, batch_size=batch_size, progress=progress)
    kept = [_lowest(s, min(int(round(fraction * len(s))), len(s) - 1)) for s in scores]
    remove_neurons(adapter.module, kept)
    return record(adapter, {"method": "neurons", "value": fraction, "importance": importance, "kept": kept})

