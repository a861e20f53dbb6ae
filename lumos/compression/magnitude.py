"""Global unstructured magnitude pruning: the smallest weights of the whole model set to zero, permanently."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.nn.utils import prune as torch_prune

from ..errors import InvalidArgumentError, check_float
from ..models import ModelAdapter
from ._common import record, working_copy

__all__ = ["prune_magnitude", "prunable_weights"]

#: Layers whose ``weight`` magnitude pruning may zero. Embeddings and normalisation layers are left alone:
#: an embedding row is a token's whole representation, and LayerNorm gains are few and scale everything.
PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def prunable_weights(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, layer)`` of every layer whose weight is prunable (linear and convolution layers)."""
    return [(name, m) for name, m in module.named_modules() if isinstance(m, PRUNABLE)]


def prune_magnitude(model: Any, sparsity: float) -> ModelAdapter:
    """Zero the ``sparsity`` fraction of smallest-magnitude weights, ranked across every linear and
    convolution layer at once (global pruning), and make the zeros permanent.

    Exactly ``round(sparsity * n)`` of the ``n`` prunable weights are zero afterwards (ties at the threshold
    are broken by position). Biases, embeddings and normalisation layers are not pruned. Zeros stored densely
    save nothing: :func:`lumos.compression.save` writes pruned tensors sparsely (values of the non-zeros and
    a bitmap), which is where the bytes are saved.

    Parameters
    ----------
    model : adapter, zoo name or module
        Not modified: the result holds a pruned copy.
    sparsity : float in [0, 1)

    Returns
    -------
    ModelAdapter
        An adapter of the same kind; ``.compression[-1]`` records the step.

    References
    ----------
    Han, Pool, Tran, Dally. Learning both weights and connections for efficient neural networks. NeurIPS 2015.
    Frankle, Carbin. The lottery ticket hypothesis. ICLR 2019 (global magnitude pruning).
    """
    owner = "prune_magnitude"
    sparsity = check_float(sparsity, "sparsity", owner=owner, minimum=0, maximum=1, exclusive_maximum=True)
    adapter = working_copy(model, owner=owner)
    layers = prunable_weights(adapter.module)
    if not layers:
        raise InvalidArgumentError(f"{owner}: the model has no linear or convolution layer to prune.")
    n = sum(m.weight.numel() for _, m in layers)
    amount = int(round(sparsity * n))
    if amount:
        # PyTorch's own global pruning ranks |w| across the layers and zeroes exactly `amount` weights;
        # `remove` then folds each mask into its weight and drops the pruning hooks.
        torch_prune.global_unstructured([(m, "weight") for _, m in layers], pruning_method=torch_prune.L1Unstructured,
                                        amount=amount)
        for _, m in layers:
            torch_prune.remove(m, "weight")
    zeros = sum(int((m.weight == 0).sum()) for _, m in layers)
    return record(adapter, {"method": "prune", "value": sparsity, "prunable": n, "zeros": zeros})
