"""Compressed models on disk: one safetensors file of weights and one JSON file saying how to rebuild the
architecture. Nothing is pickled.

Pruned weights are stored sparsely (the non-zero values and a bitmap of where they are), so that magnitude
pruning saves bytes on disk; int8 weights are stored as int8 with their scales.

Layout of a directory::

    lumos-compressed.json   {"format": ..., "base": "tweets-sentiment", "steps": [...], "class_names": [...]}
    model.safetensors       tensors; a sparse tensor NAME is NAME.values + NAME.bitmap (shape in metadata)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..errors import ModelLoadError, UnsupportedModelError
from ..models import ModelAdapter, ModelSource, register_source
from .quantize import Int8Linear, quantize_module

__all__ = ["save", "load", "is_compressed", "write_weights", "CONFIG_FILE", "WEIGHTS_FILE"]

FORMAT = "lumos.compressed/1"
CONFIG_FILE = "lumos-compressed.json"
WEIGHTS_FILE = "model.safetensors"


def _replay_heads(module: nn.Module, step: dict) -> None:
    from .structured import remove_heads

    remove_heads(module, step["kept"])


def _replay_neurons(module: nn.Module, step: dict) -> None:
    from .structured import remove_neurons

    remove_neurons(module, step["kept"])


def _replay_layers(module: nn.Module, step: dict) -> None:
    from .distill import keep_layers

    keep_layers(module, step["layers"])


#: How each step changes the architecture (weights come from the file afterwards). Magnitude pruning
#: changes values only.
_REPLAY: dict[str, Callable[[nn.Module, dict], None]] = {
    "prune": lambda module, step: None,
    "heads": _replay_heads,
    "neurons": _replay_neurons,
    "distill": _replay_layers,
    "int8": lambda module, step: quantize_module(module, per_channel=step["per_channel"]),
}


def _encode(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, list[int]]]:
    """Write each float tensor sparsely where that takes fewer bytes than dense storage."""
    out, sparse = {}, {}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.is_floating_point() and t.numel() > 0:
            nonzero = t != 0
            nnz = int(nonzero.sum())
            if nnz * t.element_size() + math.ceil(t.numel() / 8) < t.numel() * t.element_size():
                out[f"{name}.values"] = t[nonzero].contiguous()
                bits = np.packbits(nonzero.reshape(-1).numpy())
                out[f"{name}.bitmap"] = torch.from_numpy(bits)
                sparse[name] = list(t.shape)
                continue
        out[name] = t
    return out, sparse


def _decode(stored: dict[str, torch.Tensor], sparse: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    out = {k: v for k, v in stored.items()
           if not (k.endswith((".values", ".bitmap")) and k.rsplit(".", 1)[0] in sparse)}
    for name, shape in sparse.items():
        values = stored[f"{name}.values"]
        n = int(np.prod(shape)) if shape else 1
        where = torch.from_numpy(np.unpackbits(stored[f"{name}.bitmap"].numpy(), count=n).astype(bool))
        dense = torch.zeros(n, dtype=values.dtype)
        dense[where] = values
        out[name] = dense.reshape(shape)
    return out


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor that defines ``module``: its state dict, with each int8 layer as integer weights,
    scales, zero points and bias."""
    int8 = {name: m for name, m in module.named_modules() if isinstance(m, Int8Linear)}
    out = {}
    for key, value in module.state_dict().items():
        if any(key.startswith(prefix + ".") for prefix in int8) or not isinstance(value, torch.Tensor):
            continue
        out[key] = value
    for prefix, m in int8.items():
        scales, zero_points, _ = m.weight_scale()
        out[f"{prefix}.weight_int8"] = m.weight_int8()
        out[f"{prefix}.weight_scale"] = scales
        out[f"{prefix}.weight_zero_point"] = zero_points.to(torch.int32)
        if m.bias() is not None:
            out[f"{prefix}.bias"] = m.bias().detach()
    return out


def write_weights(adapter: ModelAdapter, path: str | Path) -> int:
    """Write the adapter's weights to one safetensors file (sparse where smaller); returns its size in bytes."""
    from safetensors.torch import save_file

    module = adapter.module
    if not isinstance(module, nn.Module):
        raise UnsupportedModelError(f"The {type(adapter).__name__} for {adapter.name!r} holds no PyTorch model to "
                                    "save.")
    from ..engine.files import atomic_path

    stored, sparse = _encode(_tensors(module))
    with atomic_path(path) as tmp:  # a killed run leaves no half-written weights
        save_file(stored, str(tmp), metadata={"lumos.sparse": json.dumps(sparse), "format": FORMAT})
    return Path(path).stat().st_size


def _base_of(adapter: ModelAdapter) -> str:
    """Where the uncompressed architecture comes from: a zoo name or a model directory."""
    from .. import zoo

    card = adapter.card
    # "base": a model read back by load(); "source": a model read from a directory (load_pretrained).
    source = card.get("base") or card.get("source")
    original = card.get("original", adapter.name) if adapter.compression else adapter.name
    if source:
        return str(source)
    if original in zoo.names():
        return original
    raise UnsupportedModelError(f"save() rebuilds a model from its original: a zoo model or a model directory. "
                                f"{adapter.name!r} is neither; save its torch module's state_dict yourself.")


def save(adapter: ModelAdapter, directory: str | Path) -> Path:
    """Write a (compressed) model to ``directory``: :data:`CONFIG_FILE` and :data:`WEIGHTS_FILE`.

    ``lumos.load_model(directory)`` (or :func:`load`) reads it back; the CLI's ``--model`` accepts it.
    """
    base = _base_of(adapter)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_weights(adapter, directory / WEIGHTS_FILE)
    config = {"format": FORMAT, "base": base, "name": adapter.name, "class_names": list(adapter.class_names),
              "steps": [dict(s) for s in adapter.compression]}
    from ..engine.files import write_text_atomic

    write_text_atomic(directory / CONFIG_FILE, json.dumps(config, indent=2))  # last: it marks the model complete
    return directory


def is_compressed(path: str | Path) -> bool:
    """Whether ``path`` is a directory written by :func:`save`."""
    return (Path(path) / CONFIG_FILE).is_file()


def load(directory: str | Path, **adapter_kwargs: Any) -> ModelAdapter:
    """Read a model written by :func:`save`: rebuild the original architecture, replay each step's change
    of structure, then load the stored weights (strictly: every tensor must match)."""
    from safetensors import safe_open

    from ..models import load_model

    directory = Path(directory)
    try:
        config = json.loads((directory / CONFIG_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{str(directory)!r} holds no readable {CONFIG_FILE}: {exc}") from exc
    if config.get("format") != FORMAT:
        raise ModelLoadError(f"{str(directory / CONFIG_FILE)!r} has format {config.get('format')!r}; this lumos reads "
                             f"{FORMAT!r}.")
    unknown = [s.get("method") for s in config["steps"] if s.get("method") not in _REPLAY]
    if unknown:
        raise ModelLoadError(f"{str(directory)!r} was compressed with steps this lumos does not know: {unknown}.")
    adapter = load_model(config["base"], **adapter_kwargs)
    module = adapter.module
    for step in config["steps"]:
        if step["method"] == "int8":
            module.to("cpu")
        _REPLAY[step["method"]](module, step)
    with safe_open(str(directory / WEIGHTS_FILE), framework="pt") as f:
        sparse = json.loads((f.metadata() or {}).get("lumos.sparse", "{}"))
        stored = _decode({k: f.get_tensor(k) for k in f.keys()}, sparse)
    int8 = {name: m for name, m in module.named_modules() if isinstance(m, Int8Linear)}
    for prefix, m in int8.items():
        scales = stored.pop(f"{prefix}.weight_scale")
        m.load_int8(stored.pop(f"{prefix}.weight_int8"), scales, stored.pop(f"{prefix}.weight_zero_point"),
                    per_channel=m.weight_scale()[2], bias=stored.pop(f"{prefix}.bias", None))
    expected = set(_tensors(module)) - {k for p in int8 for k in _tensors(module) if k.startswith(p + ".")}
    missing, extra = expected - set(stored), set(stored) - expected
    if missing or extra:
        raise ModelLoadError(f"The weights in {str(directory / WEIGHTS_FILE)!r} do not fit the rebuilt model: "
                             f"missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}.")
    # The int8 layers already hold their weights; their own state-dict entries are passed back unchanged.
    state = module.state_dict()
    state.update(stored)
    module.load_state_dict(state)
    adapter.compression = tuple(config["steps"])
    adapter.name = config.get("name", adapter.name)
    adapter.card = dict(adapter.card, name=adapter.name, original=config["base"], base=config["base"],
                        compression=" + ".join(_spec(s) for s in adapter.compression), directory=str(directory))
    module.eval()
    return adapter


def _spec(step: dict) -> str:
    from ._common import spec_of

    return spec_of(step)


register_source(ModelSource("compressed", accepts=lambda path: isinstance(path, (str, Path)) and is_compressed(
    Path(path).expanduser()), load=lambda path, **kw: load(Path(path).expanduser(), **kw),
    description=lambda: "a compressed model (lumos.compression.save)", directory=True))
