"""Named sites of a torch model and activation capture at them (the one hook mechanism of lumos).

A *site* is a name for one intermediate value of a model: ``layers.3.output`` (the hidden states leaving
transformer block 3), ``layers.3.attention.probs`` (its attention weights, shape (B, heads, T, T)),
``embeddings`` (the hidden states entering block 0). Every module path of a ``torch.nn.Module`` is also a
site (its output, or the first element of a tuple output), which is how convolutional models are reached
(``features.3``).

Hooks exist only inside :func:`capture`'s ``with`` block and are removed when it exits, whether the block
returned or raised. Dataset-level collection (:func:`lumos.representation.collect`) is built on them.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

from ..errors import InvalidArgumentError, InvalidTypeError, UnknownNameError, UnsupportedModelError, check_choice

__all__ = ["Site", "sites", "resolve_sites", "n_layers", "heads_per_layer", "transformer_blocks", "capture", "Capture",
           "module_of"]

#: Names of submodules that compute attention weights, within a transformer block, most specific first.
_ATTENTION_PATHS = ("attention.self", "attention", "self_attn", "attn")


@dataclass(frozen=True)
class Site:
    """Where a named site lives: the module ``path`` and which element of its output (``index``; None: the
    output itself, or its first element when the output is a tuple); with ``input``, the module's first
    input instead of its output (the hidden states entering a decoder's first block)."""

    name: str
    path: str
    index: int | None = None
    description: str = ""
    input: bool = False


def module_of(obj: Any) -> nn.Module:
    """The torch module behind an adapter (its declared :attr:`~lumos.models.ModelAdapter.module`) or a
    module."""
    from .base import ModelAdapter

    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, ModelAdapter) and obj.module is not None:
        return obj.module
    raise InvalidTypeError(f"The 'model' parameter must be a torch.nn.Module or an adapter of one (such as "
                           f"lumos.zoo.load('tweets-sentiment')). Got {type(obj).__name__}.")


def transformer_blocks(module: nn.Module) -> tuple[str, nn.ModuleList] | None:
    """The longest ModuleList whose entries all hold an attention submodule (the encoder's blocks)."""
    best = None
    for path, sub in module.named_modules():
        if isinstance(sub, nn.ModuleList) and len(sub) and all(
                any(_has(block, p) for p in _ATTENTION_PATHS) for block in sub):
            if best is None or len(sub) > len(best[1]):
                best = (path, sub)
    return best


def _has(module: nn.Module, path: str) -> bool:
    try:
        module.get_submodule(path)
    except AttributeError:
        return False
    return True


def sites(model: Any) -> dict[str, Site]:
    """The named sites of a model (or an adapter of one), in forward order.

    For a transformer encoder: ``embeddings``; then per block ``i``: ``layers.i.attention.probs``
    (attention weights (B, heads, T, T)), ``layers.i.attention.output`` (after the attention sublayer,
    (B, T, D)), ``layers.i.intermediate`` (the feed-forward neurons, where the model has them) and
    ``layers.i.output`` (the block's hidden states (B, T, D)). Any module path is accepted by
    :func:`capture` as well, so models without blocks (CNNs) use their module paths.

    A decoder (GPT-2, Llama and their kin: blocks with ``attn`` / ``self_attn`` and ``mlp``) has no embeddings
    module of that kind: its ``embeddings`` site is the input of block 0 (token embeddings, plus position
    embeddings where the model adds them: the residual stream entering the blocks), and
    ``layers.i.mlp.output`` is the MLP sublayer's output (B, T, D) before it is added to the residual
    stream, as ``layers.i.attention.output`` is the attention sublayer's.
    """
    module = module_of(model)
    found = transformer_blocks(module)
    if found is None:
        return {}
    blocks_path, blocks = found
    out: dict[str, Site] = {}
    parent = blocks_path.rsplit(".", 2)[0] if blocks_path.count(".") >= 2 else ""
    for candidate in (f"{parent}.embeddings" if parent else "embeddings", "embeddings"):
        if _has(module, candidate):
            out["embeddings"] = Site("embeddings", candidate, None, "hidden states entering block 0")
            break
    else:
        out["embeddings"] = Site("embeddings", f"{blocks_path}.0", None, "hidden states entering block 0",
                                 input=True)
    for i, block in enumerate(blocks):
        base = f"{blocks_path}.{i}"
        attention = next(p for p in _ATTENTION_PATHS if _has(block, p))
        out[f"layers.{i}.attention.probs"] = Site(f"layers.{i}.attention.probs", f"{base}.{attention}", 1,
                                                  "attention weights (batch, heads, query, key)")
        if attention.endswith(".self"):  # the heads' outputs, before the projection that mixes them
            out[f"layers.{i}.attention.heads"] = Site(f"layers.{i}.attention.heads", f"{base}.{attention}", 0,
                                                      "per-head context (batch, tokens, heads x head_dim)")
        outer = attention.split(".")[0]
        out[f"layers.{i}.attention.output"] = Site(f"layers.{i}.attention.output", f"{base}.{outer}", None,
                                                   "hidden states after the attention sublayer")
        for ffn in ("intermediate", "mlp", "ffn"):
            if _has(block, ffn):
                out[f"layers.{i}.intermediate"] = Site(f"layers.{i}.intermediate", f"{base}.{ffn}", None,
                                                       "feed-forward neurons")
                break
        if _has(block, "mlp"):
            out[f"layers.{i}.mlp.output"] = Site(f"layers.{i}.mlp.output", f"{base}.mlp", None,
                                                 "the MLP sublayer's output, before the residual addition")
        out[f"layers.{i}.output"] = Site(f"layers.{i}.output", base, None, "hidden states leaving the block")
    return out


def heads_per_layer(model: Any) -> list[int]:
    """The number of attention heads of each transformer block (a head-pruned model keeps different heads in
    each block), read from the attention module of each block, else from the model's config."""
    module = module_of(model)
    known = sites(module)
    default = getattr(getattr(module, "config", None), "num_attention_heads", None)
    out = []
    for i in range(n_layers(module)):
        site = known.get(f"layers.{i}.attention.heads") or known[f"layers.{i}.attention.probs"]
        out.append(int(getattr(module.get_submodule(site.path), "num_attention_heads", default)))
    return out


def n_layers(model: Any) -> int:
    """Number of transformer blocks (0 for models without them)."""
    found = transformer_blocks(module_of(model))
    return 0 if found is None else len(found[1])


def resolve_sites(model: Any, names: str | Sequence[str] | None) -> list[Site]:
    """Sites for ``names``: site names, glob-like patterns with ``*`` (``layers.*.output``), module paths, or
    None for every block's output (``embeddings`` and ``layers.i.output``)."""
    module = module_of(model)
    known = sites(module)
    if names is None:
        chosen = [s for n, s in known.items() if n == "embeddings" or n.endswith(".output")
                  and ".attention." not in n and ".mlp." not in n]
        if not chosen:
            raise InvalidArgumentError("The model has no transformer blocks, so there is no default site: pass "
                                       "'sites' as module paths (e.g. 'features.3').")
        return chosen
    if isinstance(names, str):
        names = [names]
    out: list[Site] = []
    paths = dict(module.named_modules())
    for name in names:
        if not isinstance(name, str):
            raise InvalidTypeError(f"The 'sites' parameter must hold site names (str). Got {type(name).__name__}.")
        if "*" in name:
            pattern = re.compile("^" + re.escape(name).replace(r"\*", r"[^.]+") + "$")
            matched = [s for n, s in known.items() if pattern.match(n)]
            if not matched:
                raise UnknownNameError(f"The site pattern {name!r} matches no site. Sites: "
                                       f"{_listing(known)}.")
            out.extend(matched)
        elif name in known:
            out.append(known[name])
        elif name in paths and name:
            out.append(Site(name, name, None, "module output"))
        else:
            raise UnknownNameError(f"The 'sites' parameter must name sites of the model or module paths. "
                                   f"Got {name!r}. Sites: {_listing(known)}.")
    return list(dict.fromkeys(out))


def _listing(known: Mapping[str, Site]) -> str:
    names = list(known)
    return ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "") if names else \
        "(none: use module paths)"


class Capture(Mapping[str, torch.Tensor]):
    """What :func:`capture` recorded: the value of each site at the last forward pass (``cap[name]``), or at
    every pass (``cap.all(name)``) when ``keep="all"``."""

    def __init__(self, chosen: Sequence[Site], keep: str) -> None:
        self.sites = {s.name: s for s in chosen}
        self.keep = keep
        self._values: dict[str, list[torch.Tensor]] = {s.name: [] for s in chosen}

    def _record(self, name: str, value: torch.Tensor) -> None:
        if self.keep == "last":
            self._values[name][:] = [value]
        else:
            self._values[name].append(value)

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self._values:
            raise UnknownNameError(f"No site {name!r} was captured. Captured: {', '.join(self._values)}.")
        if not self._values[name]:
            raise InvalidArgumentError(f"Site {name!r} has no value: the model was not run inside the capture "
                                       "block, or the site is not on its forward path.")
        return self._values[name][-1]

    def all(self, name: str) -> list[torch.Tensor]:
        """Every recorded value of site ``name`` (one per forward pass)."""
        self[name]
        return list(self._values[name])

    def clear(self) -> None:
        for values in self._values.values():
            values.clear()

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _pick(output: Any, site: Site) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        if site.index not in (None, 0):
            raise UnsupportedModelError(f"Site {site.name!r}: module {site.path!r} returns one tensor, not a "
                                        f"tuple with element {site.index}.")
        return output
    if isinstance(output, (tuple, list)):
        value = output[site.index or 0]
    elif isinstance(output, Mapping):  # a transformers ModelOutput: an int index reads its tuple of values
        value = output[site.index or 0]
    else:
        raise UnsupportedModelError(f"Site {site.name!r}: module {site.path!r} returns a "
                                    f"{type(output).__name__}, not a tensor.")
    if value is None:
        raise UnsupportedModelError(
            f"Site {site.name!r}: module {site.path!r} returned None there. Attention weights come back only "
            "with eager attention: load the model with attn_implementation='eager'.")
    return value


@contextlib.contextmanager
def capture(model: Any, names: str | Sequence[str] | None = None, *, detach: bool = True,
            keep: str = "last", edit: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None
            ) -> Iterator[Capture]:
    """Record the values of named sites during forward passes run inside the ``with`` block.

    Parameters
    ----------
    model : torch.nn.Module or adapter
    names : str, sequence of str or None
        Site names (see :func:`sites`), patterns such as ``"layers.*.attention.probs"``, or module paths.
        None: the embeddings and every block's output.
    detach : bool, default True
        Store detached tensors. ``False`` keeps them in the autograd graph, so gradients with respect to
        them can be taken (attention x gradient, Grad-CAM).
    keep : {"last", "all"}, default "last"
        Keep each site's value from the last forward pass only, or from every pass.
    edit : mapping of site name to function, optional
        Replace a site's value by ``f(value)`` in the forward pass (ablation, activation patching). ``f``
        sees the whole batch (B, ...), so each row can be edited differently. The site must be one of
        ``names`` or a site of the model.

    Yields
    ------
    Capture
        A mapping from site name to its recorded tensor.

    Examples
    --------
    >>> with capture(adapter, "layers.*.attention.probs") as cap:        # doctest: +SKIP
    ...     adapter.predict(["the flight was late"])
    >>> cap["layers.5.attention.probs"].shape                              # doctest: +SKIP
    torch.Size([1, 12, 7, 7])
    """
    module = module_of(model)
    keep = check_choice(keep, "keep", ("last", "all"), owner="capture")
    chosen = resolve_sites(module, names)
    edits = dict(edit or {})
    extra = [s for s in resolve_sites(module, list(edits)) if s not in chosen] if edits else []
    result = Capture(chosen, keep)
    recorded = {s.name for s in chosen}
    handles = []
    try:
        for site in [*chosen, *extra]:
            target = module.get_submodule(site.path)

            def hook(_mod, _inputs, output, site=site):
                if site.name in edits:
                    output = _replace(output, site, edits[site.name](_pick(output, site)))
                if site.name in recorded:
                    value = _pick(output, site)
                    result._record(site.name, value.detach() if detach else value)
                return output

            def pre_hook(_mod, args, kwargs, site=site):
                # The first input: hidden states, passed by position (GPT-2, Llama) or by keyword.
                if args:
                    value = args[0]
                elif "hidden_states" in kwargs:
                    value = kwargs["hidden_states"]
                else:
                    raise UnsupportedModelError(f"Site {site.name!r}: module {site.path!r} was called without "
                                                "its hidden states as first argument or 'hidden_states'.")
                if site.name in edits:
                    value = edits[site.name](value)
                    if args:
                        args = (value, *args[1:])
                    else:
                        kwargs = {**kwargs, "hidden_states": value}
                if site.name in recorded:
                    result._record(site.name, value.detach() if detach else value)
                return args, kwargs

            handles.append(target.register_forward_pre_hook(pre_hook, with_kwargs=True) if site.input
                           else target.register_forward_hook(hook))
        yield result
    finally:
        for handle in handles:
            handle.remove()


def _replace(output: Any, site: Site, value: torch.Tensor) -> Any:
    if isinstance(output, torch.Tensor):
        return value
    index = site.index or 0
    if isinstance(output, tuple):
        return output[:index] + (value,) + output[index + 1:]
    if isinstance(output, list):
        return output[:index] + [value] + output[index + 1:]
    output[index] = value  # ModelOutput
    return output


