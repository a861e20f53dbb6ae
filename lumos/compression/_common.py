"""What the compression methods share: the copy they work on, the record of what was done, and the parts of a
BERT-style encoder that structured pruning and distillation cut."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from ..errors import UnsupportedModelError
from ..models import ModelAdapter, as_adapter
from ..models.base import clone_adapter
from ..models.sites import transformer_blocks

__all__ = ["Block", "blocks", "working_copy", "record", "spec_of"]


@dataclass(frozen=True)
class Block:
    """The linear layers of one BERT-style transformer block that structured pruning cuts.

    ``attention`` holds ``query``, ``key`` and ``value`` (each ``heads x head_dim`` outputs, head-major) and
    the ``num_attention_heads`` / ``attention_head_size`` / ``all_head_size`` attributes; ``attention_out``
    mixes the heads back (``heads x head_dim`` inputs); ``ffn_in`` makes the feed-forward neurons and
    ``ffn_out`` reads them.
    """

    attention: nn.Module
    attention_out: nn.Linear
    ffn_in: nn.Linear
    ffn_out: nn.Linear

    @property
    def n_heads(self) -> int:
        return int(self.attention.num_attention_heads)

    @property
    def head_size(self) -> int:
        return int(self.attention.attention_head_size)


def blocks(module: nn.Module, *, owner: str) -> tuple[str, nn.ModuleList, list[Block]]:
    """The encoder's block stack (its path, the ModuleList) and each block's :class:`Block`.

    Raises UnsupportedModelError for a model without BERT-style blocks (``attention.self.{query,key,value}``,
    ``attention.output.dense``, ``intermediate.dense``, ``output.dense``).
    """
    found = transformer_blocks(module)
    parts = []
    if found is not None:
        for block in found[1]:
            try:
                attention = block.get_submodule("attention.self")
                linears = [block.get_submodule(p) for p in ("attention.output.dense", "intermediate.dense",
                                                            "output.dense")]
                for p in ("query", "key", "value"):
                    linears.append(attention.get_submodule(p))
            except AttributeError:
                break
            if not all(isinstance(m, nn.Linear) for m in linears) or not hasattr(attention, "num_attention_heads"):
                break
            parts.append(Block(attention, *linears[:3]))
    if found is None or len(parts) != len(found[1]):
        raise UnsupportedModelError(f"{owner} needs a transformer with BERT-style blocks (attention.self.query/key/"
                                    "value, attention.output.dense, intermediate.dense, output.dense), such as the "
                                    "zoo's tweets-sentiment or a BERT / MiniLM classifier directory.")
    return found[0], found[1], parts


def working_copy(model: Any, *, owner: str) -> ModelAdapter:
    """The adapter for ``model`` and a copy of it whose torch module can be changed freely."""
    adapter = as_adapter(model)
    if adapter.compression and adapter.compression[-1]["method"] == "int8":
        raise UnsupportedModelError(f"{owner} cannot change a model that is already int8-quantized: apply it to "
                                    "the float model, then quantize.")
    return clone_adapter(adapter, owner=owner)


def spec_of(step: Mapping[str, Any]) -> str:
    """The short form of a step, as the CLI writes it: ``prune:0.5``, ``heads:4``, ``int8``."""
    value = step.get("value")
    return step["method"] if value is None else f"{step['method']}:{value:g}"


def record(adapter: ModelAdapter, step: dict[str, Any]) -> ModelAdapter:
    """Append ``step`` to the adapter's compression record, and name the model after it."""
    original = adapter.card.get("original", adapter.name) if adapter.compression else adapter.name
    adapter.compression = tuple(adapter.compression) + (step,)
    adapter.name = f"{original} [{' + '.join(spec_of(s) for s in adapter.compression)}]"
    adapter.card = dict(adapter.card, original=original, name=adapter.name,
                        compression=" + ".join(spec_of(s) for s in adapter.compression))
    module = adapter.module
    if isinstance(module, nn.Module):
        module.eval()
    adapter.forget_model_id()  # the step changed the weights
    return adapter


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """``(parameters, nonzero parameters)`` of a module, int8 weights included (they are not ``parameters()``
    of a quantized layer)."""
    from .quantize import Int8Linear

    total = nonzero = 0
    for t in module.parameters():
        total += t.numel()
        nonzero += int(torch.count_nonzero(t))
    for m in module.modules():
        if isinstance(m, Int8Linear):
            w, b = m.weight_int8(), m.bias()
            total += w.numel() + (b.numel() if b is not None else 0)
            nonzero += int(torch.count_nonzero(w)) + (int(torch.count_nonzero(b)) if b is not None else 0)
    return total, nonzero
